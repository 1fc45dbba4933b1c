"""Stream the rows of one CSV or JSON Lines import file, each checked against its TableSpec.

Nothing here holds more than one row: files are read line by line, and each
row comes out as a ``ParsedRow`` with its SQL values (in the spec's column
order) and the problems found in it. A value refused as written is normalised
(``ColumnType.normalise``) and checked again; each normalisation that made it
acceptable is listed in the row's ``changes``. A problem that makes the rest of
the file unreadable (a bad header, broken CSV quoting, text that is not UTF-8)
is reported as the last row.

Any file may carry one more column, ``version`` (a whole number, optional per
row): the row's version for amendments (``node.store.amend``). It comes out as
``ParsedRow.version``, apart from the table's values.

``raw_rows`` reads the same file again as written (CSV cells or JSON text), for
writing refused rows back in the input's own format.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import reprlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from fedtrade.node.store.columns import TEXT, SqlValue, integer
from fedtrade.node.store.schema import ColumnSpec, TableSpec
from fedtrade.trust.errors import DataError
from fedtrade.trust.lines import LineTooLongError, capped_lines

__all__ = [
    "ERROR_COLUMN",
    "FORMATS",
    "VERSION_COLUMN",
    "Change",
    "ParsedRow",
    "Problem",
    "RowReader",
    "raw_rows",
]

FORMATS = (".csv", ".jsonl")
ERROR_COLUMN = "import_error"
"""The column a rejects file adds; an import ignores it, so a fixed rejects file imports as is."""
VERSION_COLUMN = "version"
"""The optional column of any file: the row's version, a whole number (later replaces earlier)."""
_VERSION = integer(0)

Problem = tuple[str | None, str]
"""(field or None for the whole row, problem text)."""

_CsvPlan = tuple[tuple[int, ColumnSpec, Callable[[str], SqlValue] | None], ...]


@dataclass(frozen=True, slots=True)
class Change:
    """A value the import normalised: as written, as stored, and how."""

    field: str
    original: str
    stored: str
    how: str
    lossy: bool


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One row: its values (None where a field was refused) and its problems, if any."""

    line: int
    values: tuple[SqlValue, ...] | None
    problems: tuple[Problem, ...] = ()
    changes: tuple[Change, ...] = ()
    version: int | None = None


def _convert(
    col: ColumnSpec, raw: str, convert: Callable[[str], SqlValue] | None,
    changes: list[Change],
) -> SqlValue:
    """``raw`` normalised and converted; raises DataError. Only rows refused as written
    come here, so normalising before the one conversion costs clean files nothing."""
    normalise = col.type.normalise
    if normalise is None:
        return raw if convert is None else convert(raw)
    canon = normalise(raw)
    value = col.type.from_csv(canon)
    if canon is not raw:
        changes.append(Change(col.name, raw, canon, col.type.normalised, col.type.lossy))
    return value


def _blank(col: ColumnSpec, raw: str) -> bool:
    """An empty value, or one only spaces for a type that trims (a free text keeps them)."""
    return raw == "" or (col.type.normalise is not None and not raw.strip())


def _versioned(row: ParsedRow, raw: object, convert: Callable[[Any], SqlValue]) -> ParsedRow:
    """``row`` with its version (empty: none), or with the version's problem."""
    if raw == "":
        return row
    try:
        version = convert(raw)
    except DataError as exc:
        return replace(row, problems=(*row.problems, (VERSION_COLUMN, str(exc))))
    assert isinstance(version, int)
    return replace(row, version=version)


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


_QUOTE = reprlib.Repr()
_QUOTE.maxstring = 40


def _some(names: list[str], shown: int = 10) -> str:
    """The first ``shown`` of ``names``, each quoted short: a header may have any width."""
    more = f", and {len(names) - shown:,} more" if len(names) > shown else ""
    return ", ".join(map(_QUOTE.repr, names[:shown])) + more


