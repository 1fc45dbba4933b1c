"""Amendments: later versions replace, re-sends are no-ops, stale versions are not applied."""

from __future__ import annotations

import csv
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution
from fedtrade.node.store import identifiers as ids
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.report import ImportReport
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import DataError, FedtradeError
from tests.node.store.samples import (
    SAMPLES,
    Row,
    carrier_store,
    dump,
    stored_rows,
    write_csv,
    write_jsonl,
)
from tests.node.store.samples import (
    versioned_house_bills as _versioned,
)

# Versions 1..3 of one house bill, each changing what a carrier corrects in practice.
VERSIONS: dict[int, Row] = {
    1: dict(SAMPLES["house_bills"][0]),
    2: dict(SAMPLES["house_bills"][0], declared_value=15.5, consignee_address="1 Main St Apt 2"),
    3: dict(SAMPLES["house_bills"][0], declared_value=15.5, consignee_address="1 Main St Apt 2",
            preload_status="hold"),
}
DATA_TABLES = ("masters", "house_bills", "row_versions")


def _import(db: Path, path: Path, **options: object) -> ImportReport:
    return import_path(db, "carrier", "house_bills", path, progress=False, **options)  # type: ignore[arg-type]


def _bills(db: Path) -> list[Row]:
    return sorted(stored_rows(db, "house_bills"), key=lambda row: str(row["house_bill"]))


def _counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    (item,) = report.files
    return (item.rows_inserted, item.rows_amended, item.rows_unchanged, item.rows_stale,
            item.rows_rejected)


