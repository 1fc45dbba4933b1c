"""The state store on PostgreSQL: any number of node processes (replicas) share it.

- Replay guard: the id is the primary key of ``query_ids``; ``INSERT ... ON CONFLICT
  DO NOTHING RETURNING`` claims it and commits at once, so exactly one replica wins a
  duplicate. A replica that dies before answering leaves the id used (fails closed).
- Audit chain: appended under a transaction-scoped advisory lock, taken last and held
  only for read-head, hash, insert and commit (two round trips: BEGIN, lock and head
  read in one, insert and COMMIT in the other); a killed replica's transaction rolls
  back whole and its lock goes with its session.
- Rate limits: each bucket is a row, changed under its row lock (taken by an upsert)
  in its own short transaction, so replicas share one allowance.
- Privacy budget: the debit and its audit entry commit together while holding the
  budget lock (taken before the audit lock), so replicas cannot overspend.

The state SQL is shared with SQLite and written with ``?`` placeholders; ``_Qmark``
turns them into psycopg's ``%s``. Every session runs with ``jit = off`` (JIT only adds
compile time to these short statements).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from fedtrade.node.audit import GENESIS_HASH, INSERT_SQL, AuditEntry, entry_row, read_head
from fedtrade.node.queries.spec import POSTGRESQL
from fedtrade.node.ratelimit import Bucket, RateLimiter, RateRow
from fedtrade.node.replay import replay_error
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore.base import StateStore, StoreError
from fedtrade.node.statestore.pg_schema import migrate
from fedtrade.node.store.pgdata import check_role, require_utf8, stored_role
from fedtrade.trust.errors import FedtradeError

__all__ = ["PostgresStateStore", "connect", "read_state"]

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

_AUDIT_LOCK = 0x66656474_0002
_BUDGET_LOCK = 0x66656474_0003
# Statements without parameters may share one message (each gets its own snapshot, so
# the head is read after the lock is granted).
_LOCK_AND_HEAD = (f"BEGIN; SELECT pg_advisory_xact_lock({_AUDIT_LOCK}); "
                  "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")


class _Qmark:
    """A psycopg connection that takes the ``?`` placeholders of the shared state SQL."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), parameters)


def connect(dsn: str, *, read_only: bool = False) -> Connection:
    """A session with ``jit = off``; StoreError (naming host and reason) when it fails."""
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10,
                               application_name="fedtrade-node")
        require_utf8(conn)
        conn.execute("SET jit = off")
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        # psycopg's message names host and port, never the password
        raise StoreError(f"cannot use the PostgreSQL state store: {str(exc).strip()}; check "
                         "that the server runs, the DSN file and the network policy") from None
    return conn


class _PgBuckets:
    """Rate-limit buckets as rows, each change a transaction of two round trips: BEGIN and
    the upsert that locks the row and returns it; the update and COMMIT."""

    def __init__(self, store: PostgresStateStore) -> None:
        self._store = store

    def peek(self, key: tuple[str, str]) -> Bucket | None:
        with self._store.session() as conn:
            row = conn.execute("SELECT level, updated FROM rate_state WHERE requester = %s "
                               "AND kind = %s", key).fetchone()
        return None if row is None else Bucket(float(row[0]), float(row[1]))

    def update(self, key: tuple[str, str], new: Bucket, change: Callable[[Bucket], T]) -> T:
        with self._store.session() as conn:
            client = psycopg.ClientCursor(conn)  # client-side binding: several statements
            client.execute(
                "BEGIN; INSERT INTO rate_state (requester, kind, level, updated) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (requester, kind) "
                "DO UPDATE SET level = rate_state.level RETURNING level, updated",
                (*key, new.level, new.updated))
            try:
                client.nextset()
                level, updated = client.fetchone() or (new.level, new.updated)
                bucket = Bucket(float(level), float(updated))
                result = change(bucket)
                client.execute("UPDATE rate_state SET level = %s, updated = %s "
                               "WHERE requester = %s AND kind = %s; COMMIT",
                               (bucket.level, bucket.updated, *key))
            except BaseException:
                _rollback(conn)
                raise
        return result

    def changed(self) -> list[RateRow]:
        return []  # every change is already committed


def _rollback(conn: Connection) -> None:
    if not conn.closed:
        conn.execute("ROLLBACK")


