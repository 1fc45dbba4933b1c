"""How much a node may send back for one query, checked as its answer arrives.

A node's signature makes its answer accountable, not small: a hostile or broken
node could stream valid chunks without end, or more rows than it was asked
about. A batch query asks about n shipments and gets one row each, so its answer
may hold n rows in ceil(n / CHUNK_ROWS) chunks (at least one) and a few KiB a
row; other answers (consignee totals, statistics) are held to the coordinator's
configured ``max_answer_rows`` and ``max_answer_bytes``. Every message is also
capped by the channel's receive limit. A stream that exceeds a bound is cut off
at once (the call cancelled), and the node's answer is refused with an error
naming the node and the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.limits import CHUNK_ROWS
from fedtrade.protos import query_pb2
from fedtrade.trust.errors import VerificationError

__all__ = ["MAX_ROW_BYTES", "AnswerLimit", "answer_limit"]

# Generous per row of a per-shipment answer (about 20 indicator fields of a few bytes).
MAX_ROW_BYTES = 4096
_SLACK_BYTES = 64 * 1024  # signature, checkpoint, column names of each chunk


@dataclass(frozen=True)
class AnswerLimit:
    """At most ``rows`` rows in at most ``chunks`` chunks and ``bytes`` payload bytes."""

    rows: int
    chunks: int
    bytes: int
    what: str  # how the bound came about, for the error message

    @classmethod
    def of(cls, rows: int, max_bytes: int, what: str) -> AnswerLimit:
        return cls(rows, max(1, -(-rows // CHUNK_ROWS)), max_bytes, what)

    def check(self, node_id: str, chunks: int, rows: int, size: int) -> None:
        """Raise VerificationError if ``chunks``, ``rows`` or ``size`` received so far exceed it."""
        for name, got, bound in (("chunks", chunks, self.chunks), ("rows", rows, self.rows),
                                 ("bytes", size, self.bytes)):
            if got > bound:
                raise VerificationError(
                    f"{node_id} sent more than {bound} {name} for {self.what}; its answer "
                    "was cut off and is not used (a faulty or hostile node: tell its operator)")


def _asked(query: query_pb2.Query) -> int | None:
    """Shipments a batch query asks about, None for a query without a batch parameter."""
    spec = CATALOGUE.get(query.query_name)
    for param in spec.params if spec else ():
        if param.batch and param.name in query.params:
            value = query.params[param.name]
            kind = value.WhichOneof("kind")
            if kind == "table":
                return value.table.row_count
            if kind == "texts":
                return len(value.texts.values)
            if kind == "list":
                return len(value.list.values)
    return None


def answer_limit(query: query_pb2.Query, *, max_rows: int, max_bytes: int) -> AnswerLimit:
    """The bound on the answer to ``query``: its batch size, or the configured maxima."""
    asked = _asked(query)
    if asked is None:
        return AnswerLimit.of(max_rows, max_bytes,
                              f"a {query.query_name} answer (screening.max_answer_rows/_bytes)")
    return AnswerLimit.of(asked, min(max_bytes, asked * MAX_ROW_BYTES + _SLACK_BYTES),
                          f"{asked} shipments asked")
