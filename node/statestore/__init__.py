"""The node's request state (replay guard, audit chain, rate limits, privacy budgets).

``open_state_store`` picks the backend the config's ``store`` section names: SQLite in
``node.database`` (default) or PostgreSQL, shared by replicas. ``read_state`` opens it
read-only for the operator commands (``audit verify``, ``budget``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from fedtrade.node.config import NodeConfig
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore import postgres
from fedtrade.node.statestore.base import StateStore, StoreError
from fedtrade.node.statestore.postgres import PostgresStateStore
from fedtrade.node.statestore.sqlite import SqliteStateStore

__all__ = [
    "PostgresStateStore",
    "SqliteStateStore",
    "StateStore",
    "StoreError",
    "open_state_store",
    "read_state",
]


def open_state_store(config: NodeConfig) -> StateStore:
    if config.store.backend == "postgresql":
        return PostgresStateStore(config.database, config.role, config.store.dsn,
                                  data=config.store.data == "postgresql")
    return SqliteStateStore(config.database, config.role)


@contextmanager
def read_state(config: NodeConfig) -> Iterator[SqlConn]:
    """A read-only connection to the node's state; database errors become StoreError."""
    where = (f"PostgreSQL state store ({config.store.dsn_file})"
             if config.store.backend == "postgresql" else str(config.database))
    try:
        if config.store.backend == "postgresql":
            with postgres.read_state(config.store.dsn) as conn:
                yield conn
            return
        if not config.database.exists():
            raise StoreError(f"{config.database} does not exist; has this node ever run?")
        lite = sqlite3.connect(f"{config.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield lite
        finally:
            lite.close()
    except (sqlite3.Error, psycopg.Error) as exc:
        raise StoreError(f"{where}: cannot read the node's state ({str(exc).strip()}); is it "
                         "this node's store? restore it from backup if it is damaged") from exc
