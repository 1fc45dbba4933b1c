"""Marketplaces of differing data-sharing quality: the split, and scorecards that differ."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime
from pathlib import Path

from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.scorecard import compute_scorecards
from fedtrade.coordinator.screening import screen_manifest
from fedtrade.node.attest import attest_manifest
from fedtrade.node.store import import_path
from fedtrade.sim.aeo import add_coordinator_aeo
from fedtrade.sim.federation import create_federation
from fedtrade.sim.synth.stakeholders import split_marketplace
from tests.conftest import CONTEXT, World, live_federation


def _orders(folder: Path) -> set[str]:
    with (folder / "orders.csv").open(newline="") as f:
        return {row["order_id"] for row in csv.DictReader(f)}


def _hints(folder: Path) -> dict[str, str]:
    with (folder / "listings.csv").open(newline="") as f:
        return {row["listing_id"]: row["hs6_hint"] for row in csv.DictReader(f)}


def test_the_split_deals_orders_withholds_and_mislabels(world: World, tmp_path: Path) -> None:
    source = world.folder / "marketplace"
    folders = split_marketplace(source, tmp_path / "a", seed=3)
    again = split_marketplace(source, tmp_path / "b", seed=3)
    for node_id, folder in folders.items():  # reproducible from the seed
        for path in folder.iterdir():
            assert path.read_bytes() == (again[node_id] / path.name).read_bytes()
    everything = _orders(source)
    first, second = _orders(folders["marketplace-1"]), _orders(folders["marketplace-2"])
    assert not first & second
    assert first | second < everything
    # marketplace-1 withholds nothing: 60 % of the orders; marketplace-2 keeps 70 % of 40 %
    assert abs(len(first) / len(everything) - 0.6) < 0.04
    assert abs(len(second) / len(everything) - 0.28) < 0.04
    truth = _hints(source)
    wrong = {node: sum(1 for k, v in _hints(f).items() if v != truth[k]) / len(truth)
             for node, f in folders.items()}
    assert wrong["marketplace-1"] == 0
    assert 0.15 < wrong["marketplace-2"] < 0.35


def test_scorecards_tell_the_marketplaces_apart(world: World, tmp_path: Path) -> None:
    fed = create_federation(tmp_path / "fed", extra_nodes={"marketplace-2": "marketplace"})
    folders = split_marketplace(world.folder / "marketplace", tmp_path / "split", seed=3)
    for node_id in ("carrier-1", "broker-1"):
        shutil.copyfile(world.stores[node_id], fed.root / "data" / f"{node_id}.db")
    for node_id, folder in folders.items():
        import_path(fed.root / "data" / f"{node_id}.db", "marketplace", None, folder,
                    progress=False)
    running = live_federation(fed)
    live = next(running)
    try:
        add_coordinator_aeo(fed)
        config = load_coordinator_config(fed.coordinator_config)
        attested = tmp_path / "manifest.attest.jsonl"
        attest_manifest(world.folder / "manifest.csv", attested, fed.filer_key(), fed.filer_id,
                        block_lines=500, valid_hours=1)
        evidence = EvidenceStore(config.evidence_db)
        coordinator = Coordinator(config, evidence=evidence)
        try:
            screen_manifest(coordinator, world.folder / "manifest.csv", CONTEXT,
                            lambda _r: None, attestations=attested)
            document = compute_scorecards(config, evidence, datetime.now(UTC).strftime("%Y-%m"))
        finally:
            coordinator.close()
            evidence.close()
        assert live.nodes.keys() == {"marketplace-1", "marketplace-2", "carrier-1", "broker-1"}
    finally:
        next(running, None)
    cards = {c["node_id"]: c["measures"] for c in document["nodes"]}
    good, poor = cards["marketplace-1"], cards["marketplace-2"]
    assert good["coverage"]["value"] > poor["coverage"]["value"] + 0.2
    assert good["consistency"]["value"] > poor["consistency"]["value"] + 0.05
    assert good["availability"]["value"] == poor["availability"]["value"] == 1.0
