"""The default state store: the node's own SQLite file, one process, one writer.

One serialized writer connection holds the audit chain (its head cached in
memory), the query ids (reserved in memory, written with the audit entry) and
the rate-limit buckets (kept in memory, written with the audit entry).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from fedtrade.node.audit import AuditEntry, AuditLog
from fedtrade.node.ratelimit import RateLimiter, RateRow
from fedtrade.node.replay import ReplayGuard
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore.base import StateStore, StoreError

__all__ = ["SqliteStateStore"]

T = TypeVar("T")


class SqliteStateStore(StateStore):
    backend = "sqlite"

    def __init__(self, database: Path, role: str) -> None:
        super().__init__(database, role)
        self._writer = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        try:
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA synchronous=NORMAL")
            self._writer.execute("PRAGMA busy_timeout=60000")
            self._audit = AuditLog(self._writer)  # reads the head of the chain
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            self._writer.close()
            raise StoreError(f"{database}: cannot read the audit log ({exc}); the store is "
                             "damaged: restore it from backup") from exc
        self._write_lock = threading.Lock()
        self._replay = ReplayGuard()

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
        with self._write_lock:
            self._replay.reserve(self._writer, query_id)

    def record(
        self, entry: AuditEntry, seen: str | None = None, rates: list[RateRow] | None = None
    ) -> None:
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

    def rate_limiter(self) -> RateLimiter:
        """Buckets in memory, starting from those saved before the last shutdown."""
        with self._write_lock:
            rows = self._writer.execute("SELECT requester, kind, level, updated FROM rate_state")
            saved = [(str(r), str(k), float(level), float(when)) for r, k, level, when in rows]
        return RateLimiter(saved=saved)

    def record_release(
        self,
        entry: Callable[[str, str], AuditEntry],
        seen: str | None,
        release: Callable[[SqlConn], tuple[T, str, str]],
        rates: list[RateRow] | None = None,
    ) -> tuple[T, str]:
        with self.write() as conn:
            result, answer_digest, note = release(conn)
            if seen is not None:
                self._replay.persist(conn, seen)
            self._save_rates(conn, rates)
            self._audit.append(conn, entry(answer_digest, note))
        if seen is not None:
            self._replay.release(seen)
        return result, answer_digest

    def audit_head(self) -> tuple[int, str]:
        with self._write_lock:
            return self._audit.head

    def close(self) -> None:
        super().close()
        with self._write_lock:
            self._writer.close()
