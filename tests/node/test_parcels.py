"""Parcels as the unit: a house bill's evidence comes from the order lines it carries.

Regression cases: an order paid in two parcels once counted its whole total for each
parcel (a false split), the value check compared one parcel with the whole order with
shipping, seller evidence came from the order's first line, and names and GTINs had to
match exactly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution
from fedtrade.node.store.indicators import refresh
from fedtrade.node.store.migrations import open_store
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue

_BUYER = ("Jane Roe", "1 Main St, Springfield IL")
_ROWS: dict[str, list[dict[str, PyValue]]] = {
    "sellers": [
        {"seller_id": "S1", "legal_name": "SHENZHEN GOLDEN RIVER CO LTD", "address": "Shenzhen",
         "country": "CN", "kyc_verified": 1, "kyc_verified_at": "2023-01-01", "high_volume": 1,
         "registered_at": "2022-01-01", "status": "active"},
        {"seller_id": "S2", "legal_name": "Blue Lake Trading", "address": "Hong Kong",
         "country": "HK", "kyc_verified": 0, "high_volume": 0,
         "registered_at": "2025-02-20", "status": "active"},
    ],
    "listings": [
        {"listing_id": "L1", "seller_id": "S1", "title": "Drone", "category": "toys",
         "hs6_hint": "950300", "gtin": "0012345678905", "price": 300.0, "currency": "USD",
         "origin_country": "CN"},
        {"listing_id": "L2", "seller_id": "S2", "title": "Camera", "category": "photo",
         "hs6_hint": "852589", "gtin": None, "price": 297.53, "currency": "USD",
         "origin_country": "CN"},
    ],
    # paid 597.53 for goods, 620.00 with shipping and tax
    "orders": [
        {"order_id": "O1", "buyer_name": _BUYER[0], "buyer_address": _BUYER[1],
         "ordered_at": "2025-03-01T10:00:00Z", "total_paid": 620.0, "currency": "USD"},
    ],
    "order_lines": [
        {"order_id": "O1", "line_no": 1, "listing_id": "L1", "quantity": 1, "unit_price": 300.0,
         "amount_paid": 300.0},
        {"order_id": "O1", "line_no": 2, "listing_id": "L2", "quantity": 1,
         "unit_price": 297.53, "amount_paid": 297.53},
    ],
    "fulfillments": [
        {"fulfillment_id": "F1", "order_id": "O1", "carrier_code": "DHL", "house_bill": "HB0001",
         "shipped_at": "2025-03-02T08:00:00Z"},
        {"fulfillment_id": "F2", "order_id": "O1", "carrier_code": "DHL", "house_bill": "HB0002",
         "shipped_at": "2025-03-02T09:00:00Z"},
    ],
    "recalled_products": [  # the UPC-12 form of L1's EAN-13
        {"gtin": "012345678905", "recall_id": "R1", "source": "CPSC",
         "recalled_at": "2025-01-01", "description": "drone battery"},
    ],
    "entity_list": [
        {"entity_id": "E1", "name": "Shenzhen Golden River Co., Ltd.", "country": "CN",
         "mid": None, "list_name": "UFLPA", "added_at": "2024-01-01"},
    ],
}
_PARCEL_LINES = [
    {"house_bill": "HB0001", "order_id": "O1", "line_no": 1, "quantity": 1},
    {"house_bill": "HB0002", "order_id": "O1", "line_no": 2, "quantity": 1},
]


def _store(path: Path, parcel_lines: bool) -> Path:
    db = open_store(path, "marketplace")
    for table, rows in _ROWS.items():
        db.table(table).insert_all(rows)
    if parcel_lines:
        db.table("parcel_lines").insert_all(_PARCEL_LINES)
    with db.conn:  # written directly, not imported
        refresh(db.conn, "marketplace")
    db.close()
    return path


@pytest.fixture(params=[True, False], ids=["parcel_lines", "prorated"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = _store(tmp_path / "marketplace.db", request.param)
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    yield connection
    connection.close()


def _run(conn: sqlite3.Connection, query: str, params: dict[str, PyValue],
         fields: tuple[str, ...] | None = None) -> list[dict[str, PyValue]]:
    spec = CATALOGUE[query]
    batch = params.get("shipments")
    if isinstance(batch, dict):
        # a batch is asked by house bill only; the node's attestation step then fills the
        # reference values from the signed lines, as here
        bills: PyValue = {"house_bill": batch["house_bill"]}
        checked = validate_params(spec, {**params, "shipments": bills})
        checked["shipments"] = batch
    else:
        checked = validate_params(spec, params)
    result = RUNS[query](Execution(
        conn=conn, role="marketplace", params=checked,
        fields=fields or spec.fields_for("marketplace"), query_id=b"\1" * 16,
        settings=QuerySettings(linkage_secret=b"s" * 32),
    ))
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def test_an_order_in_two_parcels_counts_its_goods_once(conn: sqlite3.Connection) -> None:
    (group,) = _run(conn, "consignee_daily_totals",
                    # shipped 2 March, arriving (transit_days 3) on 5 March
                    {"date_from": "2025-03-05", "date_to": "2025-03-05",
                     "house_bills": ["HB0001", "HB0002"]})
    assert group["shipments"] == 2
    # 597.53 of goods, released rounded to the 50 USD step: not 2 x 620.00 (the order
    # total with shipping, once per parcel: 1,250 once rounded)
    assert group["value_usd"] == pytest.approx(600.0)
    assert group["house_bills"] == ["HB0001", "HB0002"]


def _indicators(conn: sqlite3.Connection, declared: list[float]) -> dict[str, dict[str, PyValue]]:
    batch: PyValue = {"house_bill": ["HB0001", "HB0002", "HB0009"],
                      "declared_value_usd": list(declared),
                      "hs6": ["950300", "852589", "950300"]}
    rows = _run(conn, "shipment_indicators", {"shipments": batch})
    return {str(row["house_bill"]): row for row in rows}


def test_parcel_evidence_comes_from_its_own_lines(tmp_path: Path) -> None:
    path = _store(tmp_path / "m.db", parcel_lines=True)
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        rows = _indicators(conn, [290.0, 140.0, 10.0])
    first, second, unknown = rows["HB0001"], rows["HB0002"], rows["HB0009"]
    # each parcel against its own goods, without shipping: 290/300 and 140/297.53
    assert first["declared_paid_ratio_band"] == "0.8-1.2"
    assert second["declared_paid_ratio_band"] == "<0.5"
    # seller evidence of each parcel's own line: the verified seller, the new unverified one
    assert (first["kyc_verified"], first["account_age_band"]) == (True, ">=730d")
    assert (second["kyc_verified"], second["account_age_band"]) == (False, "<30d")
    assert (first["hs_match_depth"], second["hs_match_depth"]) == (6, 6)
    # the recall list's UPC-12 matches the listing's EAN-13; the name matches in another spelling
    assert (first["recall_hit"], second["recall_hit"]) == (True, False)
    assert (first["entity_list_hit"], first["entity_name_strength"]) == (True, 1.0)
    assert second["entity_list_hit"] is False
    # not known to this node: every field empty, never a "no"
    assert unknown["known"] is False
    assert all(unknown[f] is None for f in unknown if f not in ("house_bill", "known"))


def test_parcels_without_parcel_lines_claim_no_line_evidence(tmp_path: Path) -> None:
    """Two parcels of one order and no parcel lines: nothing ties a line to a parcel, so
    neither parcel gets seller, value or HS evidence (unknown, never a finding)."""
    path = _store(tmp_path / "m.db", parcel_lines=False)
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        rows = _indicators(conn, [10.0, 10.0, 10.0])
    for bill in ("HB0001", "HB0002"):
        assert rows[bill]["known"] is True
        assert rows[bill]["kyc_verified"] is None
        assert rows[bill]["declared_paid_ratio_band"] is None
        assert rows[bill]["recall_hit"] is None


def test_one_parcel_order_without_parcel_lines_carries_all_lines(tmp_path: Path) -> None:
    db = open_store(tmp_path / "one.db", "marketplace")
    for table, rows in _ROWS.items():
        db.table(table).insert_all(rows[:1] if table == "fulfillments" else rows)
    with db.conn:  # written directly, not imported
        refresh(db.conn, "marketplace")
    db.close()
    with sqlite3.connect(f"{(tmp_path / 'one.db').resolve().as_uri()}?mode=ro", uri=True) as conn:
        batch: PyValue = {"house_bill": ["HB0001"], "declared_value_usd": [590.0],
                          "hs6": ["950300"]}
        (row,) = _run(conn, "shipment_indicators", {"shipments": batch})
    assert row["declared_paid_ratio_band"] == "0.8-1.2"  # 590 / 597.53, shipping excluded
    assert row["kyc_verified"] is False  # a cart of two sellers: the unverified one counts
    assert row["hs_match_depth"] == 6  # one of its items carries the manifest's code
