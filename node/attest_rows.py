"""The rows `fedtrade-node attest` signs, read a run of whole blocks at a time.

A manifest whose records are one line each is read by pyarrow's CSV reader, every
column as text (the line of a row is then its position plus two). A file pyarrow
cannot map line by line as ``csv.reader`` reads it (a quoted line break, a blank
line, a record with too few or too many fields, a field longer than
``csv.field_size_limit``, text that is not UTF-8, a repeated column name) is read by
``csv.reader`` from the point where that showed (the rows before are the same either
way), so every row and every problem still names its exact line.

A run of rows is given only once the reader has read a further batch without
trouble, and runs are cut at whole blocks counted from the first row: a problem the
csv reading would meet before it checks a block's rows (it reads a whole block, and
decodes ahead of it, first) is met here before that block too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from fedtrade.protocol.arrow_text import text_bytes, value_lengths
from fedtrade.trust.errors import DataError
from fedtrade.trust.files import not_regular
from fedtrade.trust.lines import LineTooLongError, capped_lines

__all__ = ["ATTESTED_COLUMNS", "Rows", "manifest_rows"]

ATTESTED_COLUMNS = ("house_bill", "mawb", "consignee_name", "consignee_address",
                    "declared_value", "currency", "hs6", "arrival_date")
# pyarrow reads ahead some batches; rows are worked on in longer runs (the column-wise
# steps cost less per row on more rows). At 1,000,000 lines, 1 MiB batches took 9.7 CPU-s
# against 12.3 with 64 KiB ones (each batch is checked column by column), for about
# 22 MiB more peak memory.
_BATCH_BYTES = 1 << 20
_RUN_ROWS = 8192
# A manifest has a few dozen columns; pyarrow keeps an array per column per batch, so a
# header of 100,000 names (a 1.6 MB file) took 1 GiB to read.
_MAX_COLUMNS = 1_000


@dataclass(frozen=True)
class Rows:
    """Consecutive rows that are not blank: the ``ATTESTED_COLUMNS`` as string arrays (a
    short row's missing fields empty) and each row's line number."""

    columns: list[pa.Array]
    numbers: npt.NDArray[np.int64]


class _Irregular(Exception):
    """pyarrow's reading of the file may differ from csv.reader's from here on."""


def _header(path: Path) -> tuple[list[str], list[int]]:
    """The header, and the place of each attested column in it (a repeated name: its last
    place, as csv.DictReader reads it)."""
    try:
        kind = not_regular(path)  # a FIFO would block, a device never end
        if kind is not None:
            raise DataError(f"{path}: is {kind}, not a regular file; give the manifest file")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(capped_lines(handle))
            header = next(reader, [])
            if reader.line_num > 1:
                header = []  # a header over several lines: pyarrow is not asked (below)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    except LineTooLongError as exc:
        raise DataError(f"{path}:{exc.line}: {exc}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid CSV ({exc})") from None
    return header, _places(path, header) if header else []


def _places(path: Path, header: list[str]) -> list[int]:
    if len(header) > _MAX_COLUMNS:
        raise DataError(f"{path}:1: the header has {len(header):,} columns, more than "
                        f"{_MAX_COLUMNS:,}; this is not a manifest")
    missing = [c for c in ATTESTED_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}:1: the header lacks {', '.join(missing)}")
    return [len(header) - 1 - header[::-1].index(c) for c in ATTESTED_COLUMNS]


def _check_batch(batch: pa.RecordBatch, bills: int) -> None:
    """_Irregular unless every row of ``batch`` is one line csv.reader reads alike (column
    ``bills``, the house bill, is checked for a blank line: where it is empty, the row is
    either refused or blank, and csv.reader tells which)."""
    limit = csv.field_size_limit()
    for column in batch.columns:
        text = text_bytes(column)
        if len(text) > limit and value_lengths(column).max() > limit:
            raise _Irregular  # csv.reader refuses a field that long (in characters)
        data = text.tobytes()
        if b"\n" in data or b"\r" in data:  # a line break inside a field
            raise _Irregular
    if (value_lengths(batch.column(bills)) == 0).any():
        raise _Irregular


def _arrow_runs(path: Path, header: list[str], places: list[int], block_lines: int,
                done: list[int]) -> Iterator[Rows]:
    """Runs of rows read by pyarrow; ``done[0]`` counts the rows given so far."""
    if not header or len(set(header)) != len(header):
        raise _Irregular
    try:
        with pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BATCH_BYTES, use_threads=False),
            # a row with too few or too many fields is an error (ArrowInvalid)
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}),
        ) as reader:
            if reader.schema != pa.schema([(name, pa.string()) for name in header]):
                raise _Irregular
            held = pa.Table.from_batches([], reader.schema)
            for batch in reader:
                _check_batch(batch, places[0])
                ready = held.num_rows // block_lines * block_lines
                if ready >= _RUN_ROWS:
                    yield _run(held.slice(0, ready), places, done)
                    held = held.slice(ready)
                held = pa.concat_tables([held, pa.Table.from_batches([batch])])
            if held.num_rows:
                yield _run(held, places, done)
    except (OSError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise _Irregular from None


def _run(table: pa.Table, places: list[int], done: list[int]) -> Rows:
    first = done[0]
    done[0] += table.num_rows
    return Rows([table.column(at).combine_chunks() for at in places],
                np.arange(first + 2, first + 2 + table.num_rows, dtype=np.int64))


def _csv_rows(path: Path, skip: int) -> Iterator[tuple[int, Sequence[str]]]:
    """(line number, the attested fields) of every row that is not blank, after the first
    ``skip``; a short row's missing fields are empty."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(capped_lines(handle))
            places = _places(path, next(reader, []))
            width = max(places) + 1
            pick = itemgetter(*places)
            for row in islice(filter(None, reader), skip, None):
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield reader.line_num, pick(row)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    except LineTooLongError as exc:
        raise DataError(f"{path}:{exc.line}: {exc}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid CSV ({exc})") from None


def _csv_runs(path: Path, block_lines: int, skip: int) -> Iterator[Rows]:
    """Runs of one block's rows (counted from the first row) read by csv.reader, after the
    first ``skip`` rows (whole blocks)."""
    chunk: list[tuple[int, Sequence[str]]] = []

    def run() -> Rows:
        return Rows([pa.array(values, pa.string())
                     for values in zip(*(fields for _, fields in chunk), strict=True)],
                    np.array([number for number, _ in chunk], np.int64))

    for item in _csv_rows(path, skip):
        chunk.append(item)
        if len(chunk) == block_lines:
            yield run()
            chunk = []
    if chunk:
        yield run()


def manifest_rows(path: Path, block_lines: int) -> Iterator[Rows]:
    """Every row of the manifest that is not blank, in runs of whole blocks of
    ``block_lines`` (the last run may end with a shorter one); DataError if the file
    cannot be read as CSV or its header lacks an attested column."""
    header, places = _header(path)
    done = [0]
    try:
        yield from _arrow_runs(path, header, places, block_lines, done)
    except _Irregular:
        yield from _csv_runs(path, block_lines, done[0])
