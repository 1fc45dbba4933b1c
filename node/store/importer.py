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
   alone), record each file's SHA-256 in ``import_log``, update the derived
   tables for the parcels the written rows touch (``indicators.Changes``),
   hand the transaction to ``publish`` when given (a node whose data is on
   PostgreSQL copies what changed there: ``node.store.pgdata``), ``COMMIT``. Any
   exception, KeyboardInterrupt included, rolls everything back.

A file whose rows carry versions (the optional ``version`` column) is checked
and written by ``node.store.amend`` instead: a later version replaces the
stored row and logs what it changed, an earlier one is stale and not applied.

A file whose SHA-256 is already in ``import_log`` for its table is skipped.

Values refused as written are normalised first (``fedtrade.protocol.normalize``,
through ``ColumnType.normalise``); the report counts each kind of normalisation
and lists the values it changed (money rounded to cents). Those values are also
recorded in the store, in ``import_values`` (file SHA-256, table, line, column,
as written, as stored), for the rows imported.

With ``quarantine`` (a file, or a folder for a folder import) a refused row no
longer refuses the import: every problem of step 1 and 2 refuses its row
(children of a refused row are refused with it, for that reason), the refused
rows are written to the rejects file in the input's format plus an
``import_error`` column, and the other rows are imported in the one
transaction. ``max_rejects`` aborts it, writing nothing to the store, when too
many rows were refused. A file that cannot be read at all (header, encoding,
CSV quoting) still refuses the whole import.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fedtrade.node.store import amend, indicators
from fedtrade.node.store.columns import SqlValue
from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.plan import plan_import
from fedtrade.node.store.progress import Display, import_progress
from fedtrade.node.store.quarantine import RejectLimit, Rejects
from fedtrade.node.store.readers import RowReader
from fedtrade.node.store.report import (
    MAX_LOSSY_KEPT,
    ErrorLog,
    FileImport,
    ImportReport,
    SkippedFile,
)
from fedtrade.node.store.schema import TableSpec, check_role
from fedtrade.node.store.staging import CHUNK_ROWS, Stage, quote
from fedtrade.trust.errors import ConfigError, DataError, FedtradeError

__all__ = ["Publish", "RejectLimit", "import_path"]


class Publish(Protocol):
    """A copy of the import elsewhere (``node.store.pgdata``): ``begin`` runs first in the
    write transaction, before any row is written; the call runs last, before COMMIT."""

    def begin(self, conn: sqlite3.Connection) -> None: ...

    def __call__(self, conn: sqlite3.Connection) -> None: ...


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


@dataclass
class _Intake:
    """What the reading step found: problems, refused rows and normalisations."""

    errors: ErrorLog
    rejects: Rejects | None
    read: Counter[int] = field(default_factory=Counter)
    normalised: Counter[str] = field(default_factory=Counter)
    lossy: list[tuple[str, int, str, str, str]] = field(default_factory=list)

    def problem(
        self, index: int, spec: TableSpec, path: Path, line: int, field: str | None, text: str
    ) -> None:
        if self.rejects is None:
            self.errors.add(index, path, line, field, text)
        else:
            self.rejects.add(index, spec.name, path, line, field, text)


def _stage(
    conn: sqlite3.Connection, index: int, spec: TableSpec, path: Path, intake: _Intake,
    display: Display,
) -> Stage:
    stage = Stage(conn, spec, index, str(path))
    reader = RowReader(path, spec)
    bar = display.file(path)
    batch: list[tuple[SqlValue, ...]] = []
    refused: list[tuple[SqlValue, ...]] = []
    lossy: list[tuple[SqlValue, ...]] = []
    rows = 0
    for row in reader:
        rows += 1
        for change in row.changes:
            intake.normalised[f"{spec.name}.{change.field}: {change.how}"] += 1
            if change.lossy:
                lossy.append((index, row.line, change.field, change.original, change.stored))
                if len(intake.lossy) < MAX_LOSSY_KEPT:
                    intake.lossy.append(
                        (str(path), row.line, change.field, change.original, change.stored))
        if row.problems:
            for field_name, problem in row.problems:
                if row.values is None:  # the file cannot be read on: never quarantined
                    intake.errors.add(index, path, row.line, field_name, problem)
                else:
                    intake.problem(index, spec, path, row.line, field_name, problem)
            if intake.rejects is not None and row.values is not None:
                refused.append((row.line, *row.values, row.version))
            continue
        assert row.values is not None
        batch.append((row.line, *row.values, row.version))
        if len(batch) >= CHUNK_ROWS:
            stage.add(batch)
            batch = []
            bar.update(reader.bytes_read, rows)
        if len(lossy) >= CHUNK_ROWS:
            _keep_lossy(conn, lossy)
            lossy = []
    if batch:
        stage.add(batch)
    _keep_lossy(conn, lossy)
    if refused:
        stage.refuse(refused)
    intake.read[index] = rows
    bar.update(reader.bytes_read, rows)
    stage.index()
    return stage


