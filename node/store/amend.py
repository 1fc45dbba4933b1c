"""Amendments: a row with a later version replaces the stored row of the same key.

Any import file may carry a ``version`` column (a whole number; a row without
one counts as version 0). A file with at least one version is checked and
written here instead of by ``Stage.insert``; each staged row, in file order, is
compared with the row stored under its primary key (which may have come from an
earlier line of the same file; a key new to the store and alone in its file is
inserted with the others of its chunk as a set):

- no stored row: **inserted**;
- a later version: the stored row is **amended** (replaced); the values it had
  are logged in ``amendments`` (``{"column": [replaced, new]}``, file and line)
  and the version is kept in ``row_versions``. The same values under a later
  version only record the version (**unchanged**);
- the same version with the same values: a re-send, **unchanged**;
- an earlier version: **stale**, not applied, listed in the import report.

Different values under the version already stored (or twice in one file) are
refused beforehand as a set (``findings``), like any other problem of the
file, so an all-or-nothing import refuses the file and a quarantine import
refuses the row. So whatever order the versions of a row arrive in, the store
ends with the latest one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from fedtrade.node.store.columns import SqlValue
from fedtrade.node.store.staging import Finding, Stage, join, label, quote, show

__all__ = ["MAX_STALE_KEPT", "Amender", "StaleRow", "findings"]

MAX_STALE_KEPT = 1000
"""How many stale rows of a file an import report lists (all are counted)."""


def _key_json(stage: Stage, alias: str) -> str:
    return f"json_array({', '.join(f'{alias}.{quote(c)}' for c in stage.spec.primary_key)})"


def _differs(stage: Stage, left: str, right: str) -> str:
    others = [c for c in stage.spec.column_names if c not in stage.spec.primary_key]
    return " OR ".join(f"{left}.{quote(c)} IS NOT {right}.{quote(c)}" for c in others) or "0"


def findings(stage: Stage) -> Iterator[Finding]:
    """Different values under one version, and unique keys shared by two rows of the file."""
    pk = stage.spec.primary_key
    key = ", ".join(f"s.{quote(c)}" for c in pk)
    same_version = "coalesce(f._version, 0) = coalesce(s._version, 0)"
    sql = (
        f"SELECT s._line, min(f._line), coalesce(s._version, 0), {key} "
        f"FROM temp.{stage.name} AS s JOIN temp.{stage.name} AS f "
        f"ON {join(pk, 'f', 's')} AND {same_version} AND f._line < s._line "
        f"WHERE {_differs(stage, 'f', 's')} GROUP BY s._line ORDER BY s._line"
    )
    for line, first, version, *values in stage.conn.execute(sql):
        yield line, label(pk), (
            f"{show(values)} version {version} appears at line {first} with other values "
            "(expected a later version for a change, or the same values for a re-send)"
        )
    sql = (
        f"SELECT s._line, coalesce(v.version, 0), {key} FROM temp.{stage.name} AS s "
        f"JOIN main.{quote(stage.spec.name)} AS t ON {join(pk, 't', 's')} "
        "LEFT JOIN main.row_versions AS v ON v.table_name = ? "
        f"AND v.row_key = {_key_json(stage, 's')} "
        f"WHERE coalesce(s._version, 0) = coalesce(v.version, 0) "
        f"AND ({_differs(stage, 't', 's')}) ORDER BY s._line"
    )
    for line, version, *values in stage.conn.execute(sql, (stage.spec.name,)):
        yield line, label(pk), (
            f"{show(values)} version {version} is already in the store with other values "
            f"(expected version {version + 1} or later for a change)"
        )
    for unique in stage.spec.unique:
        picked = ", ".join(f"s.{quote(c)}" for c in unique)
        sql = (
            f"SELECT s._line, min(f._line), {picked} FROM temp.{stage.name} AS s "
            f"JOIN temp.{stage.name} AS f ON {join(unique, 'f', 's')} AND f._line < s._line "
            f"AND NOT ({join(pk, 'f', 's')}) GROUP BY s._line ORDER BY s._line"
        )
        for line, first, *values in stage.conn.execute(sql):
            yield line, label(unique), (
                f"{show(values)} is used by another {label(pk)} at line {first} "
                f"(expected each {label(unique)} only once)"
            )


@dataclass(frozen=True)
class StaleRow:
    """A row not applied because the store holds a later version of it."""

    line: int
    key: str
    version: int
    stored_version: int


@dataclass
class Amender:
    """Writes a versioned stage and counts the rows inserted, amended and stale (the
    importer counts the rest, unchanged)."""

    stage: Stage
    file_sha256: str
    now: str
    inserted: int = 0
    amended: int = 0
    stale: int = 0
    stale_rows: list[StaleRow] = field(default_factory=list)

    def apply(self, first: int, count: int) -> int:
        """Apply the staged rows first .. first+count-1; return how many rows were written.

        A row whose key is neither stored nor on another line of the file can only be
        inserted: those are inserted as a set, the others compared row by row.
        """
        stage, conn = self.stage, self.stage.conn
        pk, table = stage.spec.primary_key, quote(stage.spec.name)
        cols = ", ".join(map(quote, stage.spec.column_names))
        chunk = (first, first + count - 1)
        fresh = (
            f"FROM temp.{stage.name} AS s WHERE s.rowid BETWEEN ? AND ? "
            f"AND NOT EXISTS (SELECT 1 FROM main.{table} AS t WHERE {join(pk, 't', 's')}) "
            f"AND NOT EXISTS (SELECT 1 FROM temp.{stage.name} AS d "
            f"WHERE {join(pk, 'd', 's')} AND d._line != s._line)"
        )
        rest = conn.execute(
            f"SELECT _line, {_key_json(stage, 's')}, {cols}, coalesce(_version, 0) "
            f"FROM temp.{stage.name} AS s WHERE rowid BETWEEN ? AND ? "
            f"AND rowid NOT IN (SELECT s.rowid {fresh}) ORDER BY rowid", chunk + chunk,
        ).fetchall()
        conn.execute(
            f"INSERT INTO main.row_versions (table_name, row_key, version) "
            f"SELECT ?, {_key_json(stage, 's')}, s._version {fresh} AND s._version > 0",
            (stage.spec.name, *chunk))
        written = conn.execute(
            f"INSERT INTO main.{table} ({cols}) SELECT {cols} {fresh} ORDER BY s.rowid", chunk
        ).rowcount
        self.inserted += written
        for line, key, *values, version in rest:
            written += self._row(conn, line, key, tuple(values), version)
        return written

    def _row(
        self, conn: sqlite3.Connection, line: int, key: str, values: tuple[SqlValue, ...],
        version: int,
    ) -> int:
        spec = self.stage.spec
        names = spec.column_names
        table = quote(spec.name)
        pk = spec.primary_key
        where = " AND ".join(f"{quote(c)} = ?" for c in pk)
        pk_values = [values[names.index(c)] for c in pk]
        stored = conn.execute(
            f"SELECT {', '.join(map(quote, names))} FROM main.{table} WHERE {where}", pk_values
        ).fetchone()
        if stored is None:
            conn.execute(f"INSERT INTO main.{table} ({', '.join(map(quote, names))}) "
                         f"VALUES ({', '.join('?' * len(names))})", values)
            self._keep_version(conn, key, version)
            self.inserted += 1
            return 1
        row = conn.execute("SELECT version FROM main.row_versions "
                           "WHERE table_name = ? AND row_key = ?", (spec.name, key)).fetchone()
        stored_version = 0 if row is None else int(row[0])
        if version < stored_version:
            self.stale += 1
            if len(self.stale_rows) < MAX_STALE_KEPT:
                self.stale_rows.append(StaleRow(line, key, version, stored_version))
            return 0
        changes = {n: [old, new] for n, old, new in zip(names, stored, values, strict=True)
                   if old != new}
        if version == stored_version or not changes:
            # the same version is identical here: ``findings`` refused any difference
            self._keep_version(conn, key, version)
            return 0
        assignments = ", ".join(f"{quote(n)} = ?" for n in changes)
        conn.execute(f"UPDATE main.{table} SET {assignments} WHERE {where}",
                     [new for _, new in changes.values()] + pk_values)
        conn.execute(
            "INSERT INTO main.amendments (table_name, row_key, old_version, new_version, "
            "changes, file_sha256, line, amended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (spec.name, key, stored_version, version, json.dumps(changes, ensure_ascii=False),
             self.file_sha256, line, self.now),
        )
        self._keep_version(conn, key, version)
        self.amended += 1
        return 1

    def _keep_version(self, conn: sqlite3.Connection, key: str, version: int) -> None:
        if version:
            conn.execute(
                "INSERT INTO main.row_versions (table_name, row_key, version) VALUES (?, ?, ?) "
                "ON CONFLICT (table_name, row_key) DO UPDATE SET version = excluded.version",
                (self.stage.spec.name, key, version))
