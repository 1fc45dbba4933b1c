"""Refused rows of a quarantine import: collected per file, written back in the input's format.

Every refused row is kept once, with all its problems, under its file and line.
``write_rejects`` reads each file again (``readers.raw_rows``) and copies the
refused rows as written, in CSV or JSON Lines like the input, with one more
column, ``import_error``: ``FILE:LINE: FIELD: problem``. The files are written
under temporary names; ``Rejects.publish`` renames them once the import
committed, and ``discard`` removes them when it did not.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from fedtrade.node.store.readers import ERROR_COLUMN, raw_rows
from fedtrade.trust.errors import DataError
from fedtrade.trust.files import not_regular

__all__ = ["RejectLimit", "Rejects", "reason_kind"]

_VALUE = re.compile(r"^(\(.*?\)|'.*?'|\S+) (?=is |has |starts |looks |appears |links )")
_WHERE = re.compile(r" \([^()]*:[0-9]+\)")
_EXPECTED = re.compile(r" \(expected .*$| \(first at line .*$")


def reason_kind(field: str | None, problem: str) -> str:
    """A problem without its value, for counting rows refused for the same reason."""
    kind = _EXPECTED.sub("", _VALUE.sub("", problem)).split(";")[0]
    kind = re.sub(r"'[^']*'", "'…'", _WHERE.sub("", kind))
    return f"{field}: {kind}" if field else kind


@dataclass(frozen=True)
class RejectLimit:
    """``--max-rejects``: at most ``count`` rows, or ``percent`` % of the rows read."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> RejectLimit:
        try:
            if text.endswith("%"):
                percent = float(text[:-1])
                if 0 <= percent <= 100:
                    return cls(percent=percent)
            elif int(text) >= 0:
                return cls(count=int(text))
        except ValueError:
            pass
        raise DataError(f"--max-rejects {text!r}: expected a row count such as 100 or a "
                        "share of the rows read such as 0.5%")

    def exceeded(self, rejected: int, read: int) -> bool:
        if self.count is not None:
            return rejected > self.count
        assert self.percent is not None
        return rejected * 100 > self.percent * read

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


@dataclass
class _FileRejects:
    path: Path
    table: str
    lines: dict[int, list[tuple[str | None, str]]] = field(default_factory=dict)


class Rejects:
    """The refused rows of one import, by file (index in the import plan) and line."""

    def __init__(self, destination: Path, folder: bool) -> None:
        # checked now: the rejects are renamed into place only after the import committed
        if folder and destination.is_file():
            raise DataError(f"--quarantine {destination}: is a file; a folder import writes "
                            "one rejects file per table into a folder: give a folder")
        kind = None if folder else not_regular(destination)
        if kind is not None:
            raise DataError(f"--quarantine {destination}: is {kind}, not a regular file; give "
                            "a file path")
        self.destination = destination
        self.folder = folder
        self.reasons: Counter[str] = Counter()
        self._files: dict[int, _FileRejects] = {}
        self._written: list[tuple[Path, Path]] = []

    @property
    def count(self) -> int:
        return sum(len(f.lines) for f in self._files.values())

    def rows(self, index: int) -> int:
        item = self._files.get(index)
        return 0 if item is None else len(item.lines)

    def add(
        self, index: int, table: str, path: Path, line: int, field: str | None, problem: str
    ) -> bool:
        """Record a problem of a row; True when the row was not refused before."""
        item = self._files.setdefault(index, _FileRejects(path, table))
        problems = item.lines.get(line)
        new = problems is None
        if problems is None:
            problems = item.lines[line] = []
            self.reasons[f"{table}.{reason_kind(field, problem)}"] += 1
        problems.append((field, problem))
        return new

    def lines(self, index: int) -> list[int]:
        item = self._files.get(index)
        return [] if item is None else sorted(item.lines)

    def first(self, limit: int) -> list[str]:
        """The first ``limit`` refused rows as 'FILE:LINE: FIELD: problem' lines."""
        out: list[str] = []
        for _, item in sorted(self._files.items()):
            for line in sorted(item.lines)[: limit - len(out)]:
                out.append(_describe(item.path, line, item.lines[line]))
        return out

    def target(self, index: int) -> Path:
        item = self._files[index]
        if not self.folder:
            return self.destination
        return self.destination / f"{item.table}{item.path.suffix.lower()}"

    def write(self) -> None:
        """Write every file's refused rows under a temporary name (``publish`` renames)."""
        if self.folder and self._files:
            self.destination.mkdir(parents=True, exist_ok=True)
        for index, item in sorted(self._files.items()):
            final = self.target(index)
            tmp = final.with_name(f".{final.name}.partial")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as out:
                    _copy(item, out)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise DataError(f"{final}: cannot write the rejects file: {exc.strerror}") from exc
            self._written.append((tmp, final))

    def publish(self) -> None:
        for tmp, final in self._written:
            os.replace(tmp, final)
        self._written.clear()

    def discard(self) -> None:
        for tmp, _ in self._written:
            tmp.unlink(missing_ok=True)
        self._written.clear()


def _describe(path: Path, line: int, problems: list[tuple[str | None, str]]) -> str:
    return f"{path}:{line}: " + "; ".join(
        (f"{field}: " if field else "") + problem for field, problem in problems)


def _copy(item: _FileRejects, out: TextIO) -> None:
    is_csv = item.path.suffix.lower() == ".csv"
    writer = csv.writer(out, lineterminator="\n")
    drop = -1  # a rejects file imported again already has an import_error column
    for line, raw in raw_rows(item.path):
        if is_csv and isinstance(raw, list) and line == 1:
            drop = raw.index(ERROR_COLUMN) if ERROR_COLUMN in raw else -1
            writer.writerow([c for i, c in enumerate(raw) if i != drop] + [ERROR_COLUMN])
            continue
        problems = item.lines.get(line)
        if problems is None:
            continue
        error = _describe(item.path, line, problems)
        if isinstance(raw, list):
            writer.writerow([c for i, c in enumerate(raw) if i != drop] + [error])
        else:
            out.write(_json_line(raw, error) + "\n")


def _json_line(text: str, error: str) -> str:
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        obj = {"line_as_written": text}
    obj[ERROR_COLUMN] = error
    return json.dumps(obj, ensure_ascii=False)