def _keep_lossy(conn: sqlite3.Connection, lossy: list[tuple[SqlValue, ...]]) -> None:
    """Stage (file index, line, column, as written, as stored) of values normalisation changed."""
    conn.executemany("INSERT INTO temp._lossy VALUES (?, ?, ?, ?, ?)", lossy)


def _audit_lossy(conn: sqlite3.Connection, index: int, spec: TableSpec, digest: str,
                 stage: Stage) -> None:
    """Record in the store the originals of the changed values of the rows imported."""
    conn.execute(
        "INSERT OR IGNORE INTO main.import_values (file_sha256, table_name, line, column_name, "
        "original, stored) SELECT ?, ?, line, column_name, original, stored FROM temp._lossy "
        f"WHERE file = ? AND line IN (SELECT _line FROM temp.{stage.name})",
        (digest, spec.name, index))


def _check_sets(
    files: list[tuple[int, TableSpec, Path, str]], stages: dict[str, Stage], intake: _Intake,
) -> None:
    """The set-based checks; in quarantine, refused rows leave their stage, parents first."""
    for index, spec, path, _ in files:
        stage = stages[spec.name]
        found = stage.findings(stages)
        if stage.versioned:
            found = itertools.chain(amend.findings(stage), found)
        for line, field_name, problem in found:
            intake.problem(index, spec, path, line, field_name, problem)
        if intake.rejects is not None:
            stage.drop(intake.rejects.lines(index))


def _write(
    conn: sqlite3.Connection, role: str, files: list[tuple[int, TableSpec, Path, str]],
    stages: dict[str, Stage], intake: _Intake, fail_after: _FailAfter, display: Display,
    max_rejects: RejectLimit | None,
) -> list[FileImport]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if intake.errors.count:
        raise intake.errors.error()
    _check_sets(files, stages, intake)
    if intake.errors.count:
        raise intake.errors.error()
    if intake.rejects is not None:
        _check_limit(intake.rejects, max_rejects, sum(intake.read.values()))
        intake.rejects.write()
    changes = _track(conn, role, stages)
    bar = display.writing(sum(stage.rows for stage in stages.values()))
    checked = 0
    written = 0
    results = []
    for index, spec, path, digest in files:
        stage = stages[spec.name]
        rejected = 0 if intake.rejects is None else intake.rejects.rows(index)
        amender = amend.Amender(stage, digest, now) if stage.versioned else None
        write = stage.insert if amender is None else amender.apply
        changed = 0
        first = 1
        while first <= stage.rows:
            count = fail_after.chunk(CHUNK_ROWS)
            rows = write(first, count)
            changed += rows
            written += rows
            first += count
            bar.update(checked + min(first - 1, stage.rows), written)
            fail_after.spend(rows)
        checked += stage.rows
        _audit_lossy(conn, index, spec, digest, stage)
        conn.execute(
            "INSERT OR IGNORE INTO import_log (file_sha256, table_name, rows, imported_at) "
            "VALUES (?, ?, ?, ?)",
            (digest, spec.name, changed, now),
        )
        kept = intake.read[index] - rejected
        inserted = changed if amender is None else amender.inserted
        amended = 0 if amender is None else amender.amended
        stale = 0 if amender is None else amender.stale
        results.append(FileImport(
            spec.name, path, inserted, kept - inserted - amended - stale, intake.read[index],
            rejected, amended, stale, () if amender is None else tuple(amender.stale_rows)))
    if changes is not None and any(f.table in changes.tables and f.rows_inserted + f.rows_amended
                                   for f in results):
        for name in changes.tables:
            changes.note(name, f"temp.{stages[name].name}")
        changes.apply()
    return results


