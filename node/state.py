"""The node's open resources: its store connections, its audit log and its key.

Refusals before authentication are only counted here (``refusals``) and reach
the audit log aggregated, once per interval and at shutdown. The node signs a
checkpoint of its audit head at start, every ``CHECKPOINT_SECONDS`` while it
answers and at shutdown; answers carry the latest, and each one is appended to
the checkpoint file next to the database (``checkpoint_file``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from fedtrade.node.audit import AuditEntry, AuditLog
from fedtrade.node.config import NodeConfig
from fedtrade.node.enumeration import EnumerationAlarm
from fedtrade.node.metrics import NodeMetrics
from fedtrade.node.ratelimit import RateLimiter, RateRow
from fedtrade.node.refusals import RefusalTally
from fedtrade.node.replay import ReplayGuard
from fedtrade.node.store import open_store
from fedtrade.protocol.checkpoints import sign_checkpoint
from fedtrade.protocol.envelope_files import envelope_line
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.keys import SigningKey

__all__ = ["CHECKPOINT_SECONDS", "NodeDatabase", "NodeState", "checkpoint_file"]

CHECKPOINT_SECONDS = 60.0


def checkpoint_file(database: Path) -> Path:
    """Where a node appends the audit checkpoints it signs: next to its database."""
    return database.with_name(database.name + ".checkpoints.jsonl")


T = TypeVar("T")


class NodeDatabase:
    """One serialized writer connection (audit, replay) and per-thread read-only readers."""

    def __init__(self, path: Path, role: str) -> None:
        open_store(path, role).close()  # create or upgrade the schema, then use plain sqlite3
        self.path = path
        self._writer = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=NORMAL")
        self._writer.execute("PRAGMA busy_timeout=60000")
        self._write_lock = threading.Lock()
        self._audit = AuditLog(self._writer)
        self._replay = ReplayGuard()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction, committed on success and rolled back on error."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("ROLLBACK")
                self._audit.rollback(self._writer)
                raise
            self._writer.execute("COMMIT")

    def reserve_query_id(self, query_id: str) -> None:
        """Claim a query id for the request being answered; ReplayError if seen before."""
        with self._write_lock:
            self._replay.reserve(self._writer, query_id)

    def record(
        self, entry: AuditEntry, seen: str | None = None, rates: list[RateRow] | None = None
    ) -> None:
        """Append the audit entry, persist the reserved query id (hex) and the changed
        rate-limit state, in one commit."""
        try:
            with self.write() as conn:
                if seen is not None:
                    self._replay.persist(conn, seen)
                self._save_rates(conn, rates)
                self._audit.append(conn, entry)
        finally:
            if seen is not None:
                self._replay.release(seen)

    @staticmethod
    def _save_rates(conn: sqlite3.Connection, rates: list[RateRow] | None) -> None:
        if rates:
            conn.executemany("INSERT OR REPLACE INTO rate_state (requester, kind, level, updated) "
                             "VALUES (?, ?, ?, ?)", rates)

    def rate_rows(self) -> list[RateRow]:
        """The rate-limit state saved before the last shutdown."""
        with self._write_lock:
            rows = self._writer.execute("SELECT requester, kind, level, updated FROM rate_state")
            return [(str(r), str(k), float(level), float(when)) for r, k, level, when in rows]

    def record_release(
        self,
        entry: Callable[[str, str], AuditEntry],
        seen: str | None,
        release: Callable[[sqlite3.Connection], tuple[T, str, str]],
        rates: list[RateRow] | None = None,
    ) -> tuple[T, str]:
        """Run ``release`` (budget debit, signing) and append its audit entry in one commit.

        ``release`` returns the answer, its digest and a note; ``entry(digest, note)``
        makes the audit entry. When ``release`` raises, nothing is written and the query
        id stays reserved for the refusal's own ``record``.
        """
        with self.write() as conn:
            result, answer_digest, note = release(conn)
            if seen is not None:
                self._replay.persist(conn, seen)
            self._save_rates(conn, rates)
            self._audit.append(conn, entry(answer_digest, note))
        if seen is not None:
            self._replay.release(seen)
        return result, answer_digest

    @property
    def audit_entries(self) -> int:
        return self._audit.entries

    def audit_head(self) -> tuple[int, str]:
        """(sequence, hash) of the newest committed audit entry."""
        with self._write_lock:
            return self._audit.head

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection: queries can never write to the store."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._write_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        with self._write_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._writer.close()


@dataclass
class NodeState:
    """Everything a request handler needs; the config may be swapped on reload."""

    config: NodeConfig
    signing_key: SigningKey
    store: NodeDatabase
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    metrics: NodeMetrics | None = None
    clock: Callable[[], float] = field(default=time.time)
    refusals: RefusalTally = field(default_factory=RefusalTally)
    alarm: EnumerationAlarm = field(default_factory=EnumerationAlarm)
    checkpoint: Envelope | None = None  # the latest signed audit checkpoint
    _checkpoint_signed: float = field(default=float("-inf"), repr=False)

    @classmethod
    def open(cls, config: NodeConfig) -> NodeState:
        store = NodeDatabase(config.database, config.role)
        state = cls(
            config=config,
            signing_key=SigningKey.from_file(config.signing_key),
            store=store,
            rate_limiter=RateLimiter(saved=store.rate_rows()),
        )
        state.sign_checkpoint()
        return state

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._checkpoint_signed >= CHECKPOINT_SECONDS

    def sign_checkpoint(self) -> Envelope:
        """Sign the audit head, keep it for the answers and append it to the checkpoint file."""
        self._checkpoint_signed = time.monotonic()
        sequence, entry_hash = self.store.audit_head()
        envelope = sign_checkpoint(self.signing_key, self.config.node_id, sequence, entry_hash,
                                   datetime.fromtimestamp(self.clock(), UTC))
        path = checkpoint_file(self.config.database)
        try:
            with path.open("a", encoding="ascii") as out:
                out.write(envelope_line(envelope) + "\n")
        except OSError as exc:
            raise FedtradeError(
                f"{path}: cannot append the audit checkpoint: {exc.strerror}; the node needs "
                "write access next to its database") from exc
        self.checkpoint = envelope
        return envelope

    def flush_refusals(self) -> None:
        """Write the aggregated refusals before authentication counted so far."""
        for entry in self.refusals.drain():
            self.store.record(entry)

    def close(self) -> None:
        try:
            self.flush_refusals()
            self.sign_checkpoint()
        finally:
            self.store.close()
