"""Valid sample rows for every importable table, and writers for CSV and JSON Lines files.

Rows are dicts of the values as SQLite stores them (text, int, float, None);
``write_csv`` and ``write_jsonl`` turn them into import files the way an
operator's export would (flags as 0/1 in CSV and true/false in JSON).
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from fedtrade.node.store.columns import FLAG, SqlValue
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.schema import TABLES

Row = dict[str, SqlValue]

SAMPLES: Mapping[str, list[Row]] = {
    "sellers": [
        {"seller_id": "S1", "legal_name": "Shenzhen Acme Ltd", "address": "1 Nanshan Rd, Shenzhen",
         "country": "CN", "tax_id": None, "kyc_verified": 1, "kyc_verified_at": "2024-01-02",
         "high_volume": 1, "registered_at": "2023-05-01", "status": "active"},
        {"seller_id": "S2", "legal_name": "Beta GmbH", "address": "Hauptstr. 2, Berlin",
         "country": "DE", "tax_id": "DE123456789", "kyc_verified": 0, "kyc_verified_at": None,
         "high_volume": 0, "registered_at": "2024-03-10", "status": "suspended"},
        {"seller_id": "S3", "legal_name": "Gamma, \"Trading\" Co", "address": "Line 1\nLine 2",
         "country": "HK", "tax_id": None, "kyc_verified": 0, "kyc_verified_at": None,
         "high_volume": 0, "registered_at": "2025-01-31", "status": "closed"},
    ],
    "seller_links": [
        {"seller_id": "S1", "linked_seller_id": "S2", "reason": "shared_bank_account"},
        {"seller_id": "S2", "linked_seller_id": "S1", "reason": "shared_bank_account"},
        {"seller_id": "S1", "linked_seller_id": "S3", "reason": "shared_address"},
    ],
    "listings": [
        {"listing_id": "L1", "seller_id": "S1", "title": "Wireless earbuds", "category": "audio",
         "hs6_hint": "851830", "gtin": "4006381333931", "brand": "Acme", "model": "A1",
         "price": 19.99, "currency": "USD", "origin_country": "CN"},
        {"listing_id": "L2", "seller_id": "S2", "title": "Phone case", "category": "accessories",
         "hs6_hint": None, "gtin": "012345678905", "brand": None, "model": None,
         "price": 5.0, "currency": "EUR", "origin_country": "DE"},
        {"listing_id": "L3", "seller_id": "S1", "title": "Toy", "category": "toys",
         "hs6_hint": "950300", "gtin": None, "brand": None, "model": None,
         "price": 0.5, "currency": "USD", "origin_country": "CN"},
    ],
    "orders": [
        {"order_id": "O1", "buyer_name": "Jane Roe", "buyer_address": "1 Main St, Springfield IL",
         "ordered_at": "2025-03-01T10:15:00Z", "total_paid": 45.48, "currency": "USD"},
        {"order_id": "O2", "buyer_name": "John Doe", "buyer_address": "2 Elm St, Dayton OH",
         "ordered_at": "2025-03-02T23:59:59Z", "total_paid": 5.0, "currency": "EUR"},
        {"order_id": "O3", "buyer_name": "Jane Roe", "buyer_address": "1 Main St, Springfield IL",
         "ordered_at": "2025-03-03T00:00:00Z", "total_paid": 0.0, "currency": "USD"},
    ],
    "order_lines": [
        {"order_id": "O1", "line_no": 1, "listing_id": "L1", "quantity": 2, "unit_price": 19.99,
         "amount_paid": 39.98},
        {"order_id": "O1", "line_no": 2, "listing_id": "L3", "quantity": 11, "unit_price": 0.5,
         "amount_paid": 5.5},
        {"order_id": "O2", "line_no": 1, "listing_id": "L2", "quantity": 1, "unit_price": 5.0,
         "amount_paid": 5.0},
    ],
    "fulfillments": [
        {"fulfillment_id": "F1", "order_id": "O1", "carrier_code": "DHL", "house_bill": "HB0001",
         "shipped_at": "2025-03-02T08:00:00Z"},
        {"fulfillment_id": "F2", "order_id": "O2", "carrier_code": "UPS", "house_bill": "HB0002",
         "shipped_at": "2025-03-03T08:00:00Z"},
        {"fulfillment_id": "F3", "order_id": "O3", "carrier_code": "FX", "house_bill": "HB0003",
         "shipped_at": "2025-03-04T08:00:00Z"},
    ],
    "masters": [
        {"mawb": "02012345675", "flight_no": "LH8160", "origin_airport": "FRA",
         "destination_airport": "JFK", "departure_at": "2025-03-02T10:00:00Z",
         "eta": "2025-03-02T18:30:00Z"},
        {"mawb": "58981140743", "flight_no": "5X117", "origin_airport": "PVG",
         "destination_airport": "ANC", "departure_at": "2025-03-03T01:00:00Z",
         "eta": "2025-03-03T01:00:00Z"},
        {"mawb": "16012345675", "flight_no": "CX88", "origin_airport": "HKG",
         "destination_airport": "ORD", "departure_at": "2025-03-04T01:00:00Z",
         "eta": "2025-03-04T14:00:00Z"},
    ],
    "house_bills": [
        {"house_bill": "HB0001", "mawb": "02012345675", "shipper_name": "Shenzhen Acme Ltd",
         "shipper_address": "1 Nanshan Rd, Shenzhen", "shipper_country": "CN",
         "consignee_name": "Jane Roe", "consignee_address": "1 Main St, Springfield IL",
         "pieces": 1, "weight_kg": 0.35, "declared_value": 12.0, "currency": "USD",
         "description": "earbuds", "hs6": "851830", "origin_country": "CN", "known_shipper": 1,
         "screened": 1, "preload_status": "accepted"},
        {"house_bill": "HB0002", "mawb": "02012345675", "shipper_name": "Beta GmbH",
         "shipper_address": "Hauptstr. 2, Berlin", "shipper_country": "DE",
         "consignee_name": "John Doe", "consignee_address": "2 Elm St, Dayton OH",
         "pieces": 2, "weight_kg": 1.5, "declared_value": 0.0, "currency": "EUR",
         "description": "phone case", "hs6": "392690", "origin_country": "DE", "known_shipper": 0,
         "screened": 0, "preload_status": "hold"},
        {"house_bill": "HB0003", "mawb": "58981140743", "shipper_name": "Gamma Co",
         "shipper_address": "Kowloon", "shipper_country": "HK",
         "consignee_name": "Jane Roe", "consignee_address": "1 Main St, Springfield IL",
         "pieces": 1, "weight_kg": 2.0, "declared_value": 799.99, "currency": "USD",
         "description": "toys", "hs6": "950300", "origin_country": "CN", "known_shipper": 0,
         "screened": 1, "preload_status": "do_not_load"},
    ],
    "house_bill_items": [
        {"house_bill": "HB0001", "item_no": 1, "description": "earbuds", "hs6": "851830",
         "quantity": 2, "value": 12.0},
        {"house_bill": "HB0003", "item_no": 1, "description": "toy car", "hs6": "950300",
         "quantity": 5, "value": 400.0},
        {"house_bill": "HB0003", "item_no": 2, "description": "doll", "hs6": "950300",
         "quantity": 6, "value": 399.99},
    ],
    "entries": [
        {"entry_number": "ABC-1234567-6", "entry_type": "86", "importer_of_record": None,
         "consignee_name": "Jane Roe", "consignee_address": "1 Main St, Springfield IL",
         "port_code": "4701", "estimated_arrival": "2025-03-02", "mawb": "02012345675",
         "house_bill": "HB0001", "total_value_usd": 12.0, "release_status": "released"},
        {"entry_number": "999-9999999-0", "entry_type": "11", "importer_of_record": "Doe LLC",
         "consignee_name": "John Doe", "consignee_address": "2 Elm St, Dayton OH",
         "port_code": "4101", "estimated_arrival": "2025-03-03", "mawb": "02012345675",
         "house_bill": "HB0002", "total_value_usd": 1200.5, "release_status": "hold"},
        {"entry_number": "B76-0000001-5", "entry_type": "01", "importer_of_record": "Roe Inc",
         "consignee_name": "Jane Roe", "consignee_address": "1 Main St, Springfield IL",
         "port_code": "3901", "estimated_arrival": "2025-03-04", "mawb": "58981140743",
         "house_bill": "HB0003", "total_value_usd": 2600.0, "release_status": "pending"},
    ],
    "entry_lines": [
        {"entry_number": "ABC-1234567-6", "line_no": 1, "hts10": "8518300000",
         "description": "earbuds", "origin_country": "CN", "quantity": 2, "value_usd": 12.0,
         "mid": "CNSHEACM1SHE", "certificate_ref": None},
        {"entry_number": "B76-0000001-5", "line_no": 1, "hts10": "9503000073",
         "description": "toys", "origin_country": "CN", "quantity": 11, "value_usd": 2600.0,
         "mid": "XOTOYCO12TOR", "certificate_ref": "CPSC-GCC-2026-001234"},
        {"entry_number": "B76-0000001-5", "line_no": 2, "hts10": "9503000090",
         "description": "doll", "origin_country": "VN", "quantity": 1, "value_usd": 0.0,
         "mid": None, "certificate_ref": None},
    ],
    "recalled_products": [
        {"gtin": "4006381333931", "recall_id": "24-123", "source": "CPSC",
         "recalled_at": "2024-06-01", "description": "earbuds overheat"},
        {"gtin": "96385074", "recall_id": "24-124", "source": "CPSC",
         "recalled_at": "2024-06-02", "description": "choking hazard"},
    ],
    "entity_list": [
        {"entity_id": "E1", "name": "Xinjiang Example Co", "country": "CN", "mid": "CNXINEXA1URU",
         "list_name": "UFLPA", "added_at": "2024-01-15"},
        {"entity_id": "E2", "name": "Denied Party GmbH", "country": "DE", "mid": None,
         "list_name": "DPL", "added_at": "2023-11-30"},
    ],
}

ROLE_TABLES: Mapping[str, tuple[str, ...]] = {
    "marketplace": ("sellers", "seller_links", "listings", "orders", "order_lines", "fulfillments"),
    "carrier": ("masters", "house_bills", "house_bill_items"),
    "broker": ("entries", "entry_lines"),
}


def _csv_cell(value: SqlValue) -> str:
    return "" if value is None else str(value)


def write_csv(path: Path, table: str, rows: Iterable[Mapping[str, SqlValue]]) -> Path:
    names = TABLES[table].column_names
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_cell(row[name]) for name in names])
    return path


def write_jsonl(path: Path, table: str, rows: Iterable[Mapping[str, SqlValue]]) -> Path:
    flags = {col.name for col in TABLES[table].columns if col.type is FLAG}
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            obj = {k: (bool(v) if k in flags else v) for k, v in row.items()}
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return path


def carrier_store(folder: Path) -> Path:
    """A new carrier store in ``folder`` holding the sample masters."""
    db = folder / "store.db"
    open_store(db, "carrier").close()
    import_path(db, "carrier", "masters",
                write_csv(folder / "m.csv", "masters", SAMPLES["masters"]), progress=False)
    return db


def versioned_house_bills(path: Path, rows: Sequence[tuple[Row, int | None]]) -> Path:
    """A house_bills CSV with a version column (empty where the version is None)."""
    names = TABLES["house_bills"].column_names
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*names, "version"])
        for row, version in rows:
            writer.writerow([*("" if row[n] is None else row[n] for n in names),
                             "" if version is None else version])
    return path


def stored_rows(db_path: Path, table: str) -> list[Row]:
    conn = sqlite3.connect(db_path)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    finally:
        conn.close()


def dump(db_path: Path) -> list[tuple[str, list[tuple[SqlValue, ...]]]]:
    """Every table's schema and rows, to compare a store before and after."""
    conn = sqlite3.connect(db_path)
    try:
        tables = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') "
            "ORDER BY name"
        ).fetchall()
        content: list[tuple[str, list[tuple[SqlValue, ...]]]] = [
            (f"schema:{name}", [(sql,)]) for name, sql in tables
        ]
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall():
            rows = sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            content.append((name, rows))
        return content
    finally:
        conn.close()
