"""The AEO green lane: the decision as a pure function, the sample, and a live screening."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.aeo_config import GreenLaneRule
from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.green_lane import (
    COMPLIANCE_SAMPLE,
    FACILITATED,
    REVIEW,
    decide,
    in_compliance_sample,
)
from fedtrade.coordinator.report import render_report
from fedtrade.coordinator.results import ShipmentResult
from fedtrade.coordinator.scorecard import compute_scorecards
from fedtrade.coordinator.screening import screen_manifest
from fedtrade.sim.aeo import add_coordinator_aeo, certify_node
from fedtrade.sim.federation import Federation
from tests.conftest import CONTEXT, LiveFederation, World, live_federation
from tests.coordinator.test_screening import attest_manifest

RULE = GreenLaneRule(tiers=frozenset({"gold"}), score_below=20, compliance_sample_rate=0.02)


@pytest.mark.parametrize(("score", "tiers", "complete", "sampled", "expected"), [
    (0, ["gold", "gold"], True, False, FACILITATED),
    (19, ["gold"], True, False, FACILITATED),
    (20, ["gold"], True, False, REVIEW),  # at the threshold: not below it
    (0, ["gold", None], True, False, REVIEW),  # one node of the chain without a certificate
    (0, ["gold", "silver"], True, False, REVIEW),  # a tier that does not qualify
    (0, [], True, False, REVIEW),  # nobody answered for it: no chain to trust
    (0, ["gold"], False, False, REVIEW),  # some node did not answer: unknown is not clean
    (0, ["gold"], True, True, COMPLIANCE_SAMPLE),
    (25, ["gold"], True, True, REVIEW),  # the sample only draws from facilitated shipments
])
def test_decide(score: int, tiers: list[str | None], complete: bool, sampled: bool,
                expected: str) -> None:
    assert decide(score, tiers, complete=complete, rule=RULE, sampled=sampled) == expected


def test_decide_with_required_roles() -> None:
    rule = replace(RULE, require_roles=frozenset({"carrier", "broker"}))
    gold = ["gold", "gold"]
    assert decide(0, gold, complete=True, rule=rule, sampled=False,
                  roles={"carrier", "broker"}) == FACILITATED
    # no broker knows the shipment: its silence is not evidence of an entry
    assert decide(0, gold, complete=True, rule=rule, sampled=False,
                  roles={"carrier", "marketplace"}) == REVIEW


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), low=st.floats(0, 1), high=st.floats(0, 1))
def test_the_sample_is_reproducible_and_nested(seed: bytes, low: float, high: float) -> None:
    low, high = sorted((low, high))
    bills = [f"HB{i:08d}" for i in range(300)]
    small = {b for b in bills if in_compliance_sample(seed, b, low)}
    assert small == {b for b in bills if in_compliance_sample(seed, b, low)}
    assert small <= {b for b in bills if in_compliance_sample(seed, b, high)}


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.02, 0.5, 1.0])
def test_the_sample_is_close_to_its_rate_and_changes_with_the_seed(rate: float) -> None:
    bills = [f"HB{i:08d}" for i in range(50_000)]
    first = {b for b in bills if in_compliance_sample(b"\x01" * 32, b, rate)}
    second = {b for b in bills if in_compliance_sample(os.urandom(32), b, rate)}
    for sample in (first, second):
        # binomial: 4 standard deviations
        assert abs(len(sample) - rate * len(bills)) <= 4 * (len(bills) * rate * (1 - rate)) ** 0.5
    if 0 < rate < 1:
        assert first != second


@pytest.fixture
def lane_federation(world_federation: Federation) -> Iterator[LiveFederation]:
    """carrier (the filer) and marketplace gold; the broker only silver."""
    certify_node(world_federation, "carrier-1", "gold")
    certify_node(world_federation, "marketplace-1", "gold")
    certify_node(world_federation, "broker-1", "silver")
    yield from live_federation(world_federation)


def test_screening_facilitates_certified_low_risk_chains(
    lane_federation: LiveFederation, world: World, tmp_path: Path,
) -> None:
    fed = lane_federation.federation
    add_coordinator_aeo(fed, green_lane={"tiers": ["gold"], "score_below": 20,
                                         "compliance_sample_rate": 0.05})
    config = load_coordinator_config(fed.coordinator_config)
    evidence = EvidenceStore(config.evidence_db)
    coordinator = Coordinator(config, evidence=evidence)
    results: dict[str, ShipmentResult] = {}
    out = io.StringIO()
    try:
        summary = screen_manifest(
            coordinator, world.folder / "manifest.csv", CONTEXT,
            lambda batch: results.update((r.house_bill, r) for r in batch),
            attestations=attest_manifest(lane_federation, world), dispositions=out)
        ((_, manifest, seed_hex, settings_json),) = evidence.green_lane_runs()
        cards = {c["node_id"]: c for c in compute_scorecards(
            config, evidence, datetime.now(UTC).strftime("%Y-%m"))["nodes"]}
    finally:
        coordinator.close()
        evidence.close()
    lane = summary.green_lane
    assert lane is not None
    assert lane.certification == {"broker-1": "silver", "carrier-1": "gold",
                                  "marketplace-1": "gold"}
    assert sum(lane.by_disposition.values()) == summary.shipments == len(results)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    by_bill = {row["house_bill"]: row for row in rows}
    assert lane.by_disposition[FACILITATED] + lane.by_disposition[COMPLIANCE_SAMPLE] == len(rows)
    assert lane.by_disposition[FACILITATED] > 0
    for row in rows:
        chain = row["chain"].split(";")
        assert "carrier-1" in chain  # the filer is always in the chain
        assert "broker-1" not in chain  # a silver node never qualifies
        assert results[row["house_bill"]].score < 20
    # risky shipments stay in review
    assert any(r.score >= 20 for r in results.values())
    for bill, result in results.items():
        if result.score >= 20:
            assert bill not in by_bill
    # the evidence holds the seed: anyone recomputes exactly which shipments were sampled
    assert manifest.endswith("manifest.csv")
    assert json.loads(settings_json)["compliance_sample_rate"] == 0.05
    seed = bytes.fromhex(seed_hex)
    assert {b for b, row in by_bill.items() if row["disposition"] == COMPLIANCE_SAMPLE} == {
        b for b in by_bill if in_compliance_sample(seed, b, 0.05)}
    assert lane.seed_hex == seed_hex
    assert lane.sample_hits == sum(
        1 for b, row in by_bill.items()
        if row["disposition"] == COMPLIANCE_SAMPLE and results[b].patterns)
    # the same run's evidence, as a scorecard: every batch answered, the filer knows all
    # of its own lines, nothing fails verification
    for card in cards.values():
        assert card["measures"]["availability"]["value"] == 1.0
        assert card["integrity"]["ok"]
    assert cards["carrier-1"]["measures"]["coverage"] == {
        "value": 1.0, "numerator": len(results), "denominator": len(results)}
    assert 0 < cards["broker-1"]["measures"]["coverage"]["value"] < 1
    html = render_report(summary)
    assert 'id="green-lane"' in html
    assert seed_hex in html


def test_the_screen_command_writes_dispositions_only_with_a_green_lane(
    lane_federation: LiveFederation, world: World, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fed = lane_federation.federation
    args = ["screen", "--config", str(fed.coordinator_config), str(world.folder / "manifest.csv"),
            "--purpose", "TARGETING", "--case", "C-9", "--no-progress",
            "--attestations", str(attest_manifest(lane_federation, world)),
            "--out", str(tmp_path / "r.csv"), "--dispositions", str(tmp_path / "lane.csv")]
    assert fedtrade_main(args) == 1
    assert "--dispositions needs a green lane: add aeo.green_lane" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()
    add_coordinator_aeo(fed, green_lane={"tiers": ["gold"], "score_below": 20,
                                         "compliance_sample_rate": 0.05,
                                         "require_roles": ["carrier"]})
    assert fedtrade_main([*args, "--report", str(tmp_path / "r.html")]) == 0
    shown = capsys.readouterr().out
    facilitated = int(shown.split("AEO green lane: ")[1].split(" facilitated")[0].replace(",", ""))
    with (tmp_path / "lane.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sum(1 for r in rows if r["disposition"] == FACILITATED) == facilitated > 0
    assert 'id="green-lane"' in (tmp_path / "r.html").read_text()
