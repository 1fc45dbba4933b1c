"""results.csv / results.jsonl: round trips, atomic writes, and clear errors on bad files."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.result_files import ResultWriter, read_results
from fedtrade.coordinator.results import (
    RESULT_COLUMNS,
    RISK_LEVELS,
    SPLIT,
    UNDERVALUATION,
    ResultBatch,
    ShipmentResult,
    manifest_only_patterns,
)
from fedtrade.coordinator.risk import Assessed, Assessment
from fedtrade.trust.errors import DataError

HEADER = ",".join(RESULT_COLUMNS) + "\r\n"


def _items(forbidden: str) -> st.SearchStrategy[tuple[str, ...]]:
    item = st.text(min_size=1, max_size=12).filter(lambda s: forbidden not in s)
    return st.lists(item, max_size=3).map(tuple)


results_strategy = st.builds(
    ShipmentResult,
    house_bill=st.text(min_size=1, max_size=14),
    risk_level=st.sampled_from(RISK_LEVELS),
    score=st.integers(-(10**6), 10**6),
    patterns=_items(";"),
    reasons=_items("|"),
    manifest_only_patterns=_items(";"),
    answered_by=_items(";"),
    no_answer=_items("|"),
)


BASE = ShipmentResult(
    house_bill="HB1",
    risk_level="high",
    score=7,
    patterns=("undervaluation", "split_shipment"),
    reasons=("marketplace: paid/declared ratio band <0.5",
             "carrier+broker: consignee over threshold on 2026-11-02"),
    manifest_only_patterns=("split_shipment",),
    answered_by=("marketplace-1", "carrier-1"),
    no_answer=("broker-1: deadline exceeded",),
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _leftovers(folder: Path, *keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@settings(max_examples=60, deadline=None)
@given(st.lists(results_strategy, max_size=6))
def test_round_trip_csv_and_jsonl(tmp_path_factory: pytest.TempPathFactory,
                                  results: list[ShipmentResult]) -> None:
    folder = tmp_path_factory.mktemp("rt")
    with ResultWriter(folder / "results.csv", folder / "results.jsonl") as writer:
        for result in results:
            writer.write(result)
    assert writer.written == len(results)
    assert list(read_results(folder / "results.csv")) == results
    lines = (folder / "results.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    records = [json.loads(line) for line in lines]
    assert len(records) == len(results)
    for record, result in zip(records, results, strict=True):
        assert list(record) == list(RESULT_COLUMNS)
        assert record["reasons"] == list(result.reasons)
        assert record["score"] == result.score
        assert ShipmentResult(
            house_bill=record["house_bill"],
            risk_level=record["risk_level"],
            score=record["score"],
            patterns=tuple(record["patterns"]),
            reasons=tuple(record["reasons"]),
            manifest_only_patterns=tuple(record["manifest_only_patterns"]),
            answered_by=tuple(record["answered_by"]),
            no_answer=tuple(record["no_answer"]),
        ) == result


def test_csv_layout_is_the_documented_one(tmp_path: Path) -> None:
    with ResultWriter(tmp_path / "results.csv") as writer:
        writer.write(BASE)
        writer.write(replace(BASE, house_bill="HB2", risk_level="low", score=0, patterns=(),
                             reasons=(), manifest_only_patterns=(), no_answer=()))
    with (tmp_path / "results.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0] == {
        "house_bill": "HB1",
        "risk_level": "high",
        "score": "7",
        "patterns": "undervaluation;split_shipment",
        "reasons": "marketplace: paid/declared ratio band <0.5 | "
                   "carrier+broker: consignee over threshold on 2026-11-02",
        "manifest_only_patterns": "split_shipment",
        "answered_by": "marketplace-1;carrier-1",
        "no_answer": "broker-1: deadline exceeded",
    }
    assert rows[1]["patterns"] == rows[1]["reasons"] == rows[1]["no_answer"] == ""
    assert _leftovers(tmp_path) == ["results.csv"]


def test_rows_stream_to_disk_before_close(tmp_path: Path) -> None:
    with ResultWriter(tmp_path / "results.csv") as writer:
        for n in range(5000):
            writer.write(replace(BASE, house_bill=f"HB{n}"))
        (temp,) = tmp_path.iterdir()
        assert temp.name.startswith(".results.csv.")
        assert temp.stat().st_size > 100_000
        assert not (tmp_path / "results.csv").exists()
    assert len(list(read_results(tmp_path / "results.csv"))) == 5000


def _write_then_fail(writer: ResultWriter, failure: BaseException) -> None:
    with writer:
        writer.write(BASE)
        raise failure


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    old = _write(tmp_path / "results.csv", HEADER)
    with pytest.raises(KeyError):
        _write_then_fail(ResultWriter(old, tmp_path / "results.jsonl"), KeyError("failed"))
    assert _leftovers(tmp_path) == ["results.csv"]
    assert old.read_bytes() == HEADER.encode()


def test_interrupt_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _write_then_fail(ResultWriter(tmp_path / "r.csv"), KeyboardInterrupt())
    assert _leftovers(tmp_path) == []


def test_success_replaces_the_old_file(tmp_path: Path) -> None:
    _write(tmp_path / "results.csv", "stale\n")
    with ResultWriter(tmp_path / "results.csv") as writer:
        writer.write(BASE)
    assert [r.house_bill for r in read_results(tmp_path / "results.csv")] == ["HB1"]
    assert _leftovers(tmp_path) == ["results.csv"]


REFUSED = [
    (replace(BASE, reasons=("a | b",)), "HB1': reasons: entry 'a | b' contains '|'"),
    (replace(BASE, no_answer=("ends with |",)), "HB1': no_answer: entry .* contains '|'"),
    (replace(BASE, patterns=("a;b",)), "HB1': patterns: entry 'a;b' contains ';'"),
    (replace(BASE, patterns=("a", ";")), "HB1': patterns: entry ';' contains ';'"),
    (replace(BASE, answered_by=("",)), "HB1': answered_by: has an empty entry"),
    (replace(BASE, risk_level="severe"), "risk_level 'severe' is not one of high, medium"),
    (replace(BASE, score=1.5), "score 1.5 is not a whole number"),  # type: ignore[arg-type]
    (replace(BASE, score=True), "score True is not a whole number"),
]


def _batch_of(first: ShipmentResult, bills: Sequence[str]) -> ResultBatch:
    """``first`` and, after it, shipments that met no rule (with its nodes)."""
    size = 1 + len(bills)
    low, split = np.zeros(size, bool), np.zeros(size, bool)
    low[0] = UNDERVALUATION in first.manifest_only_patterns
    split[0] = SPLIT in first.manifest_only_patterns
    assert manifest_only_patterns(bool(low[0]), bool(split[0])) == first.manifest_only_patterns
    assessed = Assessed((Assessment(0, "low", (), (), ()), Assessment(
        first.score, first.risk_level, first.patterns, first.reasons)),
        np.array([1] + [0] * len(bills)))
    return ResultBatch([first.house_bill, *bills], low, split, first.answered_by,
                       first.no_answer, assessed)


@pytest.mark.parametrize(("bad", "message"), REFUSED)
def test_a_batch_refuses_a_bad_result_as_writing_it_alone_does(
    tmp_path: Path, bad: ShipmentResult, message: str
) -> None:
    with ResultWriter(tmp_path / "results.csv") as writer:
        with pytest.raises(DataError, match=message):
            writer.write_batch(_batch_of(bad, ["HB2"]))
        assert writer.written == 0
    assert (tmp_path / "results.csv").read_bytes() == HEADER.encode()


@pytest.mark.parametrize(("bad", "message"),
                         [*REFUSED, (replace(BASE, house_bill=""), "empty house bill")])
def test_writer_refuses_what_csv_cannot_round_trip(
    tmp_path: Path, bad: ShipmentResult, message: str
) -> None:
    with ResultWriter(tmp_path / "results.csv") as writer:
        writer.write(BASE)
        with pytest.raises(DataError, match=message):
            writer.write(bad)
        assert writer.written == 1
    assert [r.house_bill for r in read_results(tmp_path / "results.csv")] == ["HB1"]


def test_writer_misuse_and_bad_targets(tmp_path: Path) -> None:
    writer = ResultWriter(tmp_path / "results.csv")
    with pytest.raises(RuntimeError, match="outside its with block"):
        writer.write(BASE)
    with pytest.raises(DataError, match="both the CSV and the JSON Lines"):
        ResultWriter(tmp_path / "r.csv", tmp_path / "r.csv")
    with pytest.raises(DataError, match="does not exist; create it"), \
            ResultWriter(tmp_path / "nowhere" / "r.csv"):
        pass
    with pytest.raises(DataError, match="is a folder"), ResultWriter(tmp_path):
        pass
    # A failing second file must not leave the first one's temp file behind.
    with pytest.raises(DataError, match="does not exist"), \
            ResultWriter(tmp_path / "r.csv", tmp_path / "nowhere" / "r.jsonl"):
        pass
    assert _leftovers(tmp_path) == []


GOOD_ROW = "HB1,high,7,undervaluation,marketplace: band <0.5,,marketplace-1,\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty; expected the header house_bill,"),
        ("house_bill,risk_level\n", ":1: header: missing column(s) score, patterns"),
        (HEADER.replace("score", "points"),
         ":1: header: missing column(s) score; unexpected column(s) points"),
        (HEADER.replace("house_bill,risk_level", "risk_level,house_bill"),
         ":1: header: columns are out of order"),
        (HEADER + GOOD_ROW + "HB2,high,7\n", ":3: row has 3 field"),
        (HEADER + GOOD_ROW + "\n", ":3: row has 0 field"),
        (HEADER + ",high,1,,,,,\n", ":2: house_bill: is empty"),
        (HEADER + "HB1,severe,1,,,,,\n", ":2: risk_level: 'severe' is not one of high"),
        (HEADER + "HB1,low,1_000,,,,,\n", ":2: score: '1_000' is not a whole number"),
        (HEADER + "HB1,low,,,,,,\n", ":2: score: '' is not a whole number"),
        (HEADER + "HB1,low,1,a;;b,,,,\n", ":2: patterns: has an empty entry"),
        (HEADER + "HB1,low,1,, | x,,,\n", ":2: reasons: has an empty entry"),
        (HEADER + 'HB1,low,1,"unterminated,,,,\n', ":2: not valid CSV"),
    ],
)
def test_reader_names_file_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "results.csv", text)
    with pytest.raises(DataError) as info:
        list(read_results(path))
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_reader_line_numbers_count_multiline_fields(tmp_path: Path) -> None:
    path = _write(tmp_path / "results.csv",
                  HEADER + 'HB1,low,1,,"two\nlines",,,\n' + "HB2,low,x,,,,,\n")
    with pytest.raises(DataError, match=r"results\.csv:4: score: 'x'"):
        list(read_results(path))


def test_reader_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No such file or directory; give the --out file"):
        list(read_results(tmp_path / "absent.csv"))
    path = tmp_path / "binary.csv"
    path.write_bytes(HEADER.encode() + b"\xff\xfe,,\n")
    with pytest.raises(DataError, match="not UTF-8 text"):
        list(read_results(path))


_BILLS = st.sampled_from(["HB1", "HB2", "QX3100001697", "HB,4", 'HB"5', "\u00c9B6"])


_PATTERNS = _items(";")


@st.composite
def result_batches(draw: st.DrawFn, patterns: st.SearchStrategy[tuple[str, ...]] = _PATTERNS,
                   bills_strategy: st.SearchStrategy[str] = _BILLS) -> ResultBatch:
    bills = draw(st.lists(bills_strategy, min_size=1, max_size=12))
    size = len(bills)
    flags = st.lists(st.booleans(), min_size=size, max_size=size)
    low, split = np.array(draw(flags), bool), np.array(draw(flags), bool)
    answered_by, no_answer = draw(_items(";")), draw(_items("|"))
    assessments = st.builds(Assessment, score=st.integers(-(10**6), 10**6),
                            level=st.sampled_from(RISK_LEVELS), patterns=patterns,
                            reasons=_items("|"))
    distinct = (Assessment(0, "low", (), (), ()), *draw(st.lists(assessments, max_size=4)))
    code = draw(st.lists(st.integers(0, len(distinct) - 1), min_size=size, max_size=size))
    return ResultBatch(bills, low, split, answered_by, no_answer,
                       Assessed(distinct, np.array(code, np.int64)))


@settings(max_examples=60, deadline=None)
@given(st.lists(result_batches(), max_size=4))
def test_a_batch_is_written_as_its_results_one_by_one(
    tmp_path_factory: pytest.TempPathFactory, batches: list[ResultBatch],
) -> None:
    """The column-wise writer's lines are byte for byte those of writing each result."""
    folder = tmp_path_factory.mktemp("batches")
    with ResultWriter(folder / "a.csv", folder / "a.jsonl") as by_batch:
        for batch in batches:
            by_batch.write_batch(batch)
    with ResultWriter(folder / "b.csv", folder / "b.jsonl") as one_by_one:
        for batch in batches:
            for result in batch:
                one_by_one.write(result)
    assert by_batch.written == one_by_one.written == sum(len(b) for b in batches)
    for suffix in ("csv", "jsonl"):
        assert (folder / f"a.{suffix}").read_bytes() == (folder / f"b.{suffix}").read_bytes()
    assert [r.house_bill for r in read_results(folder / "a.csv")] == \
        [bill for batch in batches for bill in batch.house_bill]


