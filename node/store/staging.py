"""Hold the valid rows of one import file in a TEMP table, check them as a set, then insert them.

Row-by-row checks (types, formats, cross-field rules) happen while reading.
The checks that need other rows are done here, each as one SQL statement over
the whole staged file, so a million rows cost a handful of indexed joins
instead of a million lookups from Python:

- a key (primary or unique) repeated within the file;
- a primary key already stored with different values (identical rows are
  fine: they are not inserted again);
- a unique key already used by another stored row;
- a foreign key that matches neither a stored row nor a row staged from the
  parent's file in the same import.

In a quarantine import the rows refused so far are kept in a second TEMP table
(``refuse``, ``drop``), so a child row whose parent was refused is refused for
that reason, once, instead of as a foreign-key error.

The TEMP tables live in SQLite's temporary database of the importing
connection, so staging never writes to or locks the store itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence

from fedtrade.node.store.columns import SqlValue
from fedtrade.node.store.schema import TableSpec

__all__ = ["CHUNK_ROWS", "Stage"]

CHUNK_ROWS = 5000

Finding = tuple[int, str | None, str]
"""(line, field, problem) found by a set-based check."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _label(key: Sequence[str]) -> str:
    return key[0] if len(key) == 1 else "(" + ", ".join(key) + ")"


def _show(values: Sequence[SqlValue]) -> str:
    return repr(values[0]) if len(values) == 1 else "(" + ", ".join(map(repr, values)) + ")"


def _join(key: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(c)} = {right}.{_q(c)}" for c in key)


