"""The data tables on PostgreSQL, for nodes whose replicas answer from one shared store.

Import stays as it is (``node.store.importer``: reading, per-row and set checks,
quarantine, amendments, the derived tables' rebuild, all in the node's SQLite file,
the import store); the import's ``Publisher`` then publishes to PostgreSQL inside that
import's SQLite transaction, in one PostgreSQL transaction that commits before the
SQLite one. A failure on either side leaves both stores as they were (the SQLite
transaction rolls back); readers keep answering from the previous rows until the
commit (MVCC).

A publish sends what the import changed (``node.store.pg_changes`` finds it,
``node.store.pg_apply`` checks and applies it). It copies the whole store instead
(``COPY`` into a staging table, ``INSERT ... SELECT``) the first time, after a change
of the schema, and when asked (``--republish``, ``publish``). A generation, the import
store's random id and a counter, is kept on both sides (``pg_publish`` in SQLite,
``fedtrade_data_schema`` in PostgreSQL): an import onto a database at another
generation (a lost publish, a restored store, another store's data) is refused.

The PostgreSQL tables are made from the SQLite schema itself (``PRAGMA table_info``
and its indexes), types mapped one to one (INTEGER: bigint, REAL: double precision,
TEXT: text, BLOB: bytea), so both stores hold the same values and the queries the same
answers; dates stay ISO text. A change of that schema (a new release) drops and
recreates the tables in the same transaction; the digest of the DDL in force is kept
in ``fedtrade_data_schema``.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from fedtrade.node.config import StoreSettings
from fedtrade.node.store import pg_apply, pg_changes
from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.pg_apply import DIVERGED
from fedtrade.node.store.pg_changes import Changes
from fedtrade.node.store.schema import table_specs
from fedtrade.trust.errors import ConfigError, FedtradeError

__all__ = [
    "Generation",
    "Published",
    "Publisher",
    "check_role",
    "data_tables",
    "ddl",
    "publish",
    "publisher",
    "republish",
    "require_utf8",
    "stored_role",
]

Connection = psycopg.Connection[tuple[Any, ...]]

_DERIVED = ("parcel_indicators", "consignee_parcels")
_TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
_LOCK = 0x66656474_0004  # one publisher at a time (two imports into one store)
_LOCAL = "pg_publish"  # the import store's side of the generation


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
    for _, index, unique, origin, partial in lite.execute(f"PRAGMA index_list({table})"):
        if origin == "pk":
            continue
        names = [row[2] for row in lite.execute(f"PRAGMA index_info({index})")]
        kind = "UNIQUE INDEX" if unique else "INDEX"
        where = f" WHERE {_predicate(lite, index)}" if partial else ""
        out.append(f"CREATE {kind} {index} ON {table} ({', '.join(names)}){where};")
    return "\n".join(out)


def _predicate(lite: sqlite3.Connection, index: str) -> str:
    """A partial index's condition, as its CREATE INDEX in the SQLite schema states it (the
    store's own DDL: a plain comparison both dialects read alike)."""
    (sql,) = lite.execute("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?",
                          (index,)).fetchone()
    return str(sql).rpartition(" WHERE ")[2]


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


@dataclass(frozen=True)
class Generation:
    """Which publish a store is at: the import store's random id and a counter, kept on
    both sides (SQLite ``pg_publish``, PostgreSQL ``fedtrade_data_schema``)."""

    store_id: str
    number: int


@dataclass(frozen=True)
class Published:
    """What one publish did: the whole store copied, or the rows sent per changed table."""

    whole: bool
    rows: Mapping[str, int]
    generation: Generation


def _local(lite: sqlite3.Connection) -> Generation | None:
    """The generation the import store is at (creating its table); None before its first
    publish."""
    lite.execute(f"CREATE TABLE IF NOT EXISTS main.{_LOCAL} (store_id TEXT NOT NULL, "
                 "generation INTEGER NOT NULL, published_at TEXT NOT NULL) STRICT")
    row = lite.execute(f"SELECT store_id, generation FROM main.{_LOCAL}").fetchone()
    return None if row is None else Generation(str(row[0]), int(row[1]))


