"""The node's request state (replay guard, audit chain, rate limits, privacy budgets).

``open_state_store`` picks the backend the config's ``store`` section names: SQLite in
``node.database`` (default) or PostgreSQL, shared by replicas. ``read_state`` opens it
read-only for the operator commands (``audit verify``, ``budget``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fedtrade.node.config import NodeConfig
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore.base import StateStore, StoreError
from fedtrade.node.statestore.sqlite import SqliteStateStore
from fedtrade.node.store.migrations import check_regular, check_store

if TYPE_CHECKING:
    from fedtrade.node.statestore.postgres import PostgresStateStore

__all__ = [
    "PostgresStateStore",
    "SqliteStateStore",
    "StateStore",
    "StoreError",
    "open_state_store",
    "read_state",
]


def __getattr__(name: str) -> object:
    # psycopg is imported only by a PostgreSQL node: ``PostgresStateStore`` on first use
    if name == "PostgresStateStore":
        from fedtrade.node.statestore.postgres import PostgresStateStore

        return PostgresStateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_state_store(config: NodeConfig) -> StateStore:
    if config.store.backend == "postgresql":
        from fedtrade.node.statestore.postgres import PostgresStateStore

        return PostgresStateStore(config.database, config.role, config.store.dsn,
                                  data=config.store.data == "postgresql")
    return SqliteStateStore(config.database, config.role)


@contextmanager
def read_state(config: NodeConfig) -> Iterator[SqlConn]:
    """A read-only connection to the node's state; database errors become StoreError."""
    where = (f"PostgreSQL state store ({config.store.dsn_file})"
             if config.store.backend == "postgresql" else str(config.database))
    if config.store.backend == "postgresql":
        import psycopg

        from fedtrade.node.statestore import postgres

        try:
            with postgres.read_state(config.store.dsn) as conn:
                yield conn
        except psycopg.Error as exc:
            raise _unreadable(where, exc) from exc
        return
    try:
        if not config.database.exists():
            raise StoreError(f"{config.database} does not exist; has this node ever run?")
        check_regular(config.database)
        lite = sqlite3.connect(f"{config.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            check_store(lite, config.database, config.role)
            yield lite
        finally:
            lite.close()
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise _unreadable(where, exc) from exc


def _unreadable(where: str, exc: Exception) -> StoreError:
    # a damaged file's text may not be UTF-8: sqlite3 then raises on decoding its message
    reason = "text that is not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc).strip()
    return StoreError(f"{where}: cannot read the node's state ({reason}); is it "
                      "this node's store? restore it from backup if it is damaged")
