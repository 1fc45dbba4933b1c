"""The node's append-only, hash-chained audit log.

Every request the node receives, answered or refused, becomes one row whose
hash covers its fields and the previous row's hash. `verify_chain` recomputes
the chain and names the first row that does not fit, so an edit, a deletion or
a reordering is detected. Triggers (created by the store migrations) also block
UPDATE and DELETE through SQLite itself.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from fedtrade.trust.errors import FedtradeError

__all__ = [
    "GENESIS_HASH",
    "AuditBreakError",
    "AuditEntry",
    "AuditLog",
    "entry_hash",
    "stored_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64


class AuditBreakError(FedtradeError):
    """The audit chain is broken at ``seq``."""

    def __init__(self, seq: int, problem: str) -> None:
        self.seq = seq
        super().__init__(
            f"audit log broken at entry {seq}: {problem}; the log was edited, truncated or "
            "reordered outside the node — keep the database file as evidence and investigate"
        )


@dataclass(frozen=True)
class AuditEntry:
    recorded_at: str
    query_id: str
    requester: str
    purpose: str
    case_id: str
    query_name: str
    param_digest: str
    answer_digest: str
    decision: str
    reason: str


_FIELDS = tuple(AuditEntry.__dataclass_fields__)


def entry_hash(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    body = {"seq": seq, "prev_hash": prev_hash, **{f: getattr(entry, f) for f in _FIELDS}}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class AuditLog:
    """Appends entries through a caller-owned connection (the caller commits)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        row = conn.execute(
            "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self._next_seq: int = row[0] + 1 if row else 1
        self._last_hash: str = row[1] if row else GENESIS_HASH

    @property
    def entries(self) -> int:
        return self._next_seq - 1

    @property
    def head(self) -> tuple[int, str]:
        """(sequence, hash) of the newest entry; read it while holding the write lock."""
        return self._next_seq - 1, self._last_hash

    def append(self, conn: sqlite3.Connection, entry: AuditEntry) -> None:
        """Insert one entry; the caller holds the write lock and commits."""
        seq, prev = self._next_seq, self._last_hash
        digest = entry_hash(seq, entry, prev)
        conn.execute(
            f"INSERT INTO audit_log (seq, {', '.join(_FIELDS)}, prev_hash, entry_hash) "
            f"VALUES ({', '.join('?' * (len(_FIELDS) + 3))})",
            (seq, *(getattr(entry, f) for f in _FIELDS), prev, digest),
        )
        self._next_seq, self._last_hash = seq + 1, digest

    def rollback(self, conn: sqlite3.Connection) -> None:
        """Forget an append whose transaction was rolled back."""
        self.__init__(conn)  # type: ignore[misc]


def _rows(conn: sqlite3.Connection) -> Iterator[tuple[int, AuditEntry, str, str]]:
    cursor = conn.execute(
        f"SELECT seq, {', '.join(_FIELDS)}, prev_hash, entry_hash FROM audit_log ORDER BY rowid"
    )
    for row in cursor:
        yield row[0], AuditEntry(*row[1 : 1 + len(_FIELDS)]), row[-2], row[-1]


def stored_hash(conn: sqlite3.Connection, seq: int) -> str | None:
    """The stored hash of entry ``seq``, or None if the log holds no such entry."""
    row = conn.execute("SELECT entry_hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def verify_chain(conn: sqlite3.Connection) -> int:
    """Check the whole chain; return the number of entries or raise AuditBreakError."""
    expected_seq, prev = 1, GENESIS_HASH
    for seq, entry, stored_prev, stored_hash in _rows(conn):
        if seq != expected_seq:
            raise AuditBreakError(expected_seq, f"expected entry {expected_seq}, found entry {seq}")
        if stored_prev != prev:
            raise AuditBreakError(seq, "its previous-hash does not match the entry before it")
        if entry_hash(seq, entry, prev) != stored_hash:
            raise AuditBreakError(seq, "its content does not match its hash")
        expected_seq, prev = seq + 1, stored_hash
    return expected_seq - 1
