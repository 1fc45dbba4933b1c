"""What an import changed in the SQLite store: the rows a publish to PostgreSQL must send.

``track`` runs at the start of the import's write transaction (``Publish.begin``). It
adds TEMP triggers on the data tables (connection-local: the store's schema is not
touched; created inside the transaction, they vanish with a rollback) that note each
key group an INSERT, UPDATE or DELETE is about to touch, and copy that group's rows as
they were before the import's first change to it. A key group is a row (the primary
key), or for ``consignee_parcels``, which has none, every row of one house bill.

Whoever writes the rows (the importer, ``node.store.amend``, the derived tables'
rebuild, whole or per parcel) is seen the same way, so ``changed`` compares, per
touched group, the rows now with the rows before, and returns only the groups whose rows
differ: a rebuild that writes back identical rows sends nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from fedtrade.node.store.columns import SqlValue
from fedtrade.trust.errors import FedtradeError

__all__ = ["GROUPED", "Changes", "key_columns", "track"]

# tables without a primary key, and the columns grouping their rows
_GROUPS = {"consignee_parcels": ("house_bill",)}
GROUPED = frozenset(_GROUPS)
"""The tables whose key groups are replaced whole (they have no primary key)."""


def key_columns(lite: sqlite3.Connection, table: str) -> tuple[str, ...]:
    """The columns naming one group of ``table``'s rows: its primary key, or ``_GROUPS``."""
    columns = lite.execute(f"PRAGMA main.table_info({table})").fetchall()
    key = tuple(name for *_, name, _k, _n, _d, pk in sorted(columns, key=lambda c: c[5]) if pk)
    if key or table in _GROUPS:
        return key or _GROUPS[table]
    raise FedtradeError(f"the store's table {table} has no primary key to publish changes by")


def _on(key: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{c} = {right}.{c}" for c in key)


def _triggers(table: str, key: tuple[str, ...], columns: tuple[str, ...]) -> Iterator[str]:
    """BEFORE triggers noting the group each changed row belongs to, once per group."""
    for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)), ("UPDATE", ("OLD", "NEW"))):
        for row in rows:
            match = " AND ".join(f"{c} = {row}.{c}" for c in key)
            if row == "OLD" and table not in GROUPED:  # the row is its group: no lookup
                before = f"VALUES ({', '.join(f'OLD.{c}' for c in columns)})"
            else:
                before = f"SELECT * FROM main.{table} WHERE {match}"
            yield (
                f"CREATE TEMP TRIGGER _pub_{table}_{event.lower()}_{row.lower()} "
                f"BEFORE {event} ON main.{table} "
                f"WHEN NOT EXISTS (SELECT 1 FROM temp._pub_seen_{table} WHERE {match}) BEGIN "
                f"INSERT INTO _pub_seen_{table} VALUES ({', '.join(f'{row}.{c}' for c in key)}); "
                f"INSERT INTO _pub_old_{table} {before}; END"
            )


def _differs(key: tuple[str, ...], columns: tuple[str, ...], seen: str, old: str,
             table: str) -> str:
    """The keys of ``seen`` whose row differs from before (or appeared, or went): one
    keyed lookup per key on each side, cheaper than comparing the sets whole."""
    differ = [f"(n.{key[0]} IS NULL) != (o.{key[0]} IS NULL)",
              *(f"n.{c} IS NOT o.{c}" for c in columns if c not in key)]
    return (f"SELECT {', '.join(f's.{c}' for c in key)} FROM {seen} AS s "
            f"LEFT JOIN main.{table} AS n ON {_on(key, 'n', 's')} "
            f"LEFT JOIN {old} AS o ON {_on(key, 'o', 's')} WHERE {' OR '.join(differ)}")


@dataclass(frozen=True)
class Changes:
    """The tables tracked on one connection, with their key groups and columns."""

    conn: sqlite3.Connection
    keys: dict[str, tuple[str, ...]]
    columns: dict[str, tuple[str, ...]]

    def changed(self, table: str) -> int:
        """Fill ``temp._pub_changed_<table>`` with the groups whose rows differ from
        before the import; return how many."""
        key, cols = self.keys[table], ", ".join(self.keys[table])
        seen, old = f"temp._pub_seen_{table}", f"temp._pub_old_{table}"
        if table in GROUPED:  # compare each group's rows as sets
            now = f"SELECT t.* FROM main.{table} AS t JOIN {seen} AS s ON {_on(key, 't', 's')}"
            differs = (f"SELECT {cols} FROM ({now} EXCEPT SELECT * FROM {old}) "
                       f"UNION SELECT {cols} FROM (SELECT * FROM {old} EXCEPT {now})")
        else:
            differs = _differs(key, self.columns[table], seen, old, table)
        self.conn.execute(f"DROP TABLE IF EXISTS temp._pub_changed_{table}")
        self.conn.execute(f"CREATE TEMP TABLE _pub_changed_{table} AS {differs}")
        row = self.conn.execute(f"SELECT count(*) FROM temp._pub_changed_{table}").fetchone()
        return int(row[0])

    def rows(self, table: str, *, before: bool) -> Iterator[tuple[SqlValue, ...]]:
        """The rows of the changed groups (after ``changed``), as they are now or as they
        were before the import."""
        source = f"temp._pub_old_{table}" if before else f"main.{table}"
        key = self.keys[table]
        yield from self.conn.execute(
            f"SELECT t.* FROM {source} AS t JOIN temp._pub_changed_{table} AS c "
            f"ON {_on(key, 't', 'c')}")


def track(conn: sqlite3.Connection, tables: tuple[str, ...]) -> Changes:
    """Start noting the changes to ``tables`` on ``conn`` (inside its transaction)."""
    keys = {table: key_columns(conn, table) for table in tables}
    columns = {table: tuple(row[1] for row in conn.execute(f"PRAGMA main.table_info({table})"))
               for table in tables}
    for table, key in keys.items():
        conn.execute(f"CREATE TEMP TABLE _pub_seen_{table} ({', '.join(key)}, "
                     f"PRIMARY KEY ({', '.join(key)})) WITHOUT ROWID")
        conn.execute(f"CREATE TEMP TABLE _pub_old_{table} AS SELECT * FROM main.{table} WHERE 0")
        conn.execute(f"CREATE INDEX temp._pub_old_{table}_key ON _pub_old_{table} "
                     f"({', '.join(key)})")
        for sql in _triggers(table, key, columns[table]):
            conn.execute(sql)
    return Changes(conn, keys, columns)