def _bad_utf8(path: Path) -> tuple[int, str]:
    """The first line of ``path`` that is not UTF-8, and why (read in chunks: the file may
    have no line break at all)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: max(exc.start, 0)].count(b"\n"), exc.reason
            line += chunk.count(b"\n")
    return 1, "undecodable text"


class RowReader:
    """Iterate over the rows of ``path`` (``.csv`` or ``.jsonl``) for table ``spec``."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self.path = path
        self.spec = spec
        self._binary: BinaryIO | None = None
        self._column_list = ", ".join(spec.column_names)
        self._width = 0
        self._version_at: int | None = None

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
            lines = capped_lines(text)
            try:
                if self.path.suffix.lower() == ".csv":
                    yield from self._csv(lines)
                else:
                    yield from self._jsonl(lines)
            except _FileRejectedError as exc:
                yield ParsedRow(exc.line, None, ((None, exc.problem),))
            except LineTooLongError as exc:
                yield ParsedRow(exc.line, None, ((None, str(exc)),))
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
        duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
        if duplicates:
            problems.append(f"duplicate column(s) {_some(duplicates)}")
        unknown = [name for name in dict.fromkeys(header)
                   if name not in names and name not in (ERROR_COLUMN, VERSION_COLUMN)]
        if unknown:
            problems.append(f"unknown column(s) {_some(unknown)}")
        missing = [name for name in names if name not in header]
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if problems:
            raise _FileRejectedError(1, f"header: {'; '.join(problems)} {expected}")
        self._width = len(header)
        self._version_at = header.index(VERSION_COLUMN) if VERSION_COLUMN in header else None
        return tuple(header.index(name) for name in names)

    def _csv(self, lines: Iterator[str]) -> Iterator[ParsedRow]:
        reader = csv.reader(lines, strict=True)
        positions = self._header(reader)
        # Plain text needs no conversion: skipping the call is a large share of the speed.
        plan = tuple(
            (position, col, None if col.type is TEXT else col.type.from_csv)
            for position, col in zip(positions, self.spec.columns, strict=True)
        )
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
            if len(cells) != self._width:
                yield ParsedRow(
                    start, None,
                    ((None, f"has {len(cells)} fields but the header has {self._width}"),),
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
                    parsed = self._finish(start, row, [])
                    yield parsed if self._version_at is None else _versioned(
                        parsed, cells[self._version_at], _VERSION.from_csv)
                    continue
            parsed = self._csv_row(start, cells, plan)
            yield parsed if self._version_at is None else _versioned(
                parsed, cells[self._version_at], _VERSION.from_csv)

    def _csv_row(self, line: int, cells: list[str], plan: _CsvPlan) -> ParsedRow:
        values: list[SqlValue] = []
        problems: list[Problem] = []
        changes: list[Change] = []
        for position, col, convert in plan:
            raw = cells[position]
            if _blank(col, raw):
                if not col.nullable:
                    problems.append((col.name, _missing(col)))
                values.append(None)
                continue
            try:
                values.append(_convert(col, raw, convert, changes))
            except DataError as exc:
                problems.append((col.name, str(exc)))
                values.append(None)
        return self._finish(line, tuple(values), problems, changes)

    def _finish(
        self, line: int, row: tuple[SqlValue, ...], problems: list[Problem],
        changes: list[Change] | None = None,
    ) -> ParsedRow:
        if not problems:
            _apply_rules(self.spec, row, problems)
            if not problems and not changes:
                return ParsedRow(line, row)
        return ParsedRow(line, row, tuple(problems), tuple(changes or ()))

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
            parsed = self._json_row(line, obj, names)
            version = obj.get(VERSION_COLUMN)
            yield parsed if version is None else _versioned(
                parsed, version, _VERSION.from_json)

    def _json_row(self, line: int, obj: Mapping[str, object], names: frozenset[str]) -> ParsedRow:
        problems: list[Problem] = [
            (key, f"is not a column of {self.spec.name} (expected only {self._column_list})")
            for key in obj
            if key not in names and key not in (ERROR_COLUMN, VERSION_COLUMN)
        ]
        values: list[SqlValue] = []
        changes: list[Change] = []
        for col in self.spec.columns:
            value = obj.get(col.name)
            if value is None or (isinstance(value, str) and _blank(col, value)):
                if not col.nullable:
                    problems.append((col.name, _missing(col)))
                values.append(None)
                continue
            try:
                values.append(self._json_value(col, value, changes))
            except DataError as exc:
                problems.append((col.name, str(exc)))
                values.append(None)
        return self._finish(line, tuple(values), problems, changes)

    @staticmethod
    def _json_value(col: ColumnSpec, value: object, changes: list[Change]) -> SqlValue:
        try:
            return col.type.from_json(value)
        except DataError:
            # a string of a text type, or a number of a money column (556.636), is normalised
            if col.type.normalise is None:
                raise
            if isinstance(value, str) and col.type.sql == "TEXT":
                text = value
            elif col.type.sql == "REAL" and isinstance(value, int | Decimal) \
                    and not isinstance(value, bool):
                text = str(value)
            else:
                raise
            return _convert(col, text, col.type.from_csv, changes)


def raw_rows(path: Path) -> Iterator[tuple[int, list[str] | str]]:
    """The rows of ``path`` as written: (line, CSV cells) with the header as line 1, or
    (line, JSON text). Only for files already read by ``RowReader``."""
    with path.open(encoding="utf-8-sig", newline="") as text:
        lines = capped_lines(text)
        if path.suffix.lower() == ".csv":
            reader = csv.reader(lines, strict=True)
            while True:
                start = reader.line_num + 1
                try:
                    cells = next(reader)
                except (StopIteration, csv.Error, LineTooLongError):
                    return
                if cells:
                    yield start, cells
        else:
            try:
                for line, row in enumerate(lines, start=1):
                    if row.strip():
                        yield line, row.rstrip("\r\n")
            except LineTooLongError:
                return