# Bills JSON escapes (backslash, control characters) or writes as they are (other unicode,
# U+2028, DEL), but without what makes text CSV quote: the column-wise CSV path.
_JSON_BILLS = st.one_of(
    st.sampled_from(["HB1", "A\\B", "T\tAB", "\x00", "\x1f", "\u2028", "\x7f", "\u00e9\U0001f600",
                     "\ud800", " ", "HB1"]),
    st.text(st.characters(exclude_characters=',"\r\n'), min_size=1, max_size=6))


@settings(max_examples=200, deadline=None)
@given(st.lists(result_batches(bills_strategy=_JSON_BILLS), max_size=3))
def test_a_batch_of_any_bills_writes_the_json_lines_of_its_results(
    tmp_path_factory: pytest.TempPathFactory, batches: list[ResultBatch],
) -> None:
    """A bill written between quotes as it is, or escaped where JSON needs it: the lines are
    those json.dumps gives each result (in memory: UTF-8 would refuse a lone surrogate)."""
    folder = tmp_path_factory.mktemp("json")
    for batch in batches:
        with ResultWriter(folder / "a.csv", folder / "a.jsonl") as writer:
            writer._csv, writer._jsonl = io.StringIO(), io.StringIO()
            writer.write_batch(batch)
            written = writer._jsonl.getvalue()
        assert written == "".join(ResultWriter._json_line(r) for r in batch)
        for line, result in zip(written.split("\n"), batch, strict=False):
            assert json.loads(line)["house_bill"] == result.house_bill