def _table(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _data(db: Path) -> dict[str, list[tuple[object, ...]]]:
    return {name: _table(db, f"SELECT * FROM {name} ORDER BY 1, 2") for name in DATA_TABLES}


def test_a_later_version_replaces_the_row_and_the_change_is_logged(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    other = dict(SAMPLES["house_bills"][1])
    first = _import(db, _versioned(tmp_path / "v1.csv", [(VERSIONS[1], 1), (other, None)]))
    assert _counts(first) == (2, 0, 0, 0, 0)
    second = _import(db, _versioned(tmp_path / "v2.csv", [(VERSIONS[2], 2), (other, None)]))
    assert _counts(second) == (0, 1, 1, 0, 0)
    assert _bills(db) == [VERSIONS[2], other]
    assert _table(db, "SELECT table_name, row_key, version FROM row_versions") == [
        ("house_bills", '["HB0001"]', 2)]
    ((table, key, old, new, changes, line),) = _table(
        db, "SELECT table_name, row_key, old_version, new_version, changes, line FROM amendments")
    assert (table, key, old, new, line) == ("house_bills", '["HB0001"]', 1, 2, 2)
    assert json.loads(str(changes)) == {
        "consignee_address": ["1 Main St, Springfield IL", "1 Main St Apt 2"],
        "declared_value": [12.0, 15.5],
    }
    assert "1 row amended" in second.summary()
    assert second.as_json()["files"][0]["amended"] == 1


def test_a_resent_row_is_a_no_op(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    _import(db, _versioned(tmp_path / "a.csv", [(VERSIONS[1], 1), (VERSIONS[2], 2)]))
    before = dump(db)
    # the same versions again, in another file (a different file, so not skipped whole)
    again = _import(db, _versioned(tmp_path / "b.csv", [(VERSIONS[2], 2), (VERSIONS[2], 2)]))
    assert _counts(again) == (0, 0, 2, 0, 0)
    after = dump(db)
    assert [t for t in after if t[0] != "import_log"] == [t for t in before if t[0] != "import_log"]


def test_within_one_file_a_later_version_is_an_amendment(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    path = write_jsonl(tmp_path / "house_bills.jsonl", "house_bills",
                       [dict(VERSIONS[1], version=1), dict(VERSIONS[3], version=3)])
    report = import_path(db, "carrier", None, path, progress=False)
    assert _counts(report) == (1, 1, 0, 0, 0)
    assert _bills(db) == [VERSIONS[3]]
    assert _table(db, "SELECT line, old_version, new_version FROM amendments") == [(2, 1, 3)]


def test_a_stale_version_is_reported_and_not_applied(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    _import(db, _versioned(tmp_path / "v3.csv", [(VERSIONS[3], 3)]))
    new = dict(SAMPLES["house_bills"][1])
    report = _import(db, _versioned(tmp_path / "late.csv", [(VERSIONS[1], 1), (new, None)]))
    assert _counts(report) == (1, 0, 0, 1, 0)  # the stale row did not abort the file
    assert _bills(db) == [VERSIONS[3], new]
    assert report.as_json()["stale_rows"] == [{
        "file": str(tmp_path / "late.csv"), "table": "house_bills", "line": 2,
        "key": ["HB0001"], "version": 1, "stored_version": 3}]
    assert "1 row stale (a later version is stored; not applied)" in report.summary()


def test_other_values_under_a_stored_version_refuse_the_file(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    _import(db, _versioned(tmp_path / "v2.csv", [(VERSIONS[2], 2)]))
    before = dump(db)
    path = _versioned(tmp_path / "bad.csv", [(VERSIONS[3], 2)])
    with pytest.raises(DataError, match=r"bad.csv:2: house_bill: 'HB0001' version 2 is already "
                                        r"in the store with other values \(expected version 3"):
        _import(db, path)
    assert dump(db) == before


def test_quarantine_refuses_a_conflicting_version_and_applies_the_rest(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    other = dict(SAMPLES["house_bills"][1])
    path = _versioned(tmp_path / "mixed.csv",
                      [(VERSIONS[1], 1), (VERSIONS[2], 1), (other, 1), (VERSIONS[3], 3)])
    report = _import(db, path, quarantine=tmp_path / "rejects.csv")
    assert _counts(report) == (2, 1, 0, 0, 1)
    assert _bills(db) == [VERSIONS[3], other]
    with (tmp_path / "rejects.csv").open(newline="") as f:
        (rejected,) = list(csv.DictReader(f))
    assert rejected["version"] == "1"
    assert "mixed.csv:3: house_bill: 'HB0001' version 1 appears at line 2 with other values" \
        in rejected["import_error"]


def test_a_version_that_is_not_a_whole_number_is_a_row_error(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    path = write_jsonl(tmp_path / "house_bills.jsonl", "house_bills",
                       [dict(VERSIONS[1], version="two")])
    with pytest.raises(DataError, match=r"jsonl:1: version: 'two' is a JSON string, not a whole"):
        import_path(db, "carrier", None, path, progress=False)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(VERSIONS)), min_size=1, max_size=6))
def test_any_order_of_resent_versions_ends_in_the_same_store(arrivals: list[int]) -> None:
    """One file per arrival: whatever the order and repeats, the latest version stays."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = carrier_store(folder)
        for n, version in enumerate(arrivals):
            _import(db, _versioned(folder / f"{n}.csv", [(VERSIONS[version], version)]))
        (folder / "expected").mkdir()
        expected_db = carrier_store(folder / "expected")
        latest = max(arrivals)
        _import(expected_db, _versioned(folder / "latest.csv", [(VERSIONS[latest], latest)]))
        assert _data(db) == _data(expected_db)
        assert _bills(db) == [VERSIONS[latest]]


def test_interrupted_amendment_import_leaves_the_store_unchanged(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    bills = [dict(VERSIONS[1], house_bill=f"HB000{n}") for n in range(1, 5)]
    _import(db, _versioned(tmp_path / "v1.csv", [(row, 1) for row in bills]))
    before = dump(db)
    amended = [(dict(row, preload_status="hold"), 2) for row in bills]
    with pytest.raises(FedtradeError, match="fail_after_rows=2"):
        _import(db, _versioned(tmp_path / "v2.csv", amended), fail_after_rows=2)
    assert dump(db) == before
    report = _import(db, _versioned(tmp_path / "v2.csv", amended))
    assert _counts(report) == (0, 4, 0, 0, 0)


def test_rounded_money_keeps_its_original_in_the_store(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    path = write_csv(tmp_path / "hb.csv", "house_bills",
                     [dict(VERSIONS[1], declared_value="556.636")])
    _import(db, path)
    assert _table(db, "SELECT table_name, line, column_name, original, stored "
                      "FROM import_values") == [
        ("house_bills", 2, "declared_value", "556.636", "556.64")]


def _run(db: Path, role: str, query: str, fields: tuple[str, ...]) -> dict[str, object]:
    spec = CATALOGUE[query]
    params = validate_params(spec, {"shipments": {"house_bill": ["HB0001"]}})
    # the reference values the pipeline takes from the attested manifest line
    attested: dict[str, PyValue] = {
        "house_bill": ["HB0001"], "declared_value_usd": [15.5], "hs6": ["851830"]}
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        result = RUNS[spec.name](Execution(
            conn=conn, role=role, params={**params, "shipments": attested},
            fields=fields, query_id=b"\0" * 16, settings=QuerySettings()))
    finally:
        conn.close()
    (row,) = result.rows
    return dict(zip(result.columns, row, strict=True))


def test_a_reshipment_on_a_new_master_is_what_carrier_queries_see(tmp_path: Path) -> None:
    """The carrier re-sends a house bill as a later version on another flight: per-shipment
    queries answer for the reshipment, and the first shipment stays in the amendment log."""
    db = carrier_store(tmp_path)
    _import(db, _versioned(tmp_path / "first.csv", [(VERSIONS[1], None)]))
    assert _run(db, "carrier", "security_profile", ("preload_status",))["preload_status"] \
        == "accepted"
    reshipped = dict(VERSIONS[1], mawb=SAMPLES["masters"][1]["mawb"], preload_status="pending")
    report = _import(db, _versioned(tmp_path / "again.csv", [(reshipped, 1)]))
    assert _counts(report) == (0, 1, 0, 0, 0)
    assert _run(db, "carrier", "security_profile", ("preload_status",))["preload_status"] \
        == "pending"
    (changes,) = _table(db, "SELECT changes FROM amendments")
    assert json.loads(str(changes[0]))["mawb"] == [SAMPLES["masters"][0]["mawb"],
                                                   SAMPLES["masters"][1]["mawb"]]


def test_a_reshipment_is_a_new_broker_entry_and_queries_see_the_latest(tmp_path: Path) -> None:
    """A broker files a new entry for a reused house bill: both entries are kept, and
    per-shipment queries answer from the later entry (the higher entry number)."""
    db = tmp_path / "broker.db"
    first = dict(SAMPLES["entries"][0])
    filer, serial = "ABC", "1234568"
    second = dict(first, entry_number=f"{filer}-{serial}-{ids.entry_check_digit(filer, serial)}",
                  estimated_arrival="2025-03-09", release_status="hold")
    import_path(db, "broker", "entries", write_csv(tmp_path / "e.csv", "entries", [first]),
                progress=False)
    assert _run(db, "broker", "entry_status", ("release_status",))["release_status"] \
        == "released"
    import_path(db, "broker", "entries", write_csv(tmp_path / "e2.csv", "entries", [second]),
                progress=False)
    assert len(stored_rows(db, "entries")) == 2
    assert _run(db, "broker", "entry_status", ("release_status",))["release_status"] == "hold"


def test_versions_of_one_row_share_its_unique_key_but_two_rows_may_not(tmp_path: Path) -> None:
    db = tmp_path / "market.db"
    orders = write_csv(tmp_path / "orders.csv", "orders", SAMPLES["orders"])
    import_path(db, "marketplace", "orders", orders, progress=False)
    first = dict(SAMPLES["fulfillments"][0])
    later = dict(first, shipped_at="2025-03-05T08:00:00Z")
    thief = dict(SAMPLES["fulfillments"][1], house_bill=first["house_bill"])
    path = write_jsonl(tmp_path / "fulfillments.jsonl", "fulfillments", [
        dict(first, version=1), dict(later, version=2), dict(thief, version=1)])
    with pytest.raises(DataError, match=r"fulfillments.jsonl:3: house_bill: 'HB0001' is used by "
                                        r"another fulfillment_id at line 1"):
        import_path(db, "marketplace", None, path, progress=False)
    report = import_path(db, "marketplace", None, path, progress=False,
                         quarantine=tmp_path / "rejects.jsonl")
    assert _counts(report) == (1, 1, 0, 0, 1)
    assert stored_rows(db, "fulfillments") == [later]