class PostgresStateStore(StateStore):
    backend = "postgresql"

    def __init__(self, database: Path, role: str, dsn: str, *, data: bool = False) -> None:
        super().__init__(database, role)
        self._dsn = dsn
        self._data = data
        self._sessions = threading.local()
        self._readers_local = threading.local()
        self._open: list[Connection] = []
        self._open_lock = threading.Lock()
        # connect and migrate now: a wrong DSN or missing rights fail at start
        with self.session() as conn:
            try:
                migrate(conn)
            except psycopg.Error as exc:
                raise StoreError(
                    f"cannot create or upgrade the state schema in PostgreSQL: "
                    f"{str(exc).strip()}; the DSN's user needs the right to create tables "
                    "in its database (or run the node once as a user who has it)") from None
            if data:
                _check_data(conn, role)

    def _session(self) -> Connection:
        conn: Connection | None = getattr(self._sessions, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self._dsn)
            self._sessions.conn = conn
            with self._open_lock:
                self._open.append(conn)
        return conn

    @contextmanager
    def session(self) -> Iterator[Connection]:
        """This thread's session; a lost connection is closed, replaced next time."""
        conn = self._session()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise StoreError(f"the PostgreSQL state store failed: {str(exc).strip()}; the "
                             "request was not recorded, retry it with a new query id") from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """This thread's session in a transaction."""
        with self.session() as conn, conn.transaction():
            yield conn

    def reserve_query_id(self, query_id: str) -> None:
        with self.session() as conn:  # one autocommitted statement
            claimed = conn.execute(
                "INSERT INTO query_ids (query_id) VALUES (%s) ON CONFLICT DO NOTHING "
                "RETURNING 1", (bytes.fromhex(query_id),)).fetchone()
        if claimed is None:
            raise replay_error(query_id)

    @staticmethod
    def _append(conn: Connection, entry: AuditEntry) -> None:
        """Append inside the caller's transaction (after what it did under other locks)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
        qmark = _Qmark(conn)
        qmark.execute(INSERT_SQL, entry_row(read_head(qmark), entry))

    def record(
        self, entry: AuditEntry, seen: str | None = None, rates: list[RateRow] | None = None
    ) -> None:
        # ``seen`` was committed by reserve_query_id, ``rates`` by the buckets
        with self.session() as conn:
            cursor = conn.execute(_LOCK_AND_HEAD)
            try:
                while cursor.nextset():
                    pass
                row = cursor.fetchone()
                head = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)
                # client-side binding: the insert and the COMMIT travel in one message
                psycopg.ClientCursor(conn).execute(
                    INSERT_SQL.replace("?", "%s") + "; COMMIT", entry_row(head, entry))
            except BaseException:
                _rollback(conn)
                raise

    def record_release(
        self,
        entry: Callable[[str, str], AuditEntry],
        seen: str | None,
        release: Callable[[SqlConn], tuple[T, str, str]],
        rates: list[RateRow] | None = None,
    ) -> tuple[T, str]:
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_BUDGET_LOCK,))
            result, answer_digest, note = release(_Qmark(conn))
            self._append(conn, entry(answer_digest, note))
        return result, answer_digest

    @contextmanager
    def ledger(self) -> Iterator[SqlConn]:
        with self.session() as conn:
            yield _Qmark(conn)

    def data(self) -> tuple[SqlConn, str]:
        """With ``data``: this thread's read-only session on the PostgreSQL data tables."""
        if not self._data:
            return super().data()
        session: _DataSession | None = getattr(self._readers_local, "session", None)
        if session is None or session.conn.closed:
            session = _DataSession(connect(self._dsn, read_only=True))
            self._readers_local.session = session
            with self._open_lock:
                self._open.append(session.conn)
        return session, POSTGRESQL

    def audit_head(self) -> tuple[int, str]:
        with self.session() as conn:
            return read_head(_Qmark(conn))

    def rate_limiter(self) -> RateLimiter:
        return RateLimiter(buckets=_PgBuckets(self))

    def check(self) -> str | None:
        try:
            with self.session() as conn:
                conn.execute("SELECT 1 FROM audit_log LIMIT 1").fetchall()
        except (StoreError, psycopg.Error) as exc:
            return f"PostgreSQL state store unusable: {str(exc).strip()}"
        return None

    def close(self) -> None:
        super().close()
        with self._open_lock:
            for conn in self._open:
                conn.close()
            self._open.clear()


class _DataSession:
    """A read-only session on the data tables; a lost connection is closed (replaced on
    the next request) and reported as StoreError."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = None, /) -> Any:
        try:
            return self.conn.execute(sql, parameters)
        except psycopg.OperationalError as exc:
            self.conn.close()
            raise StoreError(f"the PostgreSQL data store failed: "
                             f"{str(exc).strip().splitlines()[0]}; retry the request with a "
                             "new query id") from None


def _check_data(conn: Connection, role: str) -> None:
    """The data tables must be there, a ``role`` node's (published by an import)."""
    try:
        check_role(conn, role)
    except FedtradeError as exc:
        raise StoreError(str(exc)) from None
    if stored_role(conn) is None:
        raise StoreError("store.data is postgresql but no data was imported into this "
                         "PostgreSQL database yet; run fedtrade-node import (once, on any "
                         "host with this config) before serve")


@contextmanager
def read_state(dsn: str) -> Iterator[SqlConn]:
    """A read-only session for the ``audit verify`` and ``budget`` commands."""
    conn = connect(dsn, read_only=True)
    try:
        yield _Qmark(conn)
    finally:
        conn.close()