def _remote(pg: Connection) -> Generation | None:
    """The generation PostgreSQL holds (after ``_ensure_schema``); None before the first
    publish of a release that keeps one."""
    row = pg.execute("SELECT store_id, generation FROM fedtrade_data_schema").fetchone()
    if row is None or row[1] is None:
        return None
    return Generation(str(row[0]), int(row[1]))


def _ensure_schema(pg: Connection, lite: sqlite3.Connection, role: str) -> bool:
    """Create the tables, or recreate them (empty) when the SQLite schema changed; True
    when they were (re)created."""
    schema = ddl(lite, role)
    digest = hashlib.sha256(schema.encode()).hexdigest()
    pg.execute("CREATE TABLE IF NOT EXISTS fedtrade_data_schema (role text PRIMARY KEY, "
               "ddl_sha256 text NOT NULL, store_id text, generation bigint)")
    pg.execute("ALTER TABLE fedtrade_data_schema ADD COLUMN IF NOT EXISTS store_id text, "
               "ADD COLUMN IF NOT EXISTS generation bigint")  # made by an earlier release
    row = pg.execute("SELECT ddl_sha256 FROM fedtrade_data_schema").fetchone()
    if row is not None and row[0] == digest:
        return False
    for table in data_tables(role):
        pg.execute(f"DROP TABLE IF EXISTS {table}")
    pg.execute(schema.encode())
    pg.execute("INSERT INTO fedtrade_data_schema (role, ddl_sha256) VALUES (%s, %s) "
               "ON CONFLICT (role) DO UPDATE SET ddl_sha256 = excluded.ddl_sha256", (role, digest))
    return True


def _copy_table(pg: Connection, lite: sqlite3.Connection, table: str) -> int:
    columns = ", ".join(_columns(lite, table))
    stage = f"_stage_{table}"
    pg.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
    rows = 0
    with pg.cursor().copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in lite.execute(f"SELECT {columns} FROM main.{table}"):
            copy.write_row(row)
            rows += 1
    pg.execute(f"DELETE FROM {table}")
    pg.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")
    pg.execute(f"ANALYZE {table}")
    return rows


def _advance(pg: Connection, lite: sqlite3.Connection, local: Generation | None,
             remote: Generation | None) -> Generation:
    """Record the next generation on both sides (SQLite first: it commits last)."""
    number = max(local.number if local else 0, remote.number if remote else 0) + 1
    new = Generation(local.store_id if local else uuid.uuid4().hex, number)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lite.execute(f"DELETE FROM main.{_LOCAL}")
    lite.execute(f"INSERT INTO main.{_LOCAL} VALUES (?, ?, ?)", (new.store_id, number, now))
    pg.execute("UPDATE fedtrade_data_schema SET store_id = %s, generation = %s",
               (new.store_id, number))
    return new


def _diverged(local: Generation | None, remote: Generation) -> str | None:
    if local is None or local.store_id != remote.store_id:
        return (f"the PostgreSQL data store holds the data another import store published "
                f"(store {remote.store_id}, publish {remote.number}), not this one's; point "
                "store.dsn_file at this node's own database, or replace its data with this "
                f"store's: {DIVERGED}")
    if local.number != remote.number:
        return (f"the PostgreSQL data store is at publish {remote.number} of this import "
                f"store, which is at publish {local.number}: a publish was lost or made "
                f"from a copy of the store, so the two differ; {DIVERGED}")
    return None


def require_utf8(conn: Connection) -> None:
    """FedtradeError (and ``conn`` closed) unless the database is in UTF8: in SQL_ASCII, text
    comes back as bytes, so applied migrations look missing and names never match."""
    encoding = conn.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        database = conn.info.dbname
        conn.close()
        raise FedtradeError(
            f"the PostgreSQL database {database!r} uses the encoding {encoding}; fedtrade "
            "needs UTF8: create the database with `createdb --encoding=UTF8 "
            "--template=template0` (or in a cluster made by `initdb --encoding=UTF8`)")


