"""Evaluation arithmetic on hand-made cases, ground-truth validation, and a synth world."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.coordinator.result_files import ResultWriter, read_results
from fedtrade.coordinator.results import ShipmentResult
from fedtrade.sim.evaluate import (
    Counts,
    Evaluation,
    budgets,
    evaluate,
    format_evaluation,
    manifest_only_score,
)
from fedtrade.sim.synth import PATTERNS, generate
from fedtrade.trust.errors import DataError


def _result(bill: str, patterns: Iterable[str] = (),
            manifest_only: Iterable[str] = ()) -> ShipmentResult:
    patterns = tuple(patterns)
    return ShipmentResult(
        house_bill=bill,
        risk_level="high" if patterns else "low",
        score=10 * len(patterns),
        patterns=patterns,
        reasons=tuple(f"marketplace: {p}" for p in patterns),
        manifest_only_patterns=tuple(manifest_only),
        answered_by=("marketplace-1", "carrier-1", "broker-1"),
        no_answer=(),
    )


def _truth(tmp_path: Path, rows: Iterable[tuple[str, str]],
           header: str = "house_bill,pattern") -> Path:
    path = tmp_path / "ground_truth.csv"
    path.write_text(header + "\n" + "".join(f"{b},{p}\n" for b, p in rows), encoding="utf-8")
    return path


TRUTH = [
    ("HB1", "undervaluation"),
    ("HB2", "undervaluation"),
    ("HB3", "undervaluation"),
    ("HB3", "split_shipment"),  # co-occurring with undervaluation on the same shipment
    ("HB4", "split_shipment"),
]
RESULTS = [
    _result("HB1", ["undervaluation"]),
    _result("HB2"),
    _result("HB3", ["undervaluation", "split_shipment"], ["split_shipment"]),
    _result("HB4", ["split_shipment"], ["split_shipment"]),
    _result("HB5", ["undervaluation", "recalled_product"], ["split_shipment"]),
    _result("HB6"),
]


@pytest.fixture
def hand_made(tmp_path: Path) -> Evaluation:
    return evaluate(RESULTS, _truth(tmp_path, TRUTH))


def test_counts_precision_and_recall() -> None:
    assert Counts(tp=2, fp=1, fn=1).precision == pytest.approx(2 / 3)
    assert Counts(tp=2, fp=1, fn=1).recall == pytest.approx(2 / 3)
    assert Counts(tp=0, fp=0, fn=3).precision is None
    assert Counts(tp=0, fp=0, fn=3).recall == 0.0
    assert Counts(tp=0, fp=4, fn=0).precision == 0.0
    assert Counts(tp=0, fp=4, fn=0).recall is None


def test_hand_made_arithmetic(hand_made: Evaluation) -> None:
    assert hand_made.shipments == 6
    under = hand_made.score("undervaluation")
    assert under.planted == 3
    assert under.federation == Counts(tp=2, fp=1, fn=1)
    assert under.manifest_only == Counts(tp=0, fp=0, fn=3)
    assert under.manifest_only.precision is None  # the manifest flagged nothing

    split = hand_made.score("split_shipment")
    assert split.planted == 2
    assert split.federation == Counts(tp=2, fp=0, fn=0)
    assert (split.federation.precision, split.federation.recall) == (1.0, 1.0)
    assert split.manifest_only == Counts(tp=2, fp=1, fn=0)

    never = hand_made.score("recalled_product")  # flagged, but never planted
    assert never.planted == 0
    assert never.federation == Counts(tp=0, fp=1, fn=0)
    assert never.federation.recall is None
    assert never.federation.precision == 0.0

    quiet = hand_made.score("misclassification")
    assert quiet.federation == quiet.manifest_only == Counts(0, 0, 0)
    assert [s.pattern for s in hand_made.scores] == list(PATTERNS)
    assert hand_made.visible_patterns() == ("undervaluation", "split_shipment")


def test_targets(hand_made: Evaluation) -> None:
    check = hand_made.check_targets()
    assert check.patterns == ("undervaluation", "split_shipment")
    assert not check.met
    assert check.failures == ("undervaluation: recall 0.6667 < 0.95, precision 0.6667 < 0.9",)
    assert hand_made.check_targets(["split_shipment"]).met
    assert hand_made.check_targets(["split_shipment"], recall_target=1.0).met
    explicit = hand_made.check_targets(["split_shipment", "new_seller", "recalled_product"])
    assert explicit.failures == (
        "new_seller: never planted, recall cannot be measured",
        "recalled_product: never planted, recall cannot be measured",
    )
    assert not hand_made.check_targets([]).met
    with pytest.raises(DataError, match="unknown pattern"):
        hand_made.check_targets(["smuggling"])


def test_precision_undefined_when_nothing_flagged(tmp_path: Path) -> None:
    evaluation = evaluate([_result("HB1"), _result("HB2")],
                          _truth(tmp_path, [("HB1", "unscreened")]))
    counts = evaluation.score("unscreened").federation
    assert counts == Counts(tp=0, fp=0, fn=1)
    assert counts.precision is None
    assert evaluation.visible_patterns() == ()
    assert evaluation.check_targets(["unscreened"]).failures == (
        "unscreened: recall 0.0000 < 0.95, nothing flagged, precision n/a",
    )
    text = format_evaluation(evaluation)
    assert "NOT MET — no pattern to check (the federation flagged no planted" in text


def test_format_is_an_aligned_table(hand_made: Evaluation) -> None:
    text = format_evaluation(hand_made)
    lines = text.splitlines()
    assert lines[0].startswith("6 shipments evaluated against ")
    table = lines[2:2 + 2 + len(PATTERNS)]
    assert table[0].split() == ["pattern", "planted", "federation", "precision", "recall",
                                "manifest-only", "precision", "recall"]
    assert len({len(line) for line in table}) == 1  # every column lines up
    rows = {line.split()[0]: line.split()[1:] for line in table[2:]}
    assert rows["undervaluation"] == ["3", "0.667", "0.667", "n/a", "0.000"]
    assert rows["split_shipment"] == ["2", "1.000", "1.000", "0.667", "1.000"]
    assert rows["recalled_product"] == ["0", "0.000", "n/a", "n/a", "n/a"]
    assert lines[-1] == (
        "targets (recall >= 0.95 and precision >= 0.9): NOT MET for 1 of 2 pattern(s) "
        "checked: undervaluation: recall 0.6667 < 0.95, precision 0.6667 < 0.9"
    )
    assert format_evaluation(hand_made, ["split_shipment"]).splitlines()[-1] == (
        "targets (recall >= 0.95 and precision >= 0.9): MET for all 1 pattern(s) "
        "checked: split_shipment"
    )


def test_unknown_flagged_patterns_are_reported(tmp_path: Path) -> None:
    evaluation = evaluate([_result("HB1", ["undervaluation", "smuggling"], ["smuggling"])],
                          _truth(tmp_path, [("HB1", "undervaluation")]))
    assert evaluation.unknown_patterns == {"smuggling": 2}
    assert evaluation.score("undervaluation").federation == Counts(1, 0, 0)
    assert "ground truth does not know (not scored): smuggling (2)" in format_evaluation(
        evaluation)


def test_duplicate_ground_truth_rows_count_once(tmp_path: Path) -> None:
    evaluation = evaluate([_result("HB1", ["unscreened"])],
                          _truth(tmp_path, [("HB1", "unscreened"), ("HB1", "unscreened")]))
    assert evaluation.score("unscreened").planted == 1
    assert evaluation.score("unscreened").federation == Counts(1, 0, 0)


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("house_bill,kind", [], ":1: header: missing column(s) pattern"),
        ("pattern", [], ":1: header: missing column(s) house_bill"),
        ("house_bill,pattern", [("HB1", "undervaluation"), ("HB2", "smuggling")],
         ":3: pattern: 'smuggling' is not a pattern the generator plants"),
        ("house_bill,pattern", [("", "undervaluation")], ":2: house_bill: is empty"),
        ("house_bill,pattern", [("HB1", "undervaluation,extra")],
         ":2: row has 3 field(s), expected 2"),
        ("house_bill,pattern", [("HB1", "undervaluation"), ("HB9", "unscreened"),
                                ("HB8", "unscreened")],
         ":3: house_bill: shipment 'HB9' is in the ground truth but not in the results "
         "(and 1 more shipment(s))"),
    ],
)
def test_ground_truth_errors_name_file_and_line(
    tmp_path: Path, header: str, rows: list[tuple[str, str]], message: str
) -> None:
    path = _truth(tmp_path, rows, header)
    with pytest.raises(DataError) as info:
        evaluate([_result("HB1"), _result("HB2")], path)
    assert str(info.value).startswith(f"{path}:")
    assert message in str(info.value)


def test_other_input_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"No such file or directory; give the ground_truth\.csv"):
        evaluate([], tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="file is empty"):
        evaluate([], empty)
    with pytest.raises(DataError, match="'HB1' appears twice in the results"):
        evaluate([_result("HB1"), _result("HB1")], _truth(tmp_path, []))


@pytest.fixture(scope="module")
def synth_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eval") / "synth"
    generate(folder, shipments=400, seed=5, progress=False, workers=1)
    return folder


def _world(folder: Path) -> tuple[list[str], dict[str, set[str]]]:
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as f:
        bills = [row["house_bill"] for row in csv.DictReader(f)]
    truth: dict[str, set[str]] = {}
    with (folder / "ground_truth.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth.setdefault(row["house_bill"], set()).add(row["pattern"])
    return bills, truth


def test_perfect_federation_on_a_synth_world(synth_world: Path, tmp_path: Path) -> None:
    bills, truth = _world(synth_world)
    with ResultWriter(tmp_path / "results.csv") as writer:
        for bill in bills:
            planted = [p for p in PATTERNS if p in truth.get(bill, set())]
            writer.write(_result(bill, planted, [p for p in planted if p == "split_shipment"]))
    evaluation = evaluate(read_results(tmp_path / "results.csv"),
                          synth_world / "ground_truth.csv")
    assert evaluation.shipments == len(bills) == 400
    assert set(evaluation.visible_patterns()) == set().union(*truth.values())
    for score in evaluation.scores:
        assert score.planted == sum(score.pattern in ps for ps in truth.values())
        if score.planted:
            assert (score.federation.precision, score.federation.recall) == (1.0, 1.0)
    split = evaluation.score("split_shipment")
    assert split.planted > 0
    assert (split.manifest_only.precision, split.manifest_only.recall) == (1.0, 1.0)
    assert evaluation.score("undervaluation").manifest_only.recall == 0.0
    assert evaluation.check_targets().met
    assert "MET for all" in format_evaluation(evaluation).splitlines()[-1]


def test_imperfect_federation_on_a_synth_world(synth_world: Path) -> None:
    bills, truth = _world(synth_world)
    undervalued = sorted(b for b, ps in truth.items() if "undervaluation" in ps)
    missed = set(undervalued[: len(undervalued) // 2])
    clean = [b for b in bills if b not in truth][:3]
    results = []
    for bill in bills:
        planted_here = truth.get(bill, set())
        flags = [p for p in PATTERNS if p in planted_here and not (p == "undervaluation"
                                                                and bill in missed)]
        if bill in clean:
            flags.append("unscreened")
        results.append(_result(bill, flags))
    evaluation = evaluate(results, synth_world / "ground_truth.csv")
    under = evaluation.score("undervaluation").federation
    assert under == Counts(tp=len(undervalued) - len(missed), fp=0, fn=len(missed))
    unscreened = evaluation.score("unscreened").federation
    assert (unscreened.fp, unscreened.fn) == (3, 0)
    assert 0 < unscreened.tp < 27  # so 3 false alarms break the precision target
    check = evaluation.check_targets()
    assert not check.met
    assert {failure.split(":")[0] for failure in check.failures} == {
        "undervaluation", "unscreened"}


def test_budget_arithmetic_on_a_hand_made_case() -> None:
    """20 shipments, 4 violating (indices 0, 3, 7, 12); budgets of 5 %, 10 %, 50 %."""
    violating = [i in (0, 3, 7, 12) for i in range(20)]
    federation = [0] * 20
    federation[3], federation[7], federation[5], federation[12] = 90, 60, 60, 10
    baseline = [0] * 20
    baseline[5], baseline[0] = 50, 40  # a false alarm ranked first, then a hit
    five, ten, half = budgets(federation, baseline, violating, (0.05, 0.10, 0.5))
    assert (five.slots, ten.slots, half.slots) == (1, 2, 10)
    # 5 %: one slot; the federation opens index 3 (a hit), the baseline index 5 (not)
    assert (five.federation_hits, five.manifest_only_hits) == (1, 0)
    assert (five.hit_rate(), five.hit_rate(False), five.gain) == (1.0, 0.0, None)
    # 10 %: 3 then 5 (tied with 7, earlier in the manifest); the baseline 5 then 0
    assert (ten.federation_hits, ten.manifest_only_hits) == (1, 1)
    assert (ten.recall(), ten.recall(False), ten.gain) == (0.25, 0.25, 1.0)
    # 50 %: the worklists run out (4 and 2 listed); unused slots are not counted as misses
    assert (half.federation_hits, half.federation_listed, half.hit_rate()) == (3, 4, 0.75)
    assert (half.manifest_only_hits, half.hit_rate(False)) == (1, 0.5)


def test_evaluation_budgets_rank_the_baseline_by_the_same_weights(tmp_path: Path) -> None:
    truth = _truth(tmp_path, [("HB1", "undervaluation"), ("HB2", "new_seller")])
    results = [
        _result("HB1", ["undervaluation"]),
        _result("HB2", ["recalled_product", "unscreened"], ["undervaluation", "split_shipment"]),
        *(_result(f"HB{n}") for n in range(3, 101)),
    ]
    evaluation = evaluate(results, truth)
    one = evaluation.budgets[0]
    # HB2 carries only a seller indicator: not a violation, so the baseline misses
    assert (one.share, one.slots, one.violating) == (0.01, 1, 1)
    assert manifest_only_score(["undervaluation", "split_shipment"]) == 50 + 40
    # the federation ranks HB2 (score 20) above HB1 (10): its one slot misses too
    assert (one.federation_hits, one.manifest_only_hits) == (0, 0)
    assert evaluation.budgets[1].federation_hits == 1  # 5 slots: both listed
    assert "budget 1% (1 of the shipments, 1 violating)" in format_evaluation(evaluation)


def test_evaluate_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results.csv"
    with ResultWriter(results) as writer:
        for result in RESULTS:
            writer.write(result)
    truth = _truth(tmp_path, TRUTH)
    assert fedtrade_main(["evaluate", str(results), str(truth), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["ground_truth"], data["shipments"]) == (str(truth), 6)
    scores = {p["pattern"]: p for p in data["patterns"]}
    assert list(scores) == list(PATTERNS)
    assert scores["undervaluation"]["planted"] == 3
    assert scores["undervaluation"]["federation"] == {
        "tp": 2, "fp": 1, "fn": 1, "precision": 2 / 3, "recall": 2 / 3}
    assert scores["undervaluation"]["manifest_only"]["precision"] is None
    assert data["targets"] == {
        "recall": 0.95, "precision": 0.9, "checked": ["undervaluation", "split_shipment"],
        "met": False,
        "failures": ["undervaluation: recall 0.6667 < 0.95, precision 0.6667 < 0.9"],
    }
    assert data["unknown_patterns"] == {}
    assert [b["share"] for b in data["budgets"]] == [0.01, 0.05, 0.10]
    assert data["budgets"][0]["slots"] == 1


def test_errors_are_broken_down_by_the_confounders_they_fall_on(tmp_path: Path) -> None:
    labels = tmp_path / "confounders.csv"
    labels.write_text("house_bill,confounder\nHB2,off_platform\nHB5,coupon\n"
                      "HB5,frequent_buyer\nHB6,coupon\n", encoding="utf-8")
    evaluation = evaluate(RESULTS, _truth(tmp_path, [*TRUTH, ("HB6", "new_seller")]), labels)
    # HB2's undervaluation is missed (off the platform); HB5 is flagged with two patterns
    # it does not carry (a coupon and a frequent buyer); HB1, HB3, HB4 are right; HB6's
    # seller indicator is never flagged by design and is not an error
    assert evaluation.by_confounder == {
        "undervaluation": {"fp": {"coupon": 1, "frequent_buyer": 1},
                           "fn": {"off_platform": 1}},
        "recalled_product": {"fp": {"coupon": 1, "frequent_buyer": 1}, "fn": {}},
    }
    text = format_evaluation(evaluation)
    assert "  undervaluation misses: off_platform 1" in text
    assert "  recalled_product false positives: coupon 1, frequent_buyer 1" in text
    assert evaluate(RESULTS, _truth(tmp_path, TRUTH)).by_confounder is None
    labels.write_text("bill,label\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"confounders\.csv:1: header: expected"):
        evaluate(RESULTS, _truth(tmp_path, TRUTH), labels)
