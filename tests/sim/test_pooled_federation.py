"""federated = pooled SQLite = pooled DuckDB, every field of every shipment, over real nodes.

The synthetic world is screened once by a live federation (real gRPC nodes over
mutual TLS, signed and attested questions) in batches of 700 with a three-day
split window; the same stores are pooled into SQLite and DuckDB, and the three
answers are compared cell by cell, split totals and the manifest's own totals
included.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import pytest

from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.results import ShipmentResult
from fedtrade.coordinator.screening import screen_manifest
from fedtrade.node.config import load_node_config
from fedtrade.node.queries.shipments import match_depth
from fedtrade.node.store.importer import import_path
from fedtrade.sim.federation import NODE_IDS, create_federation
from fedtrade.sim.pooled import build_pooled, pooled_indicators
from fedtrade.sim.pooled_check import (
    Records,
    compare,
    federated_records,
    pooled_records,
    pooled_settings,
)
from fedtrade.sim.pooled_duckdb import build_duckdb, duckdb_available, duckdb_indicators
from fedtrade.sim.pooled_sql import POOLED_COLUMNS, PooledSettings
from tests.conftest import CONTEXT, World, live_federation
from tests.coordinator.test_screening import attest_manifest

pytestmark = pytest.mark.slow
BATCH = 700  # 3,000 shipments: five linkage questions per date range, the last one short
ROLES = {node_id: role for role, node_id in NODE_IDS.items()}

needs_duckdb = pytest.mark.skipif(
    not duckdb_available(),
    reason="duckdb and pyarrow are not installed (the bench extra; scripts/bootstrap --dev "
           "installs them)")


@dataclass(frozen=True)
class Screened:
    federated: Records
    settings: PooledSettings
    pooled: Path  # the pooled SQLite database


def _consolidate(broker: Path, bills: list[str]) -> None:
    """Make three entries of lines of several codes consolidated, each also covering two
    house bills the broker holds no entry for: two within one screening batch, one across
    a batch boundary (its total is then compared with nothing). Imported as a broker
    imports them, so its per-parcel tables are rebuilt."""
    conn = sqlite3.connect(f"{broker.resolve().as_uri()}?mode=ro", uri=True)
    with closing(conn):
        entry_of = dict(conn.execute("SELECT house_bill, entry_number FROM entries"))
        codes: dict[str, list[str]] = {}  # entry -> its lines' codes, most valuable first
        for entry, code in conn.execute("SELECT entry_number, substr(hts10, 1, 6) "
                                        "FROM entry_lines ORDER BY value_usd DESC, line_no"):
            codes.setdefault(entry, []).append(code)
    held = [i for i, bill in enumerate(bills)
            if bill in entry_of and len(set(codes[entry_of[bill]])) > 1]
    free = [i for i, bill in enumerate(bills) if bill not in entry_of]
    rows = []
    middle = next(i for i in held if i > BATCH + BATCH // 2)
    for own, after in ((held[3], held[3]), (middle, middle),
                       (max(i for i in held if i < BATCH), BATCH - 1)):
        rows += [(entry_of[bills[own]], bills[i]) for i in [i for i in free if i > after][:2]]
    path = broker.with_name("entry_house_bills.csv")
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([("entry_number", "house_bill"), *rows])
    assert import_path(broker, "broker", "entry_house_bills", path,
                       progress=False).files[0].rows_inserted == len(rows)
    CONSOLIDATED[:] = rows
    MAIN_LINE.update((entry, codes[entry][0]) for entry, _ in rows)


CONSOLIDATED: list[tuple[str, str]] = []  # (entry number, further house bill) of the world
MAIN_LINE: dict[str, str] = {}  # consolidated entry -> code of its most valuable line


@pytest.fixture(scope="module")
def screened(world: World, tmp_path_factory: pytest.TempPathFactory) -> Screened:
    root = tmp_path_factory.mktemp("pooled-federation")
    federation = create_federation(root / "fed")
    stores = {}
    for role, node_id in NODE_IDS.items():
        stores[role] = federation.root / "data" / f"{node_id}.db"
        shutil.copyfile(world.stores[node_id], stores[role])
    _consolidate(stores["broker"], [row["house_bill"] for row in world.manifest()])
    for live in live_federation(federation):
        config = live.coordinator.config
        config = replace(config, screening=replace(config.screening, batch_size=BATCH))
        results: list[ShipmentResult] = []
        evidence = EvidenceStore(config.evidence_db)
        coordinator = Coordinator(config, evidence=evidence)
        try:
            screen_manifest(coordinator, world.folder / "manifest.csv", CONTEXT, results.extend,
                            attestations=attest_manifest(live, world))
        finally:
            coordinator.close()
            evidence.close()
    marketplace = load_node_config(federation.node_configs[NODE_IDS["marketplace"]])
    return Screened(
        federated_records(config.evidence_db, results, ROLES),
        pooled_settings(config, marketplace.settings),
        build_pooled(stores, world.folder / "manifest.csv", root / "pooled.db",
                     currency_per_usd=config.currency_per_usd),
    )


def _against_sqlite(screened: Screened) -> tuple[Records, int, list[str]]:
    assert screened.settings.window_days == 3  # a window of several days is what is checked
    assert screened.settings.batch_size == BATCH
    lite = pooled_records(pooled_indicators(screened.pooled, screened.settings))
    cells, problems = compare(("federation", screened.federated), ("pooled sqlite", lite))
    return lite, cells, problems


def test_federation_equals_pooled_sqlite_in_every_field(screened: Screened, world: World) -> None:
    lite, cells, problems = _against_sqlite(screened)
    assert not problems, f"{len(problems)} cells differ:\n" + "\n".join(problems[:25])
    # every indicator of every role and every split column, for every shipment
    assert {c for record in screened.federated.values() for c in record} == set(POOLED_COLUMNS)
    assert cells == len(world.manifest()) * len(POOLED_COLUMNS)
    flagged = [r for r in lite.values() if r["split_day"] is not None]
    # the world reaches what the comparison must cover: groups only the manifest's own
    # total puts over the threshold, windows listed by several roles, several parcels
    assert len(flagged) >= 20
    assert {r["split_role"] for r in flagged} >= {"manifest", "carrier"}
    assert any("+" in str(r["split_sources"]) for r in flagged)
    assert any(isinstance(r["split_parcels"], int) and r["split_parcels"] > 2 for r in flagged)
    # consolidated entries: their further bills are known to the broker; compared with the
    # entry's total within a batch, with nothing across a batch boundary
    covered = [lite[bill] for _, bill in CONSOLIDATED]
    assert len(covered) == 6
    assert all(r["broker.known"] == 1 for r in covered)
    bands = [r["broker.entry_declared_ratio_band"] for r in covered]
    assert None not in bands[:4]
    assert bands[4:] == [None, None]
    # each bill's code is compared with the entry's line closest to it, for some bills not
    # the most valuable line
    reference = {row["house_bill"]: row["hs6"] for row in world.manifest()}
    answered = [(lite[bill]["broker.hs_match_depth"],
                 match_depth(MAIN_LINE[entry], reference[bill])) for entry, bill in CONSOLIDATED]
    assert all(isinstance(depth, int) for pair in answered for depth in pair), answered
    depths = cast(list[tuple[int, int]], answered)
    assert all(closest >= main for closest, main in depths), depths
    assert any(closest > main for closest, main in depths), depths


@needs_duckdb
def test_pooled_duckdb_equals_pooled_sqlite(screened: Screened, tmp_path: Path) -> None:
    duck = build_duckdb(screened.pooled, tmp_path / "pooled.duckdb")
    for settings in (screened.settings, PooledSettings(batch_size=400, window_days=1),
                     PooledSettings(batch_size=10_000, window_days=7),
                     PooledSettings(threshold_usd=0.0)):
        lite = pooled_records(pooled_indicators(screened.pooled, settings))
        duck_records = pooled_records(
            tuple(row.values()) for row in duckdb_indicators(duck, settings).to_pylist())
        cells, problems = compare(("pooled sqlite", lite), ("pooled duckdb", duck_records))
        assert (cells, problems[:10]) == (len(lite) * len(POOLED_COLUMNS), []), settings
        flagged = sum(r["split_day"] is not None for r in lite.values())
        assert (flagged == 0) == (settings.threshold_usd == 0), settings


def test_compare_names_every_cell_that_differs_or_was_not_answered() -> None:
    pooled: Records = {"HB1": dict.fromkeys(POOLED_COLUMNS, 1),
                       "HB2": dict.fromkeys(POOLED_COLUMNS, 0)}
    federated: Records = {
        "HB1": {c: v for c, v in pooled["HB1"].items() if not c.startswith("carrier.")},
        "HB2": {**pooled["HB2"], "split_value_usd": 850.0},
    }
    cells, problems = compare(("federation", federated), ("pooled", pooled))
    carrier = [c for c in POOLED_COLUMNS if c.startswith("carrier.")]
    assert cells == 2 * len(POOLED_COLUMNS)
    assert problems == [
        *(f"house bill HB1, column {c}: no answer in federation" for c in carrier),
        "house bill HB2, column split_value_usd: federation 850.0, pooled 0",
    ]
    assert compare(("federation", {}), ("pooled", {"HB3": {}})) == (
        0, ["house bill HB3: only in pooled"])


def test_split_value_agrees_to_the_cent_and_no_further() -> None:
    """A half-cent tie rounds either way by addition order; anything past it is a
    disagreement, and other numeric columns keep their tight tolerance."""
    def record(usd: float, parcels: int) -> Records:
        return {"HB1": {**dict.fromkeys(POOLED_COLUMNS, 0),
                        "split_value_usd": usd, "split_parcels": parcels}}

    tie = compare(("federation", record(1234.57, 3)), ("pooled", record(1234.565, 3)))
    assert tie[1] == []
    assert compare(("federation", record(1234.57, 3)), ("pooled", record(1234.5649, 3)))[1] == [
        "house bill HB1, column split_value_usd: federation 1234.57, pooled 1234.5649"]
    assert compare(("a", record(1.0, 3)), ("b", record(1.0, 4)))[1] == [
        "house bill HB1, column split_parcels: a 3, b 4"]