def _publish(lite: sqlite3.Connection, role: str, dsn: str, changes: Changes | None,
             whole: bool) -> Published:
    """Publish inside one PostgreSQL transaction: the whole store when ``whole``, when
    nothing was tracked or when PostgreSQL holds no publish of this release yet, else the
    tracked ``changes`` once PostgreSQL is known to be at this store's last publish."""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10,
                             application_name="fedtrade-import") as pg:
            require_utf8(pg)
            pg.execute("SET jit = off")
            with pg.transaction():  # BEGIN ... COMMIT
                pg.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                check_role(pg, role)
                # all in one transaction: a refusal below undoes a recreated schema too
                recreated = _ensure_schema(pg, lite, role)
                local, remote = _local(lite), _remote(pg)
                problem = None if whole or remote is None else _diverged(local, remote)
                if problem is not None:
                    raise FedtradeError(problem)
                copy = whole or changes is None or recreated or remote is None
                if copy:
                    rows = {table: _copy_table(pg, lite, table) for table in data_tables(role)}
                else:
                    assert changes is not None
                    rows = pg_apply.apply(pg, changes, data_tables(role))
                return Published(copy, rows, _advance(pg, lite, local, remote))
    except psycopg.Error as exc:
        raise FedtradeError(
            f"cannot publish the import to the PostgreSQL data store: "
            f"{str(exc).strip().splitlines()[0]}; "
            "nothing was imported (neither store changed); check the server and the DSN's "
            "rights, then run the import again") from None


def publish(lite: sqlite3.Connection, role: str, dsn: str) -> Published:
    """Copy the data tables of ``lite`` (as its open transaction sees them) whole into the
    PostgreSQL database of ``dsn``, in one transaction; FedtradeError when it fails."""
    return _publish(lite, role, dsn, None, whole=True)


@dataclass
class Publisher:
    """The publish an import runs (``node.store.importer.Publish``): ``begin`` starts
    tracking the import's changes, unless this store was never published (the first
    publish copies it whole); the call sends them. ``whole`` copies the whole store
    instead (``--republish``). ``last`` is what the last call did."""

    role: str
    dsn: str
    whole: bool = False
    last: Published | None = None
    _changes: Changes | None = field(default=None, repr=False)

    def begin(self, conn: sqlite3.Connection) -> None:
        tracked = not self.whole and _local(conn) is not None
        self._changes = pg_changes.track(conn, data_tables(self.role)) if tracked else None

    def __call__(self, conn: sqlite3.Connection) -> None:
        self.last = _publish(conn, self.role, self.dsn, self._changes, self.whole)


def publisher(role: str, store: StoreSettings, *, whole: bool = False) -> Publisher | None:
    """What an import runs around its write transaction: the publish of a node whose data
    is on PostgreSQL (``store.data``), else nothing. ConfigError when ``whole`` is asked
    of a node whose data is not on PostgreSQL."""
    if store.data == "postgresql":
        return Publisher(role, store.dsn, whole)
    if whole:
        raise ConfigError("--republish applies to a node whose data is on PostgreSQL "
                          "(store.data: postgresql)")
    return None


def republish(db_path: Path, role: str, store: StoreSettings) -> Published:
    """Copy the whole import store at ``db_path`` to PostgreSQL (recovery after a failed
    or lost publish), in one transaction on each side."""
    push = publisher(role, store, whole=True)
    assert push is not None
    db = open_store(db_path, role)
    try:
        with db.ensure_autocommit_on():
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                push(db.conn)
            except BaseException:
                db.conn.execute("ROLLBACK")
                raise
            db.conn.execute("COMMIT")
    finally:
        db.close()
    assert push.last is not None
    return push.last