def test_line_endings_kept_between_batches_are_those_of_their_nodes_and_checks(
    tmp_path: Path,
) -> None:
    """An ending kept from one batch is reused only for the same assessment, manifest-only
    flags and nodes: other nodes write their own, and a score of True (equal to 1) is still
    refused where writing it alone refuses it."""
    found = Assessment(1, "low", ("p",), ("r (+1)",), (1,))
    assessed = Assessed((Assessment(0, "low", (), (), ()), found), np.array([1, 1]))
    first = ResultBatch(["HB1", "HB2"], np.array([False, True]), np.zeros(2, bool),
                        ("a",), (), assessed)
    other = replace(first, house_bill=["HB3", "HB4"], answered_by=("b",),
                    no_answer=("c: down",))
    with ResultWriter(tmp_path / "a.csv", tmp_path / "a.jsonl") as writer:
        for batch in (first, other, first):
            writer.write_batch(batch)
    with ResultWriter(tmp_path / "b.csv", tmp_path / "b.jsonl") as writer:
        for batch in (first, other, first):
            for result in batch:
                writer.write(result)
    for suffix in ("csv", "jsonl"):
        assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes()
    flagged = replace(first, assessed=Assessed(
        (assessed.distinct[0], replace(found, score=True)), assessed.code))
    assert flagged.result(0).score == 1
    with ResultWriter(tmp_path / "c.csv") as writer:
        writer.write_batch(first)
        with pytest.raises(DataError, match="score True is not a whole number"):
            writer.write_batch(flagged)