def _track(conn: sqlite3.Connection, role: str, stages: dict[str, Stage]
           ) -> indicators.Changes | None:
    """Start tracking the parcels the stages' rows touch, old links of amended rows first."""
    tables = [name for name in stages if name in indicators.SOURCE_TABLES[role]]
    if not tables:
        return None
    changes = indicators.Changes(conn, role, tables)
    for name in tables:
        stage = stages[name]
        if stage.versioned:
            key = ", ".join(map(quote, stage.spec.primary_key))
            changes.note(name, f"(SELECT * FROM main.{quote(name)} WHERE ({key}) IN "
                               f"(SELECT {key} FROM temp.{stage.name}))")
    return changes


def _check_limit(rejects: Rejects, limit: RejectLimit | None, read: int) -> None:
    if limit is None or not limit.exceeded(rejects.count, read):
        return
    rejects.write()  # the refused rows are kept even so: they are what needs fixing
    rejects.publish()
    lines = [f"import refused, nothing was written: {rejects.count:,} of {read:,} rows were "
             f"refused, more than --max-rejects {limit} (refused rows: {rejects.destination}):"]
    lines += [f"  {text}" for text in rejects.first(20)]
    raise DataError("\n".join(lines))


def _run(
    conn: sqlite3.Connection, role: str, plan: list[tuple[TableSpec, Path]], max_errors: int,
    show_progress: bool, fail_after_rows: int | None, rejects: Rejects | None,
    max_rejects: RejectLimit | None, publish: Publish | None,
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
    intake = _Intake(ErrorLog(max_errors), rejects)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _lossy "
                 "(file INTEGER, line INTEGER, column_name TEXT, original TEXT, stored TEXT)")
    with import_progress(show_progress) as display:
        with _transaction(conn, "BEGIN"):
            stages = {
                spec.name: _stage(conn, index, spec, path, intake, display)
                for index, spec, path, _ in files
            }
        try:
            with _transaction(conn, "BEGIN IMMEDIATE"):
                if publish is not None:
                    publish.begin(conn)
                written = _write(
                    conn, role, files, stages, intake, _FailAfter(fail_after_rows), display,
                    max_rejects)
                if publish is not None:
                    publish(conn)
        except BaseException:
            if rejects is not None:
                rejects.discard()
            raise
    if rejects is not None:
        rejects.publish()
    return ImportReport(
        tuple(written), tuple(skipped), dict(intake.normalised),
        {} if rejects is None else dict(rejects.reasons.most_common()), tuple(intake.lossy),
        None if rejects is None else rejects.destination)


def import_path(
    db_path: Path, role: str, table: str | None, path: Path, *, max_errors: int = 20,
    progress: bool | None = None, fail_after_rows: int | None = None,
    quarantine: Path | None = None, max_rejects: RejectLimit | None = None,
    publish: Publish | None = None,
) -> ImportReport:
    """Import ``path`` (a file, or a folder of ``<table>.csv|.jsonl`` files) into the store.

    ``table`` names the table of a single file (default: the file's name) or
    picks one table's file from a folder. Raises ``DataError`` listing the
    first ``max_errors`` problems when any row or file is invalid, in which
    case nothing is written; ``ConfigError`` when the store cannot be opened
    for ``role``. ``progress`` shows a progress bar on standard error (default:
    when it is a terminal). ``fail_after_rows`` is a test hook that aborts the
    import after that many rows were inserted. ``quarantine`` imports the valid
    rows and writes the refused ones there (a folder when ``path`` is one);
    ``max_rejects`` then refuses the import when more rows than that were refused.
    ``publish.begin`` runs first in the import's write transaction; ``publish`` runs last,
    seeing the store as it will be committed (even when every file was skipped); when
    either raises, nothing is written.
    """
    check_role(role)
    if max_errors < 1:
        raise ConfigError(f"max_errors must be at least 1, not {max_errors}")
    plan = plan_import(role, table, path)
    if max_rejects is not None and quarantine is None:
        raise ConfigError("--max-rejects applies to a quarantine import; add --quarantine")
    rejects = None if quarantine is None else Rejects(quarantine, path.is_dir())
    show = sys.stderr.isatty() if progress is None else progress
    db = open_store(db_path, role)
    try:
        with db.ensure_autocommit_on():
            return _run(db.conn, role, plan, max_errors, show, fail_after_rows, rejects,
                        max_rejects, publish)
    finally:
        db.close()
