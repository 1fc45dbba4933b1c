"""A manifest read by pyarrow gives the rows csv.reader gives: files too irregular for
pyarrow to map line by line (here after the first runs of rows, so the csv reading takes
over part-way) give the same lines and the same first problem, line for line, as the
csv.DictReader reading of the whole file; blocks still hold ``block_lines`` lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fedtrade.node import attest_rows
from fedtrade.node.attest import manifest_blocks
from fedtrade.node.attest_rows import Rows
from fedtrade.protos import attestation_pb2
from fedtrade.trust.errors import DataError
from tests.node.test_attest_lines import HEADER, dict_reader_lines, row

ROWS = 11_000
AT = 10_500  # where a file turns irregular: past a first run of rows and the batch after it
BLOCK = 700


def _plain(n: int) -> list[str]:
    """A row whose fields are already canonical (read column-wise), one in 7 not."""
    if n % 7 == 0:
        return row(f"qx-{n:08d}")
    return ["Shipper", f"QX{n:08d}", "02366629441", f"Nancy Shah {n % 50}",
            f"{n} Hill Rd, Tucson AZ", "12.50", "USD", "847160", "2025-01-06", "CN"]


def _lines(path: Path) -> list[attestation_pb2.ManifestLine]:
    return [line for block in manifest_blocks(path, BLOCK)
            for line in attestation_pb2.ManifestBlock.FromString(block).lines]


def _write(path: Path, change: Callable[[int, list[str]], str | None] | None = None,
           header: list[str] = HEADER, newline: str = "\r\n", rows: int = ROWS) -> Path:
    """The manifest; ``change(n, row)`` may give row n's text instead."""
    with path.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerow(header)
        for n in range(rows):
            fields = _plain(n)
            text = change(n, fields) if change else None
            if text is None:
                writer.writerow(fields)
            else:
                handle.write(text)
    return path


def _line(fields: list[str]) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(fields)
    return text.getvalue()


IRREGULAR: dict[str, Callable[[int, list[str]], str | None]] = {
    "blank line": lambda n, f: "\r\n" + _line(f) if n == AT else None,
    "line break in a quoted field": lambda n, f: (
        _line(["Falcon Co.,\nLtd.", *f[1:]]) if n == AT else None),
    "short row without its last column": lambda n, f: _line(f[:-1]) if n == AT else None,
    "long row": lambda n, f: _line([*f, "extra"]) if n == AT else None,
}


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow reads 64 KiB at a time (not the 1 MiB it reads in use), so the files here
    turn irregular past a first run of rows and a batch after it."""
    monkeypatch.setattr(attest_rows, "_BATCH_BYTES", 1 << 16)


@pytest.fixture
def csv_takes_over(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows the csv reading was asked to skip, each time it took over."""
    skipped: list[int] = []
    original = attest_rows._csv_runs

    def recording(path: Path, block_lines: int, skip: int) -> Iterator[Rows]:
        skipped.append(skip)
        return original(path, block_lines, skip)

    monkeypatch.setattr(attest_rows, "_csv_runs", recording)
    return skipped


@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r", False), ("\r\n", True)])
def test_a_regular_file_is_read_by_pyarrow_alone(
        tmp_path: Path, csv_takes_over: list[int], newline: str, bom: bool) -> None:
    path = _write(tmp_path / "m.csv", newline=newline)
    if bom:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert _lines(path) == dict_reader_lines(path)
    assert csv_takes_over == []


def test_a_header_over_two_lines_is_read_by_csv_reader(
        tmp_path: Path, csv_takes_over: list[int]) -> None:
    header = [*HEADER[:-1], "origin\ncountry"]
    path = _write(tmp_path / "m.csv", header=header, rows=50)
    assert _lines(path) == dict_reader_lines(path)
    assert csv_takes_over == [0]


@pytest.mark.parametrize("irregular", IRREGULAR)
def test_an_irregular_file_reads_as_csv_reader_reads_it(
        tmp_path: Path, irregular: str, csv_takes_over: list[int]) -> None:
    path = _write(tmp_path / "m.csv", IRREGULAR[irregular])
    expected = dict_reader_lines(path)
    assert not isinstance(expected, str)
    blocks = [attestation_pb2.ManifestBlock.FromString(b).lines
              for b in manifest_blocks(path, BLOCK)]
    assert [line for block in blocks for line in block] == expected
    # pyarrow read a run of whole blocks, csv.reader the rest
    assert len(csv_takes_over) == 1
    assert csv_takes_over[0] >= 8192
    assert csv_takes_over[0] % BLOCK == 0
    assert [len(b) for b in blocks] == [BLOCK] * (ROWS // BLOCK) + [ROWS % BLOCK]
    assert [line for block in blocks for line in block] == expected


@pytest.mark.parametrize("bad_at", [100, AT - 5, AT + 5])  # read by pyarrow, or csv.reader
def test_a_bad_line_is_named_on_either_side_of_the_irregular_one(
        tmp_path: Path, bad_at: int) -> None:
    def change(n: int, fields: list[str]) -> str | None:
        if n == bad_at:
            return _line([*fields[:7], "85", *fields[8:]])
        return IRREGULAR["blank line"](n, fields)

    path = _write(tmp_path / "m.csv", change)
    expected = dict_reader_lines(path)
    assert isinstance(expected, str)
    number = expected.split(":")[0]
    with pytest.raises(DataError, match=rf"m\.csv:{number}: hs6 '85' is not 6 digits"):
        _lines(path)


def test_a_bill_repeated_across_the_two_readings_is_named(tmp_path: Path) -> None:
    def change(n: int, fields: list[str]) -> str | None:
        if n == AT + 10:
            return _line(_plain(3))
        return IRREGULAR["blank line"](n, fields)

    path = _write(tmp_path / "m.csv", change)
    with pytest.raises(DataError, match=rf"m\.csv:{AT + 13}: house bill QX00000003 is listed "
                                        "twice"):
        _lines(path)


@pytest.mark.parametrize(("content", "problem"), [
    # text that is not UTF-8, and a field longer than csv.reader takes: csv.reader's error
    (lambda n, f: _line(f).replace("Nancy", "Nan\udcffcy") if n == AT else None,
     r"m\.csv: not valid CSV \('utf-8' codec can't decode"),
    (lambda n, f: _line([*f[:-1], "x" * (csv.field_size_limit() + 1)]) if n == AT else None,
     r"m\.csv: not valid CSV \(field larger than field limit"),
])
def test_what_csv_reader_refuses_is_refused(
        tmp_path: Path, content: Callable[[int, list[str]], str | None], problem: str) -> None:
    path = tmp_path / "m.csv"
    _write(path, content)
    with pytest.raises(DataError, match=problem):
        _lines(path)
