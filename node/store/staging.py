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

Each staged row keeps its version (``_version``, NULL when it has none); a
stage with any version leaves its key checks and its writing to
``node.store.amend``.

The TEMP tables live in SQLite's temporary database of the importing
connection, so staging never writes to or locks the store itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence

from fedtrade.node.store.columns import SqlValue
from fedtrade.node.store.schema import TableSpec

__all__ = ["CHUNK_ROWS", "Finding", "Stage", "join", "label", "quote", "show"]

CHUNK_ROWS = 5000

Finding = tuple[int, str | None, str]
"""(line, field, problem) found by a set-based check."""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def label(key: Sequence[str]) -> str:
    return key[0] if len(key) == 1 else "(" + ", ".join(key) + ")"


def show(values: Sequence[SqlValue]) -> str:
    return repr(values[0]) if len(values) == 1 else "(" + ", ".join(map(repr, values)) + ")"


def join(key: Sequence[str], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{quote(c)} = {right}.{quote(c)}" for c in key)


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
        self.versioned = False
        """Whether any staged row has a version: then ``node.store.amend`` checks and writes."""
        columns = ", ".join(f"{quote(col.name)} {col.type.sql}" for col in spec.columns)
        conn.execute(f"CREATE TEMP TABLE {self.name} "
                     f"(_line INTEGER NOT NULL, {columns}, _version INTEGER)")
        self._marks = ", ".join("?" * (len(spec.columns) + 2))
        self.refused = f"_refused_{index}"
        conn.execute(f"CREATE TEMP TABLE {self.refused} AS SELECT * FROM {self.name} WHERE 0")

    def refuse(self, rows: Sequence[tuple[SqlValue, ...]]) -> None:
        """Remember refused rows, given as (line, value or None, ..., version), for children."""
        self.conn.executemany(f"INSERT INTO temp.{self.refused} VALUES ({self._marks})", rows)

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
        """Stage rows given as (line, value, value, ..., version or None)."""
        self.conn.executemany(f"INSERT INTO temp.{self.name} VALUES ({self._marks})", rows)
        self.rows += len(rows)

    def index(self) -> None:
        """Index the staged keys; call once all rows are staged, before checking."""
        for number, key in enumerate(self.spec.keys):
            columns = ", ".join(map(quote, key))
            self.conn.execute(
                f"CREATE INDEX temp.{self.name}_key{number} ON {self.name} ({columns}, _line)"
            )
        self.versioned = bool(self.conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM temp.{self.name} WHERE _version IS NOT NULL)"
        ).fetchone()[0])

    def findings(self, staged: Mapping[str, Stage]) -> Iterator[Finding]:
        """Every set-based problem; ``staged`` maps table names to this import's stages.

        A versioned stage leaves its repeated and stored keys to ``node.store.amend``.
        """
        if not self.versioned:
            for key in self.spec.keys:
                yield from self._repeated(key)
            yield from self._changed()
        for key in self.spec.unique:
            yield from self._taken(key)
        yield from self._dangling(staged)

    def _repeated(self, key: Sequence[str]) -> Iterator[Finding]:
        columns = ", ".join(map(quote, key))
        picked = ", ".join(f"s.{quote(c)}" for c in key)
        sql = (
            f"SELECT s._line, d.first, {picked} FROM temp.{self.name} AS s "
            f"JOIN (SELECT {columns}, min(_line) AS first FROM temp.{self.name} "
            f"GROUP BY {columns} HAVING count(*) > 1) AS d ON {join(key, 's', 'd')} "
            "WHERE s._line > d.first ORDER BY s._line"
        )
        for line, first, *values in self.conn.execute(sql):
            yield line, label(key), (
                f"{show(values)} appears more than once in this file (first at line {first}; "
                f"expected each {label(key)} only once)"
            )

    def _changed(self) -> Iterator[Finding]:
        pk = self.spec.primary_key
        names = self.spec.column_names
        others = [c for c in names if c not in pk]
        differs = " OR ".join(f"t.{quote(c)} IS NOT s.{quote(c)}" for c in others) or "0"
        both = ", ".join([*(f"s.{quote(c)}" for c in names), *(f"t.{quote(c)}" for c in names)])
        sql = (
            f"SELECT s._line, {both} FROM temp.{self.name} AS s "
            f"JOIN main.{quote(self.spec.name)} AS t ON {join(pk, 't', 's')} "
            f"WHERE {differs} ORDER BY s._line"
        )
        width = len(names)
        for line, *values in self.conn.execute(sql):
            new, old = values[:width], values[width:]
            changed = [name for name, a, b in zip(names, new, old, strict=True) if a != b]
            key = [new[names.index(c)] for c in pk]
            yield line, label(pk), (
                f"{show(key)} is already in the store with different values "
                f"({', '.join(changed)}); fix the file or remove the row"
            )

    def _taken(self, key: Sequence[str]) -> Iterator[Finding]:
        pk = self.spec.primary_key
        same_row = " AND ".join(f"t.{quote(c)} IS s.{quote(c)}" for c in pk)
        picked = ", ".join([*(f"s.{quote(c)}" for c in key), *(f"t.{quote(c)}" for c in pk)])
        sql = (
            f"SELECT s._line, {picked} FROM temp.{self.name} AS s "
            f"JOIN main.{quote(self.spec.name)} AS t ON {join(key, 't', 's')} "
            f"WHERE NOT ({same_row}) ORDER BY s._line"
        )
        for line, *values in self.conn.execute(sql):
            mine, theirs = values[: len(key)], values[len(key) :]
            yield line, label(key), (
                f"{show(mine)} is already used by {label(pk)} {show(theirs)} in the store "
                f"(expected each {label(key)} only once)"
            )

    def _dangling(self, staged: Mapping[str, Stage]) -> Iterator[Finding]:
        for col in self.spec.columns:
            fk = col.references
            if fk is None:
                continue
            target, column = quote(fk.column), quote(col.name)
            sql = (
                f"SELECT s._line, s.{column} FROM temp.{self.name} AS s "
                f"WHERE s.{column} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM main.{quote(fk.table)} AS p WHERE p.{target} = s.{column})"
            )
            parent = staged.get(fk.table)
            refused = "NULL"
            if parent is not None:
                sql += (
                    f" AND NOT EXISTS (SELECT 1 FROM temp.{parent.name} AS p "
                    f"WHERE p.{target} = s.{quote(col.name)})"
                )
                refused = (f"(SELECT min(r._line) FROM temp.{parent.refused} AS r "
                           f"WHERE r.{target} = s.{quote(col.name)})")
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
        names = ", ".join(map(quote, self.spec.column_names))
        sql = (
            f"INSERT OR IGNORE INTO main.{quote(self.spec.name)} ({names}) SELECT {names} "
            f"FROM temp.{self.name} WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
        )
        return self.conn.execute(sql, (first, first + count - 1)).rowcount
