"""What a node's state store does, whichever database holds it.

The state is what requests change: the replay guard, the audit chain, the rate
limits and the privacy ledger. The data the queries read (imported shipments)
is in the SQLite file ``node.database``, or with PostgreSQL state optionally in the
same PostgreSQL database (``store.data``, ``node.store.pgdata``); ``data`` hands out
read-only connections to wherever it is, ``reader`` to the SQLite file.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from fedtrade.node.audit import AuditEntry
from fedtrade.node.queries.spec import SQLITE
from fedtrade.node.ratelimit import RateLimiter, RateRow
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.store import open_store
from fedtrade.trust.errors import FedtradeError

__all__ = ["StateStore", "StoreError"]

T = TypeVar("T")


class StoreError(FedtradeError):
    """The state store cannot be reached or used."""


class StateStore(ABC):
    """The node's state; thread-safe. Subclasses keep the state in SQLite or PostgreSQL."""

    backend: str

    def __init__(self, database: Path, role: str) -> None:
        open_store(database, role).close()  # create or upgrade the schema, then use sqlite3
        self.path = database
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    @abstractmethod
    def reserve_query_id(self, query_id: str) -> None:
        """Claim a query id for the request being answered; ReplayError if seen before."""

    @abstractmethod
    def record(
        self, entry: AuditEntry, seen: str | None = None, rates: list[RateRow] | None = None
    ) -> None:
        """Append the audit entry, persist the reserved query id (hex) and the changed
        rate-limit state, in one commit."""

    @abstractmethod
    def record_release(
        self,
        entry: Callable[[str, str], AuditEntry],
        seen: str | None,
        release: Callable[[SqlConn], tuple[T, str, str]],
        rates: list[RateRow] | None = None,
    ) -> tuple[T, str]:
        """Run ``release`` (budget debit, signing) and append its audit entry in one commit.

        ``release`` returns the answer, its digest and a note; ``entry(digest, note)``
        makes the audit entry. When ``release`` raises, nothing is written and the query
        id stays reserved for the refusal's own ``record``.
        """

    @abstractmethod
    def audit_head(self) -> tuple[int, str]:
        """(sequence, hash) of the newest committed audit entry."""

    @property
    def audit_entries(self) -> int:
        return self.audit_head()[0]

    @abstractmethod
    def rate_limiter(self) -> RateLimiter:
        """A rate limiter whose buckets this store keeps."""

    def check(self) -> str | None:
        """None while the state store is usable, else what is wrong (for health checks)."""
        return None

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection to the data: queries can never write to it."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def ledger(self) -> Iterator[SqlConn]:
        """A connection that reads the privacy ledger where this store keeps it (the early
        budget check and cached answers; the debit checks again under its lock)."""
        yield self.reader()

    def data(self) -> tuple[SqlConn, str]:
        """This thread's read-only connection to the data tables, and its SQL dialect
        (``node.queries.spec``)."""
        return self.reader(), SQLITE

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
