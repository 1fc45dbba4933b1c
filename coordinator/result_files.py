"""Writing and reading a screening run's per-shipment results (results.csv, results.jsonl).

Files are written atomically: into a temporary file next to the target, renamed over
the target only when the whole run's results are in, removed when anything fails.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import chain, repeat
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

import numpy as np

from fedtrade.coordinator.results import (
    RESULT_COLUMNS,
    RISK_LEVELS,
    ResultBatch,
    ShipmentResult,
)
from fedtrade.coordinator.risk import Assessment, distinct_rows, worklist
from fedtrade.protocol.input_files import text_lines
from fedtrade.trust.errors import DataError
from fedtrade.trust.files import not_regular

__all__ = [
    "LIST_SEPARATORS",
    "ResultWriter",
    "atomic_text_file",
    "check_output_path",
    "read_results",
    "write_worklist",
]

# List-valued columns and how results.csv joins their items (see coordinator.results).
LIST_SEPARATORS: dict[str, str] = {
    "patterns": ";",
    "reasons": " | ",
    "manifest_only_patterns": ";",
    "answered_by": ";",
    "no_answer": " | ",
}

_SCORE = re.compile(r"-?[0-9]+")
# What json.dumps(..., ensure_ascii=False) escapes in a text; a text without any is written
# between quotes as it is.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_JSON_BILL = '{"house_bill": "'
# line endings ``write_batch`` keeps (a few hundred bytes each) before it starts again
_KEPT_ENDINGS = 4096


def check_output_path(path: Path | str) -> Path:
    """``path`` if a file can be written there (its folder exists; it is not a folder, a FIFO
    or a device); DataError saying why not. Run before long work whose output goes there."""
    target = Path(path)
    if not target.parent.is_dir():
        raise DataError(
            f"{target}: folder {target.parent} does not exist; create it or choose another path"
        )
    if target.is_dir():
        raise DataError(f"{target} is a folder; give the path of a file to write")
    kind = not_regular(target)
    if kind is not None:
        raise DataError(f"{target} is {kind}, not a regular file; give the path of a file to "
                        "write")
    return target


@contextmanager
def atomic_text_file(path: Path | str, *, newline: str | None = None) -> Iterator[TextIO]:
    """Open a UTF-8 text file that appears at ``path`` only if the ``with`` block succeeds."""
    target = check_output_path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        handle = tmp.open("x", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise DataError(
            f"{target}: cannot write in {target.parent} ({exc.strerror}); "
            f"choose a folder you may write to"
        ) from None
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check(result: ShipmentResult) -> None:
    """Refuse what results.csv could not give back unchanged."""
    where = f"result for house bill {result.house_bill!r}"
    if not result.house_bill:
        raise DataError("a result has an empty house bill; every result must name its shipment")
    if result.risk_level not in RISK_LEVELS:
        raise DataError(
            f"{where}: risk_level {result.risk_level!r} is not one of {', '.join(RISK_LEVELS)}"
        )
    if isinstance(result.score, bool) or not isinstance(result.score, int):
        raise DataError(f"{where}: score {result.score!r} is not a whole number")
    for column, sep in LIST_SEPARATORS.items():
        # " | " items may not hold "|" at all: an item ending in " |" would split wrongly.
        forbidden = sep.strip()
        for item in getattr(result, column):
            if not item:
                raise DataError(f"{where}: {column}: has an empty entry; drop it")
            if forbidden in item:
                raise DataError(
                    f"{where}: {column}: entry {item!r} contains {forbidden!r}, which separates "
                    f"entries in results.csv; replace it (e.g. with '/')"
                )


class ResultWriter:
    """Streams results to results.csv (and results.jsonl when given), atomically.

    Use as a context manager; ``write_batch`` each batch of results (or ``write`` one
    result) as it is ready. The files appear under their names when the ``with`` block
    ends without an exception.
    """

    def __init__(self, csv_path: Path | str, jsonl_path: Path | str | None = None) -> None:
        self.csv_path = Path(csv_path)
        self.jsonl_path = Path(jsonl_path) if jsonl_path is not None else None
        if self.jsonl_path is not None and self.jsonl_path.resolve() == self.csv_path.resolve():
            raise DataError(
                f"{self.csv_path}: given as both the CSV and the JSON Lines output; "
                f"give two different paths"
            )
        self.written = 0
        self._stack: ExitStack | None = None
        self._csv: TextIO | None = None
        self._jsonl: TextIO | None = None
        self._line = io.StringIO()
        # The default "\r\n" line ending (RFC 4180) also makes the writer quote a lone "\r".
        self._row_writer = csv.writer(self._line)
        self._endings: dict[tuple[Assessment, type, int, tuple[str, ...], tuple[str, ...]],
                            tuple[str, str]] = {}

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            self._csv = stack.enter_context(atomic_text_file(self.csv_path, newline=""))
            self._row_writer.writerow(RESULT_COLUMNS)
            self._csv.write(self._take_line())
            if self.jsonl_path is not None:
                self._jsonl = stack.enter_context(atomic_text_file(self.jsonl_path))
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack, self._csv, self._jsonl = self._stack, None, None, None
        if stack is not None:
            stack.__exit__(exc_type, exc, tb)

    def _take_line(self) -> str:
        line = self._line.getvalue()
        self._line.seek(0)
        self._line.truncate()
        return line

    def _csv_line(self, result: ShipmentResult) -> str:
        self._row_writer.writerow([
            result.house_bill, result.risk_level, result.score,
            *(sep.join(getattr(result, column)) for column, sep in LIST_SEPARATORS.items())])
        return self._take_line()

    def _ending(self, batch: ResultBatch, index: int) -> tuple[str, str]:
        """What follows the house bill of result ``index`` (whose bill holds no ",") in
        results.csv and in results.jsonl ('", "risk_level": ...}'), checked; kept for the
        results after it with the same assessment, flags and nodes, whatever their bill."""
        found = batch.assessed.at(index)
        # type: a score of True equals 1 but is refused
        key = (found, type(found.score), int(batch.manifest_only_code[index]),
               batch.answered_by, batch.no_answer)
        ending = self._endings.get(key)
        if ending is None:
            result = batch.result(index)
            _check(result)
            ending = (self._csv_line(result)[len(result.house_bill):],
                      '", ' + self._json_line(result).split(", ", 1)[1]
                      if self.jsonl_path is not None else "")
            if len(self._endings) >= _KEPT_ENDINGS:
                self._endings.clear()
            self._endings[key] = ending
        return ending

    @staticmethod
    def _json_line(result: ShipmentResult) -> str:
        record = {
            "house_bill": result.house_bill,
            "risk_level": result.risk_level,
            "score": result.score,
            **{column: list(getattr(result, column)) for column in LIST_SEPARATORS},
        }
        return json.dumps(record, ensure_ascii=False) + "\n"

    def _files(self) -> tuple[TextIO, TextIO | None]:
        if self._csv is None:
            raise RuntimeError("ResultWriter used outside its with block")
        return self._csv, self._jsonl

    def write(self, result: ShipmentResult) -> None:
        out, jsonl = self._files()
        _check(result)
        out.write(self._csv_line(result))
        if jsonl is not None:
            jsonl.write(self._json_line(result))
        self.written += 1

    def write_batch(self, batch: ResultBatch) -> None:
        """Write a batch column-wise: results with the same assessment and manifest-only
        flags differ only in their house bill, so each line is a bill and one of a few
        line endings, each written (and checked) once a run (``_ending``)."""
        out, jsonl = self._files()
        bills = batch.house_bill
        joined = "".join(bills)
        if "" in bills or any(c in joined for c in ',"\r\n'):
            for result in batch:  # text CSV would quote: row by row
                self.write(result)
            return
        # each shipment's line ending: its assessment and its manifest-only outcome
        first, ending = distinct_rows([batch.assessed.code * 4 + batch.manifest_only_code])
        endings = [self._ending(batch, index) for index in first.tolist()]
        out.write("".join(chain.from_iterable(zip(
            bills, np.array([e[0] for e in endings], object)[ending].tolist(), strict=True))))
        if jsonl is not None:
            tails = np.array([e[1] for e in endings], object)[ending].tolist()
            if _JSON_ESCAPED.search(joined) is None:  # each bill is its JSON text
                jsonl.write("".join(chain.from_iterable(
                    zip(repeat(_JSON_BILL), bills, tails, strict=False))))  # repeat: endless
            else:
                jsonl.write("".join(
                    f'{{"house_bill": {json.dumps(bill, ensure_ascii=False)}{tail[1:]}'
                    for bill, tail in zip(bills, tails, strict=True)))
        self.written += len(bills)


def read_results(path: Path | str) -> Iterator[ShipmentResult]:
    """Parse results.csv back, one result at a time; DataError names file:line: column."""
    path = Path(path)
    with text_lines(path, "results", hint="give the --out file of a screening run") as lines:
        reader = csv.reader(lines, strict=True)
        line = 1
        try:
            header = next(reader, None)
            if header is None:
                raise DataError(
                    f"{path}: file is empty; expected the header {','.join(RESULT_COLUMNS)}"
                )
            _check_header(path, header)
            end = reader.line_num
            for fields in reader:
                line, end = end + 1, reader.line_num
                yield _parse_row(path, line, fields)
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise DataError(
                f"{path}: not UTF-8 text after line {line}; results files are UTF-8 CSV"
            ) from None


def _check_header(path: Path, header: list[str]) -> None:
    if tuple(header) == RESULT_COLUMNS:
        return
    missing = [c for c in RESULT_COLUMNS if c not in header]
    extra = [c for c in header if c not in RESULT_COLUMNS]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    if not problems:
        problems.append("columns are out of order or repeated")
    raise DataError(
        f"{path}:1: header: {'; '.join(problems)}; a results file has exactly the columns "
        f"{','.join(RESULT_COLUMNS)}"
    )


def _parse_row(path: Path, line: int, fields: list[str]) -> ShipmentResult:
    if len(fields) != len(RESULT_COLUMNS):
        raise DataError(
            f"{path}:{line}: row has {len(fields)} field(s), expected {len(RESULT_COLUMNS)} "
            f"({','.join(RESULT_COLUMNS)})"
        )
    row = dict(zip(RESULT_COLUMNS, fields, strict=True))
    if not row["house_bill"]:
        raise DataError(f"{path}:{line}: house_bill: is empty; every row names its shipment")
    if row["risk_level"] not in RISK_LEVELS:
        raise DataError(
            f"{path}:{line}: risk_level: {row['risk_level']!r} is not one of "
            f"{', '.join(RISK_LEVELS)}"
        )
    if not _SCORE.fullmatch(row["score"]):
        raise DataError(f"{path}:{line}: score: {row['score']!r} is not a whole number")
    lists: dict[str, tuple[str, ...]] = {}
    for column, sep in LIST_SEPARATORS.items():
        items = tuple(row[column].split(sep)) if row[column] else ()
        if "" in items:
            raise DataError(
                f"{path}:{line}: {column}: has an empty entry (entries are joined with {sep!r})"
            )
        lists[column] = items
    return ShipmentResult(
        house_bill=row["house_bill"],
        risk_level=row["risk_level"],
        score=int(row["score"]),
        **lists,
    )


def write_worklist(results: Path | str, worklist_path: Path | str) -> int:
    """Write the shipments of ``results`` scored above zero, highest first (ties in
    manifest order), to ``worklist_path``; return how many."""
    scored = [r for r in read_results(results) if r.score > 0]
    with ResultWriter(worklist_path) as writer:
        for index in worklist([r.score for r in scored]):
            writer.write(scored[index])
    return len(scored)
