"""A consolidated entry covers several house bills (issue 12): each is known to the
broker, the entry's total is compared with the sum of the bills it covers, and each
bill's code with the entry line closest to it (the lines name no house bill)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries import shipments as shipments_module
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import POSTGRESQL, SQLITE, Execution
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore import PostgresStateStore
from fedtrade.node.store.indicators import refresh
from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.pgdata import publish
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.wire import PyValue
from tests.node.test_pg_data import new_database

Store = tuple[SqlConn, str]  # a connection and its dialect

_ENTRY = {"entry_type": "01", "importer_of_record": "Jane Roe", "consignee_name": "Jane Roe",
          "consignee_address": "12 Main St", "port_code": "4701",
          "estimated_arrival": "2026-11-02", "mawb": "02012345675",
          "release_status": "released"}


@pytest.fixture(params=[SQLITE, POSTGRESQL])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The broker's store, read from SQLite or from PostgreSQL after publishing to it."""
    path = tmp_path / "broker.db"
    db = open_store(path, "broker")
    db.table("entries").insert_all([
        {**_ENTRY, "entry_number": "EB7-0000001-3", "house_bill": "HB0001",
         "total_value_usd": 1000.0},  # covers HB0001, HB0002 and HB0003
        {**_ENTRY, "entry_number": "EB7-0000002-1", "house_bill": "HB0009",
         "total_value_usd": 100.0},
    ])
    db.table("entry_house_bills").insert_all([
        {"entry_number": "EB7-0000001-3", "house_bill": "HB0002"},
        {"entry_number": "EB7-0000001-3", "house_bill": "HB0003"},
    ])
    db.table("entry_lines").insert_all([
        {"entry_number": "EB7-0000001-3", "line_no": n, "hts10": hts10, "description": "x",
         "origin_country": "CN", "quantity": 1, "value_usd": value}
        for n, (hts10, value) in enumerate((("8518300000", 450.0), ("6109100012", 300.0),
                                            ("9503000073", 250.0)), 1)
    ] + [{"entry_number": "EB7-0000002-1", "line_no": 1, "hts10": "6109100012",
          "description": "x", "origin_country": "CN", "quantity": 1, "value_usd": 60.0},
         {"entry_number": "EB7-0000002-1", "line_no": 2, "hts10": "8518300000",
          "description": "x", "origin_country": "CN", "quantity": 1, "value_usd": 40.0}])
    with db.conn:  # written directly, not imported
        refresh(db.conn, "broker")
        if request.param == POSTGRESQL:
            dsn = new_database(request.getfixturevalue("pg_server"))
            publish(db.conn, "broker", dsn)
    db.close()
    if request.param == POSTGRESQL:
        store = PostgresStateStore(tmp_path / "state.db", "broker", dsn, data=True)
        yield store.data()
        store.close()
        return
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    yield connection, SQLITE
    connection.close()


def _answer(store: Store, query: str, field: str,
            shipments: list[tuple[str, float, str]]) -> dict[str, PyValue]:
    conn, dialect = store
    table = {"house_bill": [s[0] for s in shipments],
             "declared_value_usd": [s[1] for s in shipments], "hs6": [s[2] for s in shipments]}
    result = RUNS[CATALOGUE[query].name](Execution(
        conn=conn, role="broker", params={"shipments": json.loads(json.dumps(table))},
        fields=(field,), query_id=b"\1" * 16, settings=QuerySettings(), dialect=dialect))
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    assert all(row["known"] for row in rows)  # every covered bill is known to the broker
    return {str(row["house_bill"]): row[field] for row in rows}


def _bands(conn: Store, shipments: list[tuple[str, float]]) -> dict[str, PyValue]:
    return _answer(conn, "entry_status", "entry_declared_ratio_band",
                   [(bill, value, "851830") for bill, value in shipments])


def test_every_covered_house_bill_is_compared_with_the_entry_as_a_whole(
    conn: Store,
) -> None:
    # 1,000 USD entered for three parcels declared 450 + 300 + 250: ratio 1.0 for each,
    # not 300/1000 (a false entry gap) for the second one alone
    bands = _bands(conn, [("HB0001", 450.0), ("HB0002", 300.0), ("HB0003", 250.0),
                          ("HB0009", 100.0)])
    assert bands == dict.fromkeys(("HB0001", "HB0002", "HB0003", "HB0009"), "0.8-1.2")


def test_a_consolidated_entry_with_bills_outside_the_batch_is_no_evidence(
    conn: Store,
) -> None:
    assert _bands(conn, [("HB0002", 300.0), ("HB0009", 40.0)]) == {
        "HB0002": None, "HB0009": "<0.5"}  # 40 declared for 100 entered


def test_each_covered_bill_is_classified_against_its_closest_entry_line(
    conn: Store,
) -> None:
    # the consolidated entry's most valuable line (8518.30) is not every bill's goods: a
    # T-shirt bill matches the 6109.10 line in full, a toy bill the 9503.00 line; a bill
    # declared as 4202.92 matches none of the lines (chapter-level difference)
    depths = _answer(conn, "classification_check", "hs_match_depth", [
        ("HB0001", 450.0, "851830"), ("HB0002", 300.0, "610910"), ("HB0003", 250.0, "950300"),
        ("HB0009", 100.0, "851830")])
    assert depths == {"HB0001": 6, "HB0002": 6, "HB0003": 6, "HB0009": 0}
    # an entry of one bill is still compared on its most valuable line (6109.10 here)
    assert _answer(conn, "classification_check", "hs_match_depth",
                   [("HB0001", 450.0, "420292"), ("HB0009", 100.0, "851830")]) == {
        "HB0001": 0, "HB0009": 0}


@pytest.mark.parametrize("bills", [["HB0009"], ["HB0009", "HB0001"], ["HB0002", "HB0009"]])
def test_batches_answer_as_the_full_statements_do(
    conn: Store, bills: list[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch in no consolidated entry is answered from the house bills alone (the entry
    expressions reduced to the parcel's own code and the batch's declared value); one with
    a consolidated entry by the full statements; either way as the full statements answer."""
    shipments = [(bill, 40.0 + 10 * i, "851830") for i, bill in enumerate(bills)]
    fields = ("entry_declared_ratio_band", "hs_match_depth")
    answers = [_answer(conn, "shipment_indicators", field, shipments) for field in fields]
    monkeypatch.setattr(shipments_module, "_UNLESS_CONSOLIDATED", {})
    assert answers == [_answer(conn, "shipment_indicators", field, shipments)
                       for field in fields]
