"""The pooled-hub baseline computes what the nodes compute, over the same synthetic world."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.queries.shipments import count_band
from fedtrade.node.queries.spec import band
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.federation import NODE_IDS
from fedtrade.sim.pooled import build_pooled, pooled_indicators
from fedtrade.sim.pooled_duckdb import duckdb_available
from fedtrade.sim.pooled_sql import POOLED_COLUMNS, PooledSettings, band_sql, count_band_sql
from fedtrade.trust.errors import DataError
from tests.conftest import World

INDICATORS = CATALOGUE["shipment_indicators"]


@pytest.fixture(scope="module")
def pooled(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stores = {role: world.stores[node_id] for role, node_id in NODE_IDS.items()}
    out = tmp_path_factory.mktemp("pooled") / "pooled.db"
    return build_pooled(stores, world.folder / "manifest.csv", out)


def pooled_records(db: Path, threshold_usd: float = 800.0) -> list[dict[str, PyValue]]:
    rows = pooled_indicators(db, PooledSettings(threshold_usd=threshold_usd), fetch_rows=300)
    return [dict(zip(POOLED_COLUMNS, row, strict=True)) for row in rows]


def test_columns_cover_every_indicator_of_every_role() -> None:
    for role in NODE_IDS:
        pooled = {c.split(".", 1)[1] for c in POOLED_COLUMNS if c.startswith(f"{role}.")}
        assert pooled == {"known", *INDICATORS.fields_for(role)}, role


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


def sql_values(expr: Callable[[str], str], value: float | int) -> set[PyValue]:
    """The expression's value for ``value`` in SQLite and, where installed, DuckDB (one
    value when they agree)."""
    literal = f"CAST({value!r} AS DOUBLE)" if isinstance(value, float) else repr(value)
    sql = f"SELECT {expr(literal)}"
    conn = sqlite3.connect(":memory:")
    try:
        found = {conn.execute(sql).fetchone()[0]}
    finally:
        conn.close()
    if duckdb_available():
        import duckdb

        duck = duckdb.connect()
        try:
            found.add(duck.sql(sql).fetchall()[0][0])
        finally:
            duck.close()
    return found


edges = st.lists(st.floats(0.01, 1000, allow_nan=False), min_size=1, max_size=4, unique=True)


@settings(max_examples=150, deadline=None)
@given(edges.map(lambda e: tuple(sorted(e))), st.floats(-10, 2000, allow_nan=False),
       st.sampled_from(["", "d"]))
def test_band_sql_labels_like_the_nodes(bounds: tuple[float, ...], value: float,
                                         unit: str) -> None:
    for x in (value, *bounds):  # the edges themselves are where labels change
        assert sql_values(lambda e: band_sql(e, bounds, unit), x) == {band(x, bounds, unit)}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 20), min_size=1, max_size=4, unique=True), st.integers(0, 30))
def test_count_band_sql_labels_like_the_nodes(bounds: list[int], count: int) -> None:
    ordered = tuple(sorted(bounds))
    for x in (count, *ordered):
        assert sql_values(lambda e: count_band_sql(e, ordered), x) == {count_band(x, ordered)}
