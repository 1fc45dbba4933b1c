"""What an import did (``ImportReport``) and why it was refused (``ErrorLog``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedtrade.node.store.amend import StaleRow
from fedtrade.trust.errors import DataError

__all__ = ["MAX_LOSSY_KEPT", "ErrorLog", "FileImport", "ImportReport", "SkippedFile"]

MAX_LOSSY_KEPT = 1000
"""How many value-changing normalisations (original and stored value) a report lists."""


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class FileImport:
    """One file imported into ``table``: new rows, amended rows, rows already stored
    unchanged, and stale rows (an earlier version than the stored one, not applied)."""

    table: str
    path: Path
    rows_inserted: int
    rows_unchanged: int
    rows_read: int = 0
    rows_rejected: int = 0
    rows_amended: int = 0
    rows_stale: int = 0
    stale: tuple[StaleRow, ...] = ()
    """The first ``MAX_STALE_KEPT`` stale rows."""


@dataclass(frozen=True)
class SkippedFile:
    """A file whose identical content was already imported into ``table``."""

    table: str
    path: Path
    imported_at: str


@dataclass(frozen=True)
class ImportReport:
    files: tuple[FileImport, ...]
    skipped: tuple[SkippedFile, ...]
    normalised: Mapping[str, int] = field(default_factory=dict)
    """'table.column: how' -> rows whose value was normalised that way."""
    rejected: Mapping[str, int] = field(default_factory=dict)
    """'table.field: reason' -> rows refused for it (quarantine imports)."""
    lossy: tuple[tuple[str, int, str, str, str], ...] = ()
    """(file, line, column, as written, as stored) of values normalisation changed."""
    rejects_file: Path | None = None

    @property
    def rows_inserted(self) -> dict[str, int]:
        """New rows per table."""
        totals: dict[str, int] = {}
        for item in self.files:
            totals[item.table] = totals.get(item.table, 0) + item.rows_inserted
        return totals

    def summary(self) -> str:
        """Lines for a person: what was imported, normalised, refused and skipped."""
        lines = [
            f"{item.path}: {_rows(item.rows_inserted)} inserted into {item.table}"
            + (f", {_rows(item.rows_amended)} amended" if item.rows_amended else "")
            + (f", {_rows(item.rows_unchanged)} already stored" if item.rows_unchanged else "")
            + (f", {_rows(item.rows_stale)} stale (a later version is stored; not applied)"
               if item.rows_stale else "")
            + (f", {_rows(item.rows_rejected)} refused" if item.rows_rejected else "")
            for item in self.files
        ]
        lines += [f"  normalised {_rows(n)}: {what}" for what, n in self.normalised.items()]
        lines += [f"  refused {_rows(n)}: {why}" for why, n in self.rejected.items()]
        if self.rejects_file is not None and self.rejected:
            lines.append(f"refused rows written to {self.rejects_file} (fix them there and "
                         "import that file again)")
        lines += [
            f"{item.path}: skipped, the same file was imported into {item.table} "
            f"at {item.imported_at}"
            for item in self.skipped
        ]
        return "\n".join(lines)


    def as_json(self) -> dict[str, Any]:
        """The report for ``--report report.json``."""
        return {
            "files": [
                {"table": f.table, "path": str(f.path), "rows_read": f.rows_read,
                 "inserted": f.rows_inserted, "amended": f.rows_amended,
                 "unchanged": f.rows_unchanged, "stale": f.rows_stale,
                 "rejected": f.rows_rejected}
                for f in self.files
            ],
            "stale_rows": [
                {"file": str(f.path), "table": f.table, "line": row.line,
                 "key": json.loads(row.key), "version": row.version,
                 "stored_version": row.stored_version}
                for f in self.files for row in f.stale
            ],
            "skipped": [
                {"table": s.table, "path": str(s.path), "imported_at": s.imported_at}
                for s in self.skipped
            ],
            "rejected_by_reason": dict(self.rejected),
            "rejects_file": None if self.rejects_file is None else str(self.rejects_file),
            "normalisations": dict(self.normalised),
            "values_changed": [
                {"file": path, "line": line, "column": column, "original": original,
                 "stored": stored}
                for path, line, column, original, stored in self.lossy
            ],
        }

class ErrorLog:
    """Keeps the first ``limit`` errors in file and line order and counts all of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._kept: list[tuple[int, int, int, str]] = []

    def add(self, file_index: int, path: Path, line: int, field: str | None, problem: str) -> None:
        self.count += 1
        where = f"{path}:{line}: " + (f"{field}: " if field else "")
        self._kept.append((file_index, line, self.count, where + problem))
        if len(self._kept) >= 2 * self.limit:
            self._kept.sort()
            del self._kept[self.limit :]

    def error(self) -> DataError:
        """The DataError that refuses the import, listing the first errors."""
        first = sorted(self._kept)[: self.limit]
        lines = [
            f"import refused, nothing was written ({self.count:,} "
            f"error{'' if self.count == 1 else 's'}); fix the file and import it again:"
        ]
        lines += [f"  {text}" for *_, text in first]
        if self.count > len(first):
            lines.append(f"  ... and {self.count - len(first):,} more errors")
        return DataError("\n".join(lines))

