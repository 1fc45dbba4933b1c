"""Consignee totals over sliding windows: one consignee however it is spelt, on the
arrival day, summed over several days (issue 12, split shipments)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import DisclosureControls, QuerySettings
from fedtrade.node.queries.spec import Execution
from fedtrade.node.store.indicators import refresh
from fedtrade.node.store.migrations import open_store
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import MalformedRequestError

# One buyer spelt four ways, parcels shipped on 1, 2, 4 and 9 March; another buyer once.
_PARCELS = [
    ("HB0001", "Jane Roe", "12 Main Street, Apt 4, Springfield IL", "2025-03-01", 300.0),
    ("HB0002", "MS. JANE ROE", "12 MAIN ST APARTMENT 4 SPRINGFIELD IL", "2025-03-02", 250.0),
    ("HB0003", "Roe, Jane", "12 Main St. #4, Springfield, IL", "2025-03-04", 280.0),
    ("HB0004", "jane roe", "12 main st apt 4 springfield il", "2025-03-09", 100.0),
    ("HB0005", "John Doe", "12 Main Street, Apt 5, Springfield IL", "2025-03-02", 700.0),
]


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "marketplace.db"
    db = open_store(path, "marketplace")
    db.table("sellers").insert({
        "seller_id": "S1", "legal_name": "Blue Lake Trading", "address": "Hong Kong",
        "country": "HK", "kyc_verified": 0, "high_volume": 0, "registered_at": "2024-01-01",
        "status": "active"})
    db.table("listings").insert({
        "listing_id": "L1", "seller_id": "S1", "title": "Camera", "category": "photo",
        "hs6_hint": "852589", "gtin": None, "price": 1.0, "currency": "USD",
        "origin_country": "CN"})
    for n, (bill, name, address, day, paid) in enumerate(_PARCELS):
        order = f"O{n}"
        db.table("orders").insert({
            "order_id": order, "buyer_name": name, "buyer_address": address,
            "ordered_at": f"{day}T08:00:00Z", "total_paid": paid, "currency": "USD"})
        db.table("order_lines").insert({
            "order_id": order, "line_no": 1, "listing_id": "L1", "quantity": 1,
            "unit_price": paid, "amount_paid": paid})
        db.table("fulfillments").insert({
            "fulfillment_id": f"F{n}", "order_id": order, "carrier_code": "DHL",
            "house_bill": bill, "shipped_at": f"{day}T10:00:00Z"})
    with db.conn:  # written directly, not imported
        refresh(db.conn, "marketplace")
    db.close()
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    yield connection
    connection.close()


def _totals(conn: sqlite3.Connection, params: dict[str, PyValue],
            transit_days: int = 0, minimum: int = 2) -> list[dict[str, PyValue]]:
    spec = CATALOGUE["consignee_daily_totals"]
    # a 1 USD step keeps the window sums readable; the default 50 USD rounding is
    # tested in test_catalogue_queries
    settings = replace(QuerySettings(linkage_secret=b"s" * 32), transit_days=transit_days,
                       disclosure=DisclosureControls(consignee_value_step_usd=1.0,
                                                     min_consignee_shipments=minimum))
    result = RUNS[spec.name](Execution(
        conn=conn, role="marketplace", params=validate_params(spec, params),
        fields=spec.output_fields, query_id=b"\1" * 16, settings=settings))
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


_ALL = ["HB0001", "HB0002", "HB0003", "HB0004", "HB0005"]


def test_a_consignee_spelt_four_ways_is_one_consignee(conn: sqlite3.Connection) -> None:
    rows = _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-31",
                          "window_days": 14, "house_bills": _ALL})
    first = rows[0]
    assert (first["day"], first["shipments"], first["house_bills"]) == (
        "2025-03-01", 4, ["HB0001", "HB0002", "HB0003", "HB0004"])
    assert first["value_usd"] == pytest.approx(930.0)
    # the neighbour at apartment 5 is someone else, and alone: never listed
    assert all("HB0005" not in row["house_bills"] for row in rows)  # type: ignore[operator]
    assert len({row["consignee_token"] for row in rows}) == 1


def test_windows_slide_over_the_days_a_consignee_has_parcels(conn: sqlite3.Connection) -> None:
    rows = _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-31",
                          "window_days": 3, "house_bills": _ALL})
    # windows open on 1, 2 and 4 March; 1-3 March holds two parcels, 2-4 March two, the
    # windows from 4 and 9 March hold one each: not listed (fewer than two shipments)
    assert [(r["day"], r["shipments"], r["value_usd"]) for r in rows] == [
        ("2025-03-01", 2, 550.0), ("2025-03-02", 2, 530.0)]
    per_day = _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-31",
                             "house_bills": _ALL})
    assert per_day == []  # one parcel a day: nothing to list


def test_only_windows_holding_an_asked_bill_are_listed(conn: sqlite3.Connection) -> None:
    # HB0003 (4 March) is in the window from 2 March only; 1-3 March holds two other
    # parcels and is left out, and so is everything around HB0004 (alone on 9 March)
    rows = _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-31",
                          "window_days": 3, "house_bills": ["HB0003"]})
    assert [(r["day"], r["shipments"], r["value_usd"], r["house_bills"]) for r in rows] == [
        ("2025-03-02", 2, 530.0, ["HB0003"])]
    assert _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-31",
                          "window_days": 3, "house_bills": ["HB0004"]}) == []


def test_the_marketplace_counts_on_the_estimated_arrival_day(conn: sqlite3.Connection) -> None:
    rows = _totals(conn, {"date_from": "2025-03-03", "date_to": "2025-03-05",
                          "window_days": 3, "house_bills": _ALL}, transit_days=2)
    # shipped 1, 2 and 4 March, arriving 3, 4 and 6 March: windows from 3 and 4 March
    assert [(r["day"], r["shipments"]) for r in rows] == [("2025-03-03", 2), ("2025-03-04", 2)]


@pytest.mark.parametrize(("minimum", "listed"), [(3, [("2025-03-01", 4), ("2025-03-02", 3)]),
                                                 (4, [("2025-03-01", 4)]), (5, [])])
def test_a_consignee_is_listed_from_the_node_minimum(
    conn: sqlite3.Connection, minimum: int, listed: list[tuple[str, int]],
) -> None:
    """Windows of fewer shipments than ``min_consignee_shipments`` are never listed, and
    those with as many are: the SQL that skips smaller consignees must not skip these."""
    rows = _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-31",
                          "window_days": 14, "house_bills": _ALL}, minimum=minimum)
    assert [(r["day"], r["shipments"]) for r in rows] == listed


@pytest.mark.parametrize("width", [0, 15])
def test_a_window_out_of_range_is_refused(conn: sqlite3.Connection, width: int) -> None:
    with pytest.raises(MalformedRequestError, match="window_days must be 1 to 14"):
        _totals(conn, {"date_from": "2025-03-01", "date_to": "2025-03-02",
                       "window_days": width, "house_bills": _ALL})
