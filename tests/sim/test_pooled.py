"""The pooled-hub baseline computes what the nodes compute, over the same synthetic world."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.shipments import count_band
from fedtrade.node.queries.spec import Execution, band
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.federation import NODE_IDS
from fedtrade.sim.pooled import (
    POOLED_COLUMNS,
    _band,
    _count_band,
    build_pooled,
    pooled_indicators,
)
from fedtrade.trust.errors import DataError
from tests.conftest import World

FLAGS = {
    "known", "kyc_verified", "high_volume_seller", "recall_hit", "entity_list_hit",
    "known_shipper", "screened", "certificate_on_file", "importer_of_record_present",
}
INDICATORS = CATALOGUE["shipment_indicators"]


@pytest.fixture(scope="module")
def pooled(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stores = {role: world.stores[node_id] for role, node_id in NODE_IDS.items()}
    out = tmp_path_factory.mktemp("pooled") / "pooled.db"
    return build_pooled(stores, world.folder / "manifest.csv", out)


def pooled_records(db: Path, threshold_usd: float = 800.0) -> list[dict[str, PyValue]]:
    rows = pooled_indicators(db, threshold_usd=threshold_usd, fetch_rows=300)
    return [dict(zip(POOLED_COLUMNS, row, strict=True)) for row in rows]


def node_answers(world: World, role: str) -> dict[str, dict[str, PyValue]]:
    """What the node of ``role`` answers to shipment_indicators for the whole manifest."""
    rows = world.manifest()
    batch: dict[str, PyValue] = {
        "house_bill": [row["house_bill"] for row in rows],
        "declared_value_usd": [
            round(float(row["declared_value"]) / DEFAULT_CURRENCY_PER_USD[row["currency"]], 2)
            for row in rows
        ],
        "hs6": [row["hs6"] for row in rows],
    }
    store = world.stores[NODE_IDS[role]]
    conn = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    params = validate_params(INDICATORS, {"shipments": {"house_bill": batch["house_bill"]}})
    params["shipments"] = batch  # the reference values the attestation step fills in
    try:
        result = RUNS[INDICATORS.name](Execution(
            conn=conn, role=role, params=params,
            fields=INDICATORS.fields_for(role), query_id=b"\0" * 16, settings=QuerySettings(),
        ))
    finally:
        conn.close()
    return {str(row[0]): dict(zip(result.columns, row, strict=True)) for row in result.rows}


def as_node_value(field: str, value: PyValue) -> PyValue:
    """Pooled flags are SQLite 0/1; the nodes answer booleans."""
    if field in FLAGS and value is not None:
        assert value in (0, 1), (field, value)
        return bool(value)
    return value


def test_columns_cover_every_indicator_of_every_role() -> None:
    for role in NODE_IDS:
        pooled = {c.split(".", 1)[1] for c in POOLED_COLUMNS if c.startswith(f"{role}.")}
        assert pooled == {"known", *INDICATORS.fields_for(role)}, role


@pytest.mark.parametrize("role", list(NODE_IDS))
def test_indicators_equal_the_node_answers(world: World, pooled: Path, role: str) -> None:
    answers = node_answers(world, role)
    records = pooled_records(pooled)
    assert [r["house_bill"] for r in records] == [row["house_bill"] for row in world.manifest()]
    for record in records:
        answer = answers[str(record["house_bill"])]
        mine = {
            column.split(".", 1)[1]: as_node_value(column.split(".", 1)[1], value)
            for column, value in record.items() if column.startswith(f"{role}.")
        }
        assert mine == {k: v for k, v in answer.items() if k != "house_bill"}, record
    # the world exercises both sides of the flags and a shipment the node does not hold
    assert {r[f"{role}.entity_list_hit"] for r in records} >= ({0, 1} if role == "broker" else {0})
    if role == "broker":
        assert {r["broker.known"] for r in records} == {0, 1}


def test_split_groups_over_threshold_are_the_planted_split_shipments(
    world: World, pooled: Path
) -> None:
    records = pooled_records(pooled)
    flagged = {str(r["house_bill"]) for r in records if r["split_day"] is not None}
    assert flagged == world.truth()["split_shipment"]
    for record in records:
        if record["split_day"] is not None:
            assert isinstance(record["split_value_usd"], float)
            assert record["split_value_usd"] > 800


def test_threshold_zero_disables_split_detection(pooled: Path) -> None:
    records = pooled_records(pooled, threshold_usd=0.0)
    assert records
    assert all(r["split_day"] is None and r["split_value_usd"] is None for r in records)


def test_build_refuses_missing_stores_and_existing_output(world: World, tmp_path: Path) -> None:
    manifest = world.folder / "manifest.csv"
    with pytest.raises(DataError, match="missing: broker"):
        build_pooled({"marketplace": tmp_path / "m.db", "carrier": tmp_path / "c.db"},
                     manifest, tmp_path / "pooled.db")
    stores = {role: tmp_path / f"{role}.db" for role in NODE_IDS}
    with pytest.raises(DataError, match="import the marketplace data first"):
        build_pooled(stores, manifest, tmp_path / "pooled.db")
    assert not (tmp_path / "pooled.db").exists()
    swapped = {role: world.stores[node_id] for role, node_id in NODE_IDS.items()}
    swapped["marketplace"] = world.stores[NODE_IDS["carrier"]]
    with pytest.raises(DataError, match="not a marketplace store"):
        build_pooled(swapped, manifest, tmp_path / "pooled.db")
    assert not (tmp_path / "pooled.db").exists()
    (tmp_path / "taken.db").write_bytes(b"")
    with pytest.raises(DataError, match="already exists"):
        build_pooled(stores, manifest, tmp_path / "taken.db")


def test_indicators_of_a_missing_database_say_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="build it with build_pooled"):
        pooled_indicators(tmp_path / "absent.db")


def sql_value(expr_sql: str, value: float | int) -> PyValue:
    conn = sqlite3.connect(":memory:")
    try:
        row = conn.execute(f"SELECT {expr_sql}", {"x": value}).fetchone()
    finally:
        conn.close()
    return row[0]  # type: ignore[no-any-return]


edges = st.lists(st.floats(0.01, 1000, allow_nan=False), min_size=1, max_size=4, unique=True)


@settings(max_examples=150, deadline=None)
@given(edges.map(lambda e: tuple(sorted(e))), st.floats(-10, 2000, allow_nan=False),
       st.sampled_from(["", "d"]))
def test_band_sql_labels_like_the_nodes(bounds: tuple[float, ...], value: float,
                                         unit: str) -> None:
    for x in (value, *bounds):  # the edges themselves are where labels change
        assert sql_value(_band(":x", bounds, unit), x) == band(x, bounds, unit)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 20), min_size=1, max_size=4, unique=True), st.integers(0, 30))
def test_count_band_sql_labels_like_the_nodes(bounds: list[int], count: int) -> None:
    ordered = tuple(sorted(bounds))
    for x in (count, *ordered):
        assert sql_value(_count_band(":x", ordered), x) == count_band(x, ordered)
