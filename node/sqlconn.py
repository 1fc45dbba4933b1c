"""The one thing the state modules need from a database connection: ``execute``.

``sqlite3.Connection`` has it; the PostgreSQL store (``node.statestore.postgres``) wraps
its connections so the same SQL, written with ``?`` placeholders, runs on both.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["SqlConn"]


class SqlConn(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...
