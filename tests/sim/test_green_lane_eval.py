"""The green lane's cost and saving against a hand-made ground truth, and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main
from fedtrade.coordinator.result_files import ResultWriter
from fedtrade.coordinator.results import ShipmentResult
from fedtrade.sim.green_lane_eval import evaluate_green_lane
from fedtrade.trust.errors import DataError

BILLS = [f"HB{i}" for i in range(1, 11)]


def _files(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    results = tmp_path / "results.csv"
    with ResultWriter(results) as writer:
        for bill in BILLS:
            writer.write(ShipmentResult(bill, "low", 0, (), (), (), ("carrier-1",), ()))
    truth = tmp_path / "ground_truth.csv"
    truth.write_text("house_bill,pattern\nHB1,undervaluation\nHB2,new_seller\n"
                     "HB3,misclassification\nHB3,undervaluation\nHB9,unscreened\n")
    gold = tmp_path / "gold.csv"
    # HB1 released with a violation, HB2 only an indicator (not a violation), HB3 sampled
    gold.write_text("house_bill,disposition,score,chain\nHB1,facilitated,0,carrier-1\n"
                    "HB2,facilitated,0,carrier-1\nHB3,compliance_sample,0,carrier-1\n"
                    "HB4,facilitated,0,carrier-1\n")
    silver = tmp_path / "silver.csv"
    silver.write_text("house_bill,disposition,score,chain\n" + "".join(
        f"{b},facilitated,0,carrier-1\n" for b in BILLS[:8]))
    return results, truth, gold, silver


def test_cost_and_saving_per_configuration(tmp_path: Path) -> None:
    _, truth, gold, silver = _files(tmp_path)
    lane = evaluate_green_lane(BILLS, truth, gold)
    assert (lane.label, lane.shipments, lane.violating) == ("gold", 10, 3)
    assert (lane.facilitated, lane.sampled) == (3, 1)
    assert lane.facilitated_violating == 1
    assert lane.facilitated_violations == {"undervaluation": 1}
    assert lane.as_json()["sample_hit_rate"] == 1.0
    assert lane.as_json()["workload_saved"] == pytest.approx(0.3)
    wide = evaluate_green_lane(BILLS, truth, silver)
    assert wide.facilitated == 8
    assert wide.facilitated_violations == {"misclassification": 1, "undervaluation": 2}
    with pytest.raises(DataError, match="were not screened"):
        evaluate_green_lane(BILLS[:2], truth, gold)


def test_fedtrade_evaluate_reports_the_green_lane(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    results, truth, gold, silver = _files(tmp_path)
    args = ["evaluate", str(results), str(truth), "--dispositions", str(gold),
            "--dispositions", str(silver)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "AEO green lane (per tier configuration)" in out
    assert "released with a planted violation: misclassification 1, undervaluation 2" in out
    assert main([*args, "--json"]) == 0
    lanes = json.loads(capsys.readouterr().out)["green_lane"]
    assert [(lane["label"], lane["facilitated"]) for lane in lanes] == [("gold", 3),
                                                                        ("silver", 8)]
