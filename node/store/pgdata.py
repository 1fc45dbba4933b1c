"""The data tables on PostgreSQL, for nodes whose replicas answer from one shared store.

Import stays as it is (``node.store.importer``: reading, per-row and set checks,
quarantine, amendments, the derived tables' rebuild, all in the node's SQLite file);
``publish`` then copies the store's data tables into PostgreSQL, inside that import's
SQLite transaction: each table goes through ``COPY`` into a staging table and
``INSERT ... SELECT`` into its PostgreSQL table, all in one PostgreSQL transaction that
commits before the SQLite one. A failure on either side leaves both stores as they
were (the SQLite transaction rolls back); readers keep answering from the previous
rows until the commit (MVCC). Every publish copies every data table whole, so a
PostgreSQL store that missed an import (or a new release's schema) is caught up by
the next one.

The PostgreSQL tables are made from the SQLite schema itself (``PRAGMA table_info``
and its indexes), types mapped one to one (INTEGER: bigint, REAL: double precision,
TEXT: text, BLOB: bytea), so both stores hold the same values and the queries the same
answers; dates stay ISO text. A change of that schema (a new release) drops and
recreates the tables in the same transaction; the digest of the DDL in force is kept
in ``fedtrade_data_schema``.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg

from fedtrade.node.config import StoreSettings
from fedtrade.node.store.schema import table_specs
from fedtrade.trust.errors import FedtradeError

__all__ = ["check_role", "data_tables", "ddl", "publish", "publisher", "stored_role"]

Connection = psycopg.Connection[tuple[Any, ...]]

_DERIVED = ("parcel_indicators", "consignee_parcels")
_TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
_LOCK = 0x66656474_0004  # one publisher at a time (two imports into one store)


def data_tables(role: str) -> tuple[str, ...]:
    """The tables a ``role`` node's queries read: the imported ones, the import log (the
    privacy ledger's cache key) and the derived tables (``node.store.indicators``)."""
    return (*(spec.name for spec in table_specs(role)), "import_log", *_DERIVED)


def _table_ddl(lite: sqlite3.Connection, table: str) -> str:
    columns = lite.execute(f"PRAGMA table_info({table})").fetchall()
    if not columns:
        raise FedtradeError(f"the SQLite store has no table {table}; run the import again")
    defs = [f"{name} {_TYPES[kind.upper()]}{' NOT NULL' if notnull else ''}"
            for _, name, kind, notnull, _default, _pk in columns]
    key = [name for *_, name, _k, _n, _d, pk in sorted(columns, key=lambda c: c[5]) if pk]
    if key:
        defs.append(f"PRIMARY KEY ({', '.join(key)})")
    out = [f"CREATE TABLE {table} ({', '.join(defs)});"]
    for _, index, unique, origin, _partial in lite.execute(f"PRAGMA index_list({table})"):
        if origin == "pk":
            continue
        names = [row[2] for row in lite.execute(f"PRAGMA index_info({index})")]
        kind = "UNIQUE INDEX" if unique else "INDEX"
        out.append(f"CREATE {kind} {index} ON {table} ({', '.join(names)});")
    return "\n".join(out)


def ddl(lite: sqlite3.Connection, role: str) -> str:
    """The PostgreSQL DDL of a ``role`` store's data tables, read from its SQLite schema."""
    return "\n".join(_table_ddl(lite, table) for table in data_tables(role))


def _columns(lite: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]


def stored_role(pg: Connection) -> str | None:
    """The role whose data the database holds; None before the first publish."""
    row = pg.execute("SELECT to_regclass('fedtrade_data_schema') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return None
    stored = pg.execute("SELECT role FROM fedtrade_data_schema").fetchone()
    return None if stored is None else str(stored[0])


def check_role(pg: Connection, role: str) -> None:
    """FedtradeError when the database holds another role's data."""
    stored = stored_role(pg)
    if stored is not None and stored != role:
        raise FedtradeError(f"this PostgreSQL database holds the data of a {stored} node, not "
                            f"a {role}; give each node its own database")


def _ensure_schema(pg: Connection, lite: sqlite3.Connection, role: str) -> None:
    """Create the tables, or recreate them when the SQLite schema changed."""
    schema = ddl(lite, role)
    digest = hashlib.sha256(schema.encode()).hexdigest()
    check_role(pg, role)
    pg.execute("CREATE TABLE IF NOT EXISTS fedtrade_data_schema "
               "(role text PRIMARY KEY, ddl_sha256 text NOT NULL)")
    row = pg.execute("SELECT ddl_sha256 FROM fedtrade_data_schema").fetchone()
    if row is not None and row[0] == digest:
        return
    for table in data_tables(role):
        pg.execute(f"DROP TABLE IF EXISTS {table}")
    pg.execute(schema.encode())
    pg.execute("INSERT INTO fedtrade_data_schema VALUES (%s, %s) ON CONFLICT (role) "
               "DO UPDATE SET ddl_sha256 = excluded.ddl_sha256", (role, digest))


def _copy_table(pg: Connection, lite: sqlite3.Connection, table: str) -> None:
    columns = ", ".join(_columns(lite, table))
    stage = f"_stage_{table}"
    pg.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
    with pg.cursor().copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in lite.execute(f"SELECT {columns} FROM {table}"):
            copy.write_row(row)
    pg.execute(f"DELETE FROM {table}")
    pg.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")


def publish(lite: sqlite3.Connection, role: str, dsn: str) -> None:
    """Copy the data tables of ``lite`` (as its open transaction sees them) into the
    PostgreSQL database of ``dsn``, in one transaction; FedtradeError when it fails."""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10,
                             application_name="fedtrade-import") as pg:
            pg.execute("SET jit = off")
            with pg.transaction():  # BEGIN ... COMMIT
                pg.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                _ensure_schema(pg, lite, role)
                for table in data_tables(role):
                    _copy_table(pg, lite, table)
                for table in data_tables(role):
                    pg.execute(f"ANALYZE {table}")
    except psycopg.Error as exc:
        raise FedtradeError(
            f"cannot publish the import to the PostgreSQL data store: "
            f"{str(exc).strip().splitlines()[0]}; "
            "nothing was imported (neither store changed); check the server and the DSN's "
            "rights, then run the import again") from None


def publisher(role: str, store: StoreSettings) -> Callable[[sqlite3.Connection], None] | None:
    """What an import runs before it commits: the publish of a node whose data is on
    PostgreSQL (``store.data``), else nothing."""
    if store.data != "postgresql":
        return None
    return functools.partial(publish, role=role, dsn=store.dsn)
