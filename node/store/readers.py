"""Stream the rows of one CSV or JSON Lines import file, each checked against its TableSpec.

Nothing here holds more than one row: files are read line by line, and each
row comes out as a ``ParsedRow`` with either its SQL values (in the spec's
column order) or the problems found in it. A problem that makes the rest of the
file unreadable (a bad header, broken CSV quoting, text that is not UTF-8) is
reported as the last row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from fedtrade.node.store.columns import TEXT, SqlValue
from fedtrade.node.store.schema import ColumnSpec, TableSpec
from fedtrade.trust.errors import DataError

__all__ = ["FORMATS", "ParsedRow", "Problem", "RowReader"]

FORMATS = (".csv", ".jsonl")

Problem = tuple[str | None, str]
"""(field or None for the whole row, problem text)."""

_CsvPlan = tuple[tuple[int, ColumnSpec, Callable[[str], SqlValue] | None], ...]


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    values: tuple[SqlValue, ...] | None
    problems: tuple[Problem, ...] = ()


class _FileRejectedError(Exception):
    """The rest of the file cannot be read; carries the line and the problem."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def _missing(col: ColumnSpec) -> str:
    return f"is missing (expected {col.type.expected})"


def _apply_rules(
    spec: TableSpec, values: tuple[SqlValue, ...], problems: list[Problem]
) -> None:
    if spec.rules:
        row = dict(zip(spec.column_names, values, strict=True))
        for rule in spec.rules:
            problem = rule.check(row)
            if problem is not None:
                problems.append((rule.field, problem))


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed in JSON")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [key for key, _ in pairs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"field(s) {', '.join(map(repr, duplicates))} appear more than once")
    return obj


def _bad_utf8(path: Path) -> tuple[int, str]:
    """The first line of ``path`` that is not UTF-8, and why."""
    with path.open("rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return line, exc.reason
    return 1, "undecodable text"


class RowReader:
    """Iterate over the rows of ``path`` (``.csv`` or ``.jsonl``) for table ``spec``."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self.path = path
        self.spec = spec
        self._binary: BinaryIO | None = None
        self._column_list = ", ".join(spec.column_names)

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has come (the whole file once iteration ended)."""
        if self._binary is None or self._binary.closed:
            return self.path.stat().st_size
        return self._binary.tell()

    def __iter__(self) -> Iterator[ParsedRow]:
        with self.path.open("rb") as binary:
            self._binary = binary
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            try:
                if self.path.suffix.lower() == ".csv":
                    yield from self._csv(text)
                else:
                    yield from self._jsonl(text)
            except _FileRejectedError as exc:
                yield ParsedRow(exc.line, None, ((None, exc.problem),))
            except UnicodeDecodeError:
                line, reason = _bad_utf8(self.path)
                problem = f"is not UTF-8 text ({reason}); save the file as UTF-8"
                yield ParsedRow(line, None, ((None, problem),))
            finally:
                text.detach()

    # CSV

    def _header(self, reader: Iterator[list[str]]) -> tuple[int, ...]:
        names = self.spec.column_names
        expected = f"(expected the columns {', '.join(names)})"
        try:
            header = next(reader)
        except StopIteration:
            raise _FileRejectedError(1, f"the file is empty {expected}") from None
        except csv.Error as exc:
            raise _FileRejectedError(1, f"header: not valid CSV ({exc}) {expected}") from exc
        problems = []
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            problems.append(f"duplicate column(s) {', '.join(map(repr, duplicates))}")
        unknown = [name for name in header if name not in names]
        if unknown:
            problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        missing = [name for name in names if name not in header]
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if problems:
            raise _FileRejectedError(1, f"header: {'; '.join(problems)} {expected}")
        return tuple(header.index(name) for name in names)

    def _csv(self, lines: Iterator[str]) -> Iterator[ParsedRow]:
        reader = csv.reader(lines, strict=True)
        positions = self._header(reader)
        # Plain text needs no conversion: skipping the call is a large share of the speed.
        plan = tuple(
            (position, col, None if col.type is TEXT else col.type.from_csv)
            for position, col in zip(positions, self.spec.columns, strict=True)
        )
        width = len(positions)
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                problem = f"not valid CSV ({exc}); check the quoting"
                raise _FileRejectedError(start, problem) from exc
            if not cells:
                continue
            if len(cells) != width:
                yield ParsedRow(
                    start, None, ((None, f"has {len(cells)} fields but the header has {width}"),)
                )
                continue
            if "" not in cells:
                # Fast path for a complete row; any problem redoes it the careful way.
                try:
                    row = tuple([
                        cells[position] if convert is None else convert(cells[position])
                        for position, _, convert in plan
                    ])
                except DataError:
                    pass
                else:
                    yield self._finish(start, row, [])
                    continue
            yield self._csv_row(start, cells, plan)

    def _csv_row(self, line: int, cells: list[str], plan: _CsvPlan) -> ParsedRow:
        values: list[SqlValue] = []
        problems: list[Problem] = []
        for position, col, convert in plan:
            raw = cells[position]
            if raw == "":
                if not col.nullable:
                    problems.append((col.name, _missing(col)))
                values.append(None)
            elif convert is None:
                values.append(raw)
            else:
                try:
                    values.append(convert(raw))
                except DataError as exc:
                    problems.append((col.name, str(exc)))
                    values.append(None)
        return self._finish(line, tuple(values), problems)

    def _finish(
        self, line: int, row: tuple[SqlValue, ...], problems: list[Problem]
    ) -> ParsedRow:
        if not problems:
            _apply_rules(self.spec, row, problems)
        if problems:
            return ParsedRow(line, None, tuple(problems))
        return ParsedRow(line, row)

    # JSON Lines

    def _jsonl(self, lines: Iterator[str]) -> Iterator[ParsedRow]:
        names = frozenset(self.spec.column_names)
        for line, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(
                    text, parse_float=Decimal, parse_constant=_reject_constant,
                    object_pairs_hook=_unique_keys,
                )
            except ValueError as exc:
                yield ParsedRow(line, None, ((None, f"is not valid JSON ({exc})"),))
                continue
            except RecursionError:
                problem = "nests arrays or objects too deeply (expected one flat object per line)"
                yield ParsedRow(line, None, ((None, problem),))
                continue
            if not isinstance(obj, dict):
                problem = "is not a JSON object (expected one object per line)"
                yield ParsedRow(line, None, ((None, problem),))
                continue
            yield self._json_row(line, obj, names)

    def _json_row(self, line: int, obj: Mapping[str, object], names: frozenset[str]) -> ParsedRow:
        problems: list[Problem] = [
            (key, f"is not a column of {self.spec.name} (expected only {self._column_list})")
            for key in obj
            if key not in names
        ]
        values: list[SqlValue] = []
        for col in self.spec.columns:
            value = obj.get(col.name)
            if value is None or value == "":
                if not col.nullable:
                    problems.append((col.name, _missing(col)))
                values.append(None)
                continue
            try:
                values.append(col.type.from_json(value))
            except DataError as exc:
                problems.append((col.name, str(exc)))
                values.append(None)
        return self._finish(line, tuple(values), problems)
