"""Import CSV / JSON Lines files into a node's store: all or nothing, idempotent, streaming.

``import_path`` runs in three steps on one connection:

1. Read every file once, line by line, checking each row (types, formats,
   check digits, enums, cross-field rules) and staging the valid rows in TEMP
   tables in chunks of ``CHUNK_ROWS``. This neither writes to nor locks the
   store.
2. ``BEGIN IMMEDIATE``; check the staged rows as sets (repeated keys, keys
   stored with other values, foreign keys; see ``node.store.staging``). Any
   error so far: roll back and raise ``DataError`` listing the first
   ``max_errors`` as ``PATH:LINE: FIELD: problem (expected ...)``.
3. Insert the staged rows in chunks (rows already stored identically are left
   alone), record each file's SHA-256 in ``import_log``, ``COMMIT``. Any
   exception, KeyboardInterrupt included, rolls everything back.

A file whose SHA-256 is already in ``import_log`` for its table is skipped.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fedtrade.node.store.columns import SqlValue
from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.plan import plan_import
from fedtrade.node.store.progress import Display, import_progress
from fedtrade.node.store.readers import RowReader
from fedtrade.node.store.report import ErrorLog, FileImport, ImportReport, SkippedFile
from fedtrade.node.store.schema import TableSpec, check_role
from fedtrade.node.store.staging import CHUNK_ROWS, Stage
from fedtrade.trust.errors import ConfigError, FedtradeError

__all__ = ["import_path"]

_CACHE_KIB = 65536  # page cache per database (store and TEMP) while importing


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _FailAfter:
    """Test hook: raise once ``rows`` rows have been inserted into the store."""

    def __init__(self, rows: int | None) -> None:
        self.rows = rows
        self.left = rows

    def _check(self) -> None:
        if self.left is not None and self.left <= 0:
            raise FedtradeError(
                f"import stopped by the test hook fail_after_rows={self.rows}; "
                "the store was rolled back"
            )

    def chunk(self, size: int) -> int:
        self._check()
        return size if self.left is None else min(size, self.left)

    def spend(self, rows: int) -> None:
        if self.left is not None:
            self.left -= rows
            self._check()


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _stage(
    conn: sqlite3.Connection, index: int, spec: TableSpec, path: Path, errors: ErrorLog,
    display: Display,
) -> Stage:
    stage = Stage(conn, spec, index)
    reader = RowReader(path, spec)
    bar = display.file(path)
    batch: list[tuple[SqlValue, ...]] = []
    rows = 0
    for row in reader:
        rows += 1
        if row.values is None:
            for field, problem in row.problems:
                errors.add(index, path, row.line, field, problem)
            continue
        batch.append((row.line, *row.values))
        if len(batch) >= CHUNK_ROWS:
            stage.add(batch)
            batch = []
            bar.update(reader.bytes_read, rows)
    if batch:
        stage.add(batch)
    bar.update(reader.bytes_read, rows)
    stage.index()
    return stage


def _write(
    conn: sqlite3.Connection, files: list[tuple[int, TableSpec, Path, str]],
    stages: dict[str, Stage], errors: ErrorLog, fail_after: _FailAfter, display: Display,
) -> list[FileImport]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for index, spec, path, _ in files:
        for line, field, problem in stages[spec.name].findings(stages):
            errors.add(index, path, line, field, problem)
    if errors.count:
        raise errors.error()
    bar = display.writing(sum(stage.rows for stage in stages.values()))
    checked = 0
    written = 0
    results = []
    for _, spec, path, digest in files:
        stage = stages[spec.name]
        inserted = 0
        first = 1
        while first <= stage.rows:
            count = fail_after.chunk(CHUNK_ROWS)
            rows = stage.insert(first, count)
            inserted += rows
            written += rows
            first += count
            bar.update(checked + min(first - 1, stage.rows), written)
            fail_after.spend(rows)
        checked += stage.rows
        conn.execute(
            "INSERT OR IGNORE INTO import_log (file_sha256, table_name, rows, imported_at) "
            "VALUES (?, ?, ?, ?)",
            (digest, spec.name, inserted, now),
        )
        results.append(FileImport(spec.name, path, inserted, stage.rows - inserted))
    return results


def _run(
    conn: sqlite3.Connection, plan: list[tuple[TableSpec, Path]], max_errors: int,
    show_progress: bool, fail_after_rows: int | None,
) -> ImportReport:
    conn.execute(f"PRAGMA main.cache_size = -{_CACHE_KIB}")
    conn.execute(f"PRAGMA temp.cache_size = -{_CACHE_KIB}")
    # Foreign keys are checked as a set before inserting (node.store.staging);
    # SQLite's per-row enforcement on top would nearly double the insert time.
    conn.execute("PRAGMA foreign_keys = OFF")
    skipped: list[SkippedFile] = []
    files: list[tuple[int, TableSpec, Path, str]] = []
    for index, (spec, path) in enumerate(plan):
        digest = _sha256(path)
        row = conn.execute(
            "SELECT imported_at FROM import_log WHERE file_sha256 = ? AND table_name = ?",
            (digest, spec.name),
        ).fetchone()
        if row is None:
            files.append((index, spec, path, digest))
        else:
            skipped.append(SkippedFile(spec.name, path, row[0]))
    errors = ErrorLog(max_errors)
    with import_progress(show_progress) as display:
        with _transaction(conn, "BEGIN"):
            stages = {
                spec.name: _stage(conn, index, spec, path, errors, display)
                for index, spec, path, _ in files
            }
        with _transaction(conn, "BEGIN IMMEDIATE"):
            written = _write(conn, files, stages, errors, _FailAfter(fail_after_rows), display)
    return ImportReport(tuple(written), tuple(skipped))


def import_path(
    db_path: Path, role: str, table: str | None, path: Path, *, max_errors: int = 20,
    progress: bool | None = None, fail_after_rows: int | None = None,
) -> ImportReport:
    """Import ``path`` (a file, or a folder of ``<table>.csv|.jsonl`` files) into the store.

    ``table`` names the table of a single file (default: the file's name) or
    picks one table's file from a folder. Raises ``DataError`` listing the
    first ``max_errors`` problems when any row or file is invalid, in which
    case nothing is written; ``ConfigError`` when the store cannot be opened
    for ``role``. ``progress`` shows a progress bar on standard error (default:
    when it is a terminal). ``fail_after_rows`` is a test hook that aborts the
    import after that many rows were inserted.
    """
    check_role(role)
    if max_errors < 1:
        raise ConfigError(f"max_errors must be at least 1, not {max_errors}")
    plan = plan_import(role, table, path)
    show = sys.stderr.isatty() if progress is None else progress
    db = open_store(db_path, role)
    try:
        with db.ensure_autocommit_on():
            return _run(db.conn, plan, max_errors, show, fail_after_rows)
    finally:
        db.close()
