"""The node's append-only, hash-chained audit log.

Every request the node receives, answered or refused, becomes one row whose
hash covers its fields and the previous row's hash. `verify_chain` recomputes
the chain and names the first row that does not fit, so an edit, a deletion or
a reordering is detected. Triggers (created by the store migrations) also block
UPDATE and DELETE (and TRUNCATE, on PostgreSQL) through the database itself.

The SQL here runs on SQLite and, through ``node.statestore.postgres``, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from fedtrade.node.sqlconn import SqlConn
from fedtrade.trust.errors import FedtradeError

__all__ = [
    "GENESIS_HASH",
    "INSERT_SQL",
    "AuditBreakError",
    "AuditEntry",
    "AuditLog",
    "canonical_json",
    "entry_hash",
    "entry_row",
    "insert_entry",
    "read_head",
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


def canonical_json(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    """What an entry's hash covers: its fields, ``seq`` and ``prev_hash`` as sorted, compact,
    ASCII-only JSON (the definition; ``_canonical`` writes the same text faster)."""
    body = {"seq": seq, "prev_hash": prev_hash, **{f: getattr(entry, f) for f in _FIELDS}}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# the text keys of ``canonical_json`` in sorted order, each with the text before its value
# ("seq" sorts last)
_TEXT_KEYS = sorted(("prev_hash", *_FIELDS))
assert max(_TEXT_KEYS) < "seq"
_ORDERED = tuple((("{" if i == 0 else ",") + f'"{key}":', key) for i, key in enumerate(_TEXT_KEYS))
_quote = json.encoder.encode_basestring_ascii  # the escaping json.dumps does with ensure_ascii


def _canonical(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    fields = entry.__dict__
    parts = []
    for prefix, key in _ORDERED:
        value = prev_hash if key == "prev_hash" else fields[key]
        if type(value) is not str:  # only ever read from a tampered database
            return canonical_json(seq, entry, prev_hash)
        parts.append(prefix + _quote(value))
    if type(seq) is not int:
        return canonical_json(seq, entry, prev_hash)
    return "".join(parts) + f',"seq":{seq}}}'


def entry_hash(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(_canonical(seq, entry, prev_hash).encode("ascii")).hexdigest()


def read_head(conn: SqlConn) -> tuple[int, str]:
    """(sequence, hash) of the newest entry, (0, GENESIS_HASH) for an empty log."""
    row = conn.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


INSERT_SQL = (f"INSERT INTO audit_log (seq, {', '.join(_FIELDS)}, prev_hash, entry_hash) "
              f"VALUES ({', '.join('?' * (len(_FIELDS) + 3))})")


def entry_row(head: tuple[int, str], entry: AuditEntry) -> tuple[object, ...]:
    """The parameters of ``INSERT_SQL`` for ``entry`` after ``head``; the new head is
    (row[0], row[-1])."""
    seq, prev = head[0] + 1, head[1]
    return (seq, *(getattr(entry, f) for f in _FIELDS), prev, entry_hash(seq, entry, prev))


def insert_entry(conn: SqlConn, head: tuple[int, str], entry: AuditEntry) -> tuple[int, str]:
    """Insert ``entry`` after ``head`` inside the caller's transaction; return the new head."""
    row = entry_row(head, entry)
    conn.execute(INSERT_SQL, row)
    return int(str(row[0])), str(row[-1])


class AuditLog:
    """Appends entries through a caller-owned connection (the caller commits); keeps the head
    in memory, so only one writer may append (the SQLite store's write lock)."""

    def __init__(self, conn: SqlConn) -> None:
        self._head = read_head(conn)

    @property
    def entries(self) -> int:
        return self._head[0]

    @property
    def head(self) -> tuple[int, str]:
        """(sequence, hash) of the newest entry; read it while holding the write lock."""
        return self._head

    def append(self, conn: SqlConn, entry: AuditEntry) -> None:
        """Insert one entry; the caller holds the write lock and commits."""
        self._head = insert_entry(conn, self._head, entry)

    def rollback(self, conn: SqlConn) -> None:
        """Forget an append whose transaction was rolled back."""
        self._head = read_head(conn)


def _rows(conn: SqlConn) -> Iterator[tuple[int, AuditEntry, str, str]]:
    cursor = conn.execute(
        f"SELECT seq, {', '.join(_FIELDS)}, prev_hash, entry_hash FROM audit_log ORDER BY seq"
    )
    for row in cursor:
        yield row[0], AuditEntry(*row[1 : 1 + len(_FIELDS)]), row[-2], row[-1]


def stored_hash(conn: SqlConn, seq: int) -> str | None:
    """The stored hash of entry ``seq``, or None if the log holds no such entry."""
    row = conn.execute("SELECT entry_hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def verify_chain(conn: SqlConn) -> int:
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
