"""What an import did (``ImportReport``) and why it was refused (``ErrorLog``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fedtrade.trust.errors import DataError

__all__ = ["ErrorLog", "FileImport", "ImportReport", "SkippedFile"]


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class FileImport:
    """One file imported into ``table``: new rows, and rows already stored unchanged."""

    table: str
    path: Path
    rows_inserted: int
    rows_unchanged: int


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

    @property
    def rows_inserted(self) -> dict[str, int]:
        """New rows per table."""
        totals: dict[str, int] = {}
        for item in self.files:
            totals[item.table] = totals.get(item.table, 0) + item.rows_inserted
        return totals

    def summary(self) -> str:
        """Lines for a person: what was imported and what was skipped."""
        lines = [
            f"{item.path}: {_rows(item.rows_inserted)} inserted into {item.table}"
            + (f", {_rows(item.rows_unchanged)} already stored" if item.rows_unchanged else "")
            for item in self.files
        ]
        lines += [
            f"{item.path}: skipped, the same file was imported into {item.table} "
            f"at {item.imported_at}"
            for item in self.skipped
        ]
        return "\n".join(lines)


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
