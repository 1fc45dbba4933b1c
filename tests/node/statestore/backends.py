"""The two state-store backends, opened the same way for one abstract test suite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fedtrade.node.audit import AuditEntry
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore import PostgresStateStore, SqliteStateStore, StateStore
from fedtrade.node.statestore.postgres import read_state

ROLE = "marketplace"


@dataclass(frozen=True)
class Backend:
    name: str
    database: Path  # the data file (both backends) and the SQLite state
    dsn: str = ""  # PostgreSQL only

    def open(self) -> StateStore:
        if self.name == "postgresql":
            return PostgresStateStore(self.database, ROLE, self.dsn)
        return SqliteStateStore(self.database, ROLE)

    @contextmanager
    def read(self) -> Iterator[SqlConn]:
        """A separate connection, as an auditor (``audit verify``) opens one."""
        if self.name == "postgresql":
            with read_state(self.dsn) as conn:
                yield conn
            return
        lite = sqlite3.connect(self.database)
        try:
            yield lite
        finally:
            lite.close()


def entry(n: int, decision: str = "answered") -> AuditEntry:
    return AuditEntry(
        recorded_at=f"2026-12-01T12:00:{n % 60:02d}Z", query_id=f"{n:032x}", requester="cbp",
        purpose="TARGETING", case_id="CASE-1", query_name="seller_flags",
        param_digest="p" * 64, answer_digest="a" * 64, decision=decision, reason="")
