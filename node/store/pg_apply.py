"""Apply an import's changes (``node.store.pg_changes``) to the PostgreSQL data tables.

Inside the caller's PostgreSQL transaction, per table with changed key groups:

1. ``COPY`` the groups' rows as they are now into ``_new_<table>`` and as they were
   before the import into ``_old_<table>`` (temporary staging tables);
2. check as a set that PostgreSQL holds exactly the rows before (amended and deleted rows
   exist with the values the import store had, new rows do not exist yet): any difference
   means PostgreSQL missed a publish or was changed by hand, and nothing is applied;
3. ``DELETE`` the groups' rows that are gone and ``INSERT ... SELECT ... ON CONFLICT DO
   UPDATE`` the rest (a table without a primary key replaces each group's rows);
4. once every table is applied, check the foreign keys of the imported tables as sets:
   each new row's parent exists, and no removed parent is still referenced. Primary and
   unique keys are PostgreSQL's own constraints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from fedtrade.node.store.pg_changes import GROUPED, Changes
from fedtrade.node.store.schema import TABLES
from fedtrade.trust.errors import FedtradeError

__all__ = ["DIVERGED", "apply"]

Connection = psycopg.Connection[tuple[Any, ...]]

DIVERGED = ("nothing was imported (neither store changed); copy the whole import store "
            "to PostgreSQL again with `fedtrade-node import --config CONFIG --republish`, "
            "then run this import again")


def _in(key: tuple[str, ...], table: str, stage: str) -> str:
    cols = ", ".join(key)
    return f"({', '.join(f'{table}.{c}' for c in key)}) IN (SELECT {cols} FROM {stage})"


def _stage(pg: Connection, changes: Changes, table: str, columns: list[str]) -> None:
    names = ", ".join(columns)
    for stage, before in ((f"_new_{table}", False), (f"_old_{table}", True)):
        pg.execute(f"CREATE TEMP TABLE {stage} (LIKE {table}) ON COMMIT DROP")
        with pg.cursor().copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in changes.rows(table, before=before):
                copy.write_row(row)


def _check_before(pg: Connection, table: str, key: tuple[str, ...]) -> None:
    cols = ", ".join(key)
    keys = f"(SELECT {cols} FROM _old_{table} UNION SELECT {cols} FROM _new_{table}) AS g"
    groups = f"SELECT * FROM {table} AS t WHERE {_in(key, 't', keys)}"
    row = pg.execute(
        f"SELECT (SELECT count(*) FROM ({groups} EXCEPT ALL SELECT * FROM _old_{table}) a), "
        f"(SELECT count(*) FROM (SELECT * FROM _old_{table} EXCEPT ALL {groups}) b)").fetchone()
    extra, missing = row if row is not None else (0, 0)
    if extra or missing:
        raise FedtradeError(
            f"the PostgreSQL data store does not hold the rows this import changes: in "
            f"{table}, {missing} row(s) the import store had are missing or differ and "
            f"{extra} row(s) it did not have are there (PostgreSQL missed a publish or was "
            f"changed outside the import); {DIVERGED}")


def _apply(pg: Connection, table: str, key: tuple[str, ...], columns: list[str]) -> None:
    names = ", ".join(columns)
    if table in GROUPED:
        pg.execute(f"DELETE FROM {table} AS t WHERE {_in(key, 't', f'_old_{table}')}")
        pg.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _new_{table}")
        return
    gone = " AND ".join(f"n.{c} = o.{c}" for c in key)
    pg.execute(f"DELETE FROM {table} AS t USING _old_{table} AS o WHERE "
               f"{' AND '.join(f't.{c} = o.{c}' for c in key)} AND NOT EXISTS "
               f"(SELECT 1 FROM _new_{table} AS n WHERE {gone})")
    others = [c for c in columns if c not in key]
    update = ("DO NOTHING" if not others else
              "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others))
    pg.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _new_{table} "
               f"ON CONFLICT ({', '.join(key)}) {update}")


def _orphans(tables: tuple[str, ...], changed: set[str]) -> Iterator[tuple[str, str]]:
    """(SQL finding one broken reference, what it means) for each foreign key touched."""
    for child in TABLES.keys() & set(tables):
        for col in TABLES[child].columns:
            ref = col.references
            if ref is not None and child in changed:
                yield (f"SELECT n.{col.name} FROM _new_{child} AS n WHERE NOT EXISTS "
                       f"(SELECT 1 FROM {ref.table} AS p WHERE p.{ref.column} = n.{col.name}) "
                       "LIMIT 1", f"{child}.{col.name} names no row of {ref.table}")
            if ref is not None and ref.table in changed:
                yield (f"SELECT o.{ref.column} FROM _old_{ref.table} AS o WHERE NOT EXISTS "
                       f"(SELECT 1 FROM {ref.table} AS p WHERE p.{ref.column} = o.{ref.column}) "
                       f"AND EXISTS (SELECT 1 FROM {child} AS c WHERE c.{col.name} = "
                       f"o.{ref.column}) LIMIT 1",
                       f"{ref.table} row removed while {child}.{col.name} still names it")


def apply(pg: Connection, changes: Changes, tables: tuple[str, ...]) -> dict[str, int]:
    """Send, check and apply the changed groups of ``tables`` (parents first); return the
    rows sent per changed table (as they are now)."""
    sent = {}
    for table in tables:
        if changes.changed(table):
            columns = list(changes.columns[table])
            _stage(pg, changes, table, columns)
            _check_before(pg, table, changes.keys[table])
            try:
                _apply(pg, table, changes.keys[table], columns)
            except psycopg.errors.IntegrityError as exc:
                raise FedtradeError(
                    f"the PostgreSQL data store refuses this import's rows of {table}: "
                    f"{exc.diag.message_primary} ({exc.diag.message_detail}); it holds rows "
                    f"the import store does not; {DIVERGED}") from None
            row = pg.execute(f"SELECT count(*) FROM _new_{table}").fetchone()
            sent[table] = int(row[0]) if row is not None else 0
    for sql, meaning in _orphans(tables, set(sent)):
        found = pg.execute(sql).fetchone()
        if found is not None:
            raise FedtradeError(f"the PostgreSQL data store would be inconsistent after this "
                                f"import: {meaning} ({found[0]!r}); {DIVERGED}")
    return sent
