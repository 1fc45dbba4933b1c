"""How a node runs a catalogue query: the input a query runs on and the table it returns.

The declarations (who answers, parameters, output fields, disclosure class) are
the shared contract in ``fedtrade.protocol.catalogue``; a node binds a ``Run``
to each of them by name (``fedtrade.node.catalogue``). A query runs
parameterized SQL on a read-only connection, computing only the output fields
the requester may see. The connection is the SQLite store's, or with ``dialect``
"postgresql" a PostgreSQL session whose statements run in read-only transactions
(``node.store.pgdata``); each query writes its SQL for both, with the same answers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.sqlconn import SqlConn
from fedtrade.protocol.tables import PyValue

__all__ = ["POSTGRESQL", "SQLITE", "Execution", "ResultTable", "Run", "band"]

SQLITE, POSTGRESQL = "sqlite", "postgresql"


@dataclass(frozen=True)
class ResultTable:
    columns: tuple[str, ...]
    rows: Sequence[tuple[PyValue, ...]]


@dataclass(frozen=True)
class Execution:
    """Everything a query needs to run: validated input, the fields to compute, settings."""

    conn: SqlConn
    role: str
    params: Mapping[str, PyValue]
    fields: tuple[str, ...]
    query_id: bytes
    settings: QuerySettings
    # digest of the attested manifest blocks the question carries (linkage token keys)
    attestation: bytes = b""
    # Privacy loss an aggregate answer may spend (from the requester's grant); None otherwise.
    epsilon: float | None = None
    # SQLITE: ``conn`` is sqlite3's (named :params); POSTGRESQL: psycopg's (%(params)s)
    dialect: str = SQLITE


Run = Callable[[Execution], ResultTable]


def band(value: float | None, edges: Sequence[float], unit: str = "") -> str | None:
    """Label ``value`` with the band it falls in, e.g. edges (1, 2) -> '<1', '1-2', '>=2'."""
    if value is None:
        return None
    if value < edges[0]:
        return f"<{edges[0]:g}{unit}"
    for low, high in itertools.pairwise(edges):
        if value < high:
            return f"{low:g}-{high:g}{unit}"
    return f">={edges[-1]:g}{unit}"