class Stage:
    """The staged rows of one file for table ``spec`` (TEMP table ``name``)."""

    def __init__(
        self, conn: sqlite3.Connection, spec: TableSpec, index: int, path_name: str = ""
    ) -> None:
        self.conn = conn
        self.spec = spec
        self.path_name = path_name
        self.name = f"_stage_{index}"
        self.rows = 0
        columns = ", ".join(f"{_q(col.name)} {col.type.sql}" for col in spec.columns)
        conn.execute(f"CREATE TEMP TABLE {self.name} (_line INTEGER NOT NULL, {columns})")
        marks = ", ".join("?" * (len(spec.columns) + 1))
        self._insert = f"INSERT INTO temp.{self.name} VALUES ({marks})"
        self.refused = f"_refused_{index}"
        conn.execute(f"CREATE TEMP TABLE {self.refused} AS SELECT * FROM {self.name} WHERE 0")

    def refuse(self, rows: Sequence[tuple[SqlValue, ...]]) -> None:
        """Remember refused rows, given as (line, value or None, ...), for their children."""
        self.conn.executemany(f"INSERT INTO temp.{self.refused} VALUES "
                              f"({', '.join('?' * (len(self.spec.columns) + 1))})", rows)

    def drop(self, lines: Sequence[int]) -> None:
        """Move the staged rows of ``lines`` to the refused rows."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS _dropped (line INTEGER PRIMARY KEY)")
        self.conn.execute("DELETE FROM temp._dropped")
        self.conn.executemany("INSERT OR IGNORE INTO temp._dropped VALUES (?)",
                              ((line,) for line in lines))
        picked = "_line IN (SELECT line FROM temp._dropped)"
        self.conn.execute(
            f"INSERT INTO temp.{self.refused} SELECT * FROM temp.{self.name} WHERE {picked}")
        self.conn.execute(f"DELETE FROM temp.{self.name} WHERE {picked}")

    def add(self, rows: Sequence[tuple[SqlValue, ...]]) -> None:
        """Stage rows given as (line, value, value, ...)."""
        self.conn.executemany(self._insert, rows)
        self.rows += len(rows)

    def index(self) -> None:
        """Index the staged keys; call once all rows are staged, before checking."""
        for number, key in enumerate(self.spec.keys):
            columns = ", ".join(map(_q, key))
            self.conn.execute(
                f"CREATE INDEX temp.{self.name}_key{number} ON {self.name} ({columns}, _line)"
            )

    def findings(self, staged: Mapping[str, Stage]) -> Iterator[Finding]:
        """Every set-based problem; ``staged`` maps table names to this import's stages."""
        for key in self.spec.keys:
            yield from self._repeated(key)
        yield from self._changed()
        for key in self.spec.unique:
            yield from self._taken(key)
        yield from self._dangling(staged)

    def _repeated(self, key: Sequence[str]) -> Iterator[Finding]:
        columns = ", ".join(map(_q, key))
        picked = ", ".join(f"s.{_q(c)}" for c in key)
        sql = (
            f"SELECT s._line, d.first, {picked} FROM temp.{self.name} AS s "
            f"JOIN (SELECT {columns}, min(_line) AS first FROM temp.{self.name} "
            f"GROUP BY {columns} HAVING count(*) > 1) AS d ON {_join(key, 's', 'd')} "
            "WHERE s._line > d.first ORDER BY s._line"
        )
        label = _label(key)
        for line, first, *values in self.conn.execute(sql):
            yield line, label, (
                f"{_show(values)} appears more than once in this file (first at line {first}; "
                f"expected each {label} only once)"
            )

    def _changed(self) -> Iterator[Finding]:
        pk = self.spec.primary_key
        names = self.spec.column_names
        others = [c for c in names if c not in pk]
        differs = " OR ".join(f"t.{_q(c)} IS NOT s.{_q(c)}" for c in others) or "0"
        both = ", ".join([*(f"s.{_q(c)}" for c in names), *(f"t.{_q(c)}" for c in names)])
        sql = (
            f"SELECT s._line, {both} FROM temp.{self.name} AS s "
            f"JOIN main.{_q(self.spec.name)} AS t ON {_join(pk, 't', 's')} "
            f"WHERE {differs} ORDER BY s._line"
        )
        width = len(names)
        for line, *values in self.conn.execute(sql):
            new, old = values[:width], values[width:]
            changed = [name for name, a, b in zip(names, new, old, strict=True) if a != b]
            key = [new[names.index(c)] for c in pk]
            yield line, _label(pk), (
                f"{_show(key)} is already in the store with different values "
                f"({', '.join(changed)}); fix the file or remove the row"
            )

    def _taken(self, key: Sequence[str]) -> Iterator[Finding]:
        pk = self.spec.primary_key
        same_row = " AND ".join(f"t.{_q(c)} IS s.{_q(c)}" for c in pk)
        picked = ", ".join([*(f"s.{_q(c)}" for c in key), *(f"t.{_q(c)}" for c in pk)])
        sql = (
            f"SELECT s._line, {picked} FROM temp.{self.name} AS s "
            f"JOIN main.{_q(self.spec.name)} AS t ON {_join(key, 't', 's')} "
            f"WHERE NOT ({same_row}) ORDER BY s._line"
        )
        for line, *values in self.conn.execute(sql):
            mine, theirs = values[: len(key)], values[len(key) :]
            yield line, _label(key), (
                f"{_show(mine)} is already used by {_label(pk)} {_show(theirs)} in the store "
                f"(expected each {_label(key)} only once)"
            )

    def _dangling(self, staged: Mapping[str, Stage]) -> Iterator[Finding]:
        for col in self.spec.columns:
            fk = col.references
            if fk is None:
                continue
            target = _q(fk.column)
            sql = (
                f"SELECT s._line, s.{_q(col.name)} FROM temp.{self.name} AS s "
                f"WHERE s.{_q(col.name)} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM main.{_q(fk.table)} AS p WHERE p.{target} = s.{_q(col.name)})"
            )
            parent = staged.get(fk.table)
            refused = "NULL"
            if parent is not None:
                sql += (
                    f" AND NOT EXISTS (SELECT 1 FROM temp.{parent.name} AS p "
                    f"WHERE p.{target} = s.{_q(col.name)})"
                )
                refused = (f"(SELECT min(r._line) FROM temp.{parent.refused} AS r "
                           f"WHERE r.{target} = s.{_q(col.name)})")
            sql = sql.replace("SELECT s._line, ", f"SELECT s._line, {refused}, ", 1)
            for line, parent_line, value in self.conn.execute(sql + " ORDER BY s._line"):
                if parent_line is not None:
                    assert parent is not None
                    yield line, col.name, (
                        f"{value!r} is the {fk.column} of a {fk.table} row refused in this "
                        f"import ({parent.path_name}:{parent_line}); fix that row first"
                    )
                    continue
                yield line, col.name, (
                    f"{value!r} is not in {fk.table} (expected the {fk.column} of a row in "
                    f"{fk.table}: import that row first or fix the value)"
                )

    def insert(self, first: int, count: int) -> int:
        """Insert the staged rows first .. first+count-1 not yet stored; return how many.

        Call only once ``findings`` came back empty: then the only rows whose key
        is already stored are identical to the stored row, and OR IGNORE leaves
        exactly those alone (without a second lookup per row).
        """
        names = ", ".join(map(_q, self.spec.column_names))
        sql = (
            f"INSERT OR IGNORE INTO main.{_q(self.spec.name)} ({names}) SELECT {names} "
            f"FROM temp.{self.name} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
        )
        return self.conn.execute(sql, (first, first + count - 1)).rowcount
