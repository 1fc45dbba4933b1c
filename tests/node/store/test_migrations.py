"""open_store: schema per role, re-runnable migrations, role checks, audit triggers, indexes."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from fedtrade.node.store import ROLES, TABLES, open_store, table_specs
from fedtrade.node.store.schema import REFERENCE
from fedtrade.sim.federation import NODE_IDS
from fedtrade.trust.errors import ConfigError
from tests.conftest import World
from tests.node.store.samples import dump

INTERNALS = ("store_meta", "audit_log", "query_ids", "rate_state", "import_log", "import_values",
             "row_versions", "amendments")


@pytest.mark.parametrize("role", ROLES)
def test_store_has_role_reference_and_internal_tables(tmp_path: Path, role: str) -> None:
    db = open_store(tmp_path / "store.db", role)
    try:
        names = set(db.table_names())
        assert set(INTERNALS) <= names
        assert {spec.name for spec in table_specs(role)} <= names
        others = {spec.name for spec in TABLES.values() if spec.role not in (role, REFERENCE)}
        assert not others & names
        assert db.journal_mode == "wal"
        assert db.execute("SELECT value FROM store_meta WHERE key = 'role'").fetchone()[0] == role
    finally:
        db.close()


@pytest.mark.parametrize("role", ROLES)
def test_schema_matches_table_specs(tmp_path: Path, role: str) -> None:
    db = open_store(tmp_path / "store.db", role)
    try:
        conn = db.conn
        for spec in table_specs(role):
            info = conn.execute(f"PRAGMA table_info({spec.name})").fetchall()
            assert [r[1] for r in info] == list(spec.column_names), spec.name
            for (_, name, sql_type, notnull, _, pk), col in zip(info, spec.columns, strict=True):
                assert sql_type == col.type.sql, (spec.name, name)
                assert bool(notnull) == (not col.nullable), (spec.name, name)
                expected_pk = spec.primary_key.index(name) + 1 if name in spec.primary_key else 0
                assert pk == expected_pk, (spec.name, name)
            fk_list = conn.execute(f"PRAGMA foreign_key_list({spec.name})")
            fks = {(r[3], r[2], r[4]) for r in fk_list}
            assert fks == {
                (col.name, col.references.table, col.references.column)
                for col in spec.columns
                if col.references is not None
            }, spec.name
            unique = {
                tuple(r[2] for r in conn.execute(f"PRAGMA index_info({idx[1]})"))
                for idx in conn.execute(f"PRAGMA index_list({spec.name})")
                if idx[2] and idx[3] == "u"
            }
            assert unique == set(spec.unique), spec.name
    finally:
        db.close()


@pytest.mark.parametrize("role", ROLES)
def test_table_specs_list_parents_first(role: str) -> None:
    seen: set[str] = set()
    for spec in table_specs(role):
        assert set(spec.parents) <= seen, spec.name
        seen.add(spec.name)


@pytest.mark.parametrize("role", ROLES)
def test_opening_again_is_a_no_op(tmp_path: Path, role: str) -> None:
    path = tmp_path / "store.db"
    open_store(path, role).close()
    before = dump(path)
    open_store(path, role).close()
    assert dump(path) == before


def test_store_of_another_role_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    open_store(path, "carrier").close()
    before = dump(path)
    with pytest.raises(ConfigError, match="created for role 'carrier', not 'broker'") as info:
        open_store(path, "broker")
    assert str(path) in str(info.value)
    assert dump(path) == before


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown role 'shipper'"):
        open_store(tmp_path / "store.db", "shipper")
    assert not (tmp_path / "store.db").exists()


def test_other_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="not a fedtrade store"):
        open_store(path, "broker")


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for\n" * 100)
    with pytest.raises(ConfigError, match="not a database"):
        open_store(path, "broker")


def test_store_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    open_store(path, "broker").close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('fedtrade-node', '0099_future', 'later')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match=r"newer fedtrade release.*0099_future"):
        open_store(path, "broker")


def test_audit_log_is_append_only(tmp_path: Path) -> None:
    db = open_store(tmp_path / "store.db", "marketplace")
    try:
        conn = db.conn
        conn.execute(
            "INSERT INTO audit_log VALUES (1, 't', 'q', 'r', 'p', 'c', 'n', 'pd', 'ad', "
            "'answered', '', 'prev', 'hash')"
        )
        conn.commit()
        with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE"):
            conn.execute("UPDATE audit_log SET decision = 'refused' WHERE seq = 1")
        with pytest.raises(sqlite3.IntegrityError, match="append-only: DELETE"):
            conn.execute("DELETE FROM audit_log")
        conn.rollback()
        assert conn.execute("SELECT decision FROM audit_log").fetchall() == [("answered",)]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("role", "query"),
    [
        ("marketplace", "SELECT * FROM fulfillments WHERE house_bill = 'X'"),
        ("marketplace", "SELECT * FROM fulfillments WHERE order_id = 'X'"),
        ("marketplace", "SELECT * FROM orders WHERE ordered_at BETWEEN 'a' AND 'b'"),
        ("marketplace", "SELECT * FROM listings WHERE seller_id = 'X'"),
        ("marketplace", "SELECT * FROM listings WHERE gtin = 'X'"),
        ("marketplace", "SELECT * FROM order_lines WHERE listing_id = 'X'"),
        ("marketplace", "SELECT * FROM order_lines WHERE order_id = 'X'"),
        ("marketplace", "SELECT * FROM seller_links WHERE seller_id = 'X'"),
        ("marketplace", "SELECT * FROM seller_links WHERE linked_seller_id = 'X'"),
        ("carrier", "SELECT * FROM house_bills WHERE house_bill = 'X'"),
        ("carrier", "SELECT * FROM house_bills WHERE mawb = 'X'"),
        ("carrier", "SELECT * FROM masters WHERE eta BETWEEN 'a' AND 'b'"),
        ("carrier", "SELECT * FROM house_bill_items WHERE house_bill = 'X'"),
        ("broker", "SELECT * FROM entries WHERE house_bill = 'X'"),
        ("broker", "SELECT * FROM entries WHERE estimated_arrival = '2025-01-01'"),
        ("broker", "SELECT * FROM entries WHERE mawb = 'X'"),
        ("broker", "SELECT * FROM entry_lines WHERE entry_number = 'X'"),
        ("broker", "SELECT * FROM entry_lines WHERE mid = 'X'"),
        ("broker", "SELECT * FROM recalled_products WHERE gtin = 'X'"),
        ("broker", "SELECT * FROM entity_list WHERE mid = 'X'"),
        # the derived tables screening reads (node.store.indicators)
        ("carrier", "SELECT * FROM parcel_indicators WHERE house_bill = 'X'"),
        ("carrier", "SELECT * FROM consignee_parcels WHERE house_bill = 'X' AND day >= 'a'"),
        ("marketplace", "SELECT * FROM consignee_parcels WHERE consignee = x'00' "
                        "AND day BETWEEN 'a' AND 'b'"),
    ],
)
def test_lookups_use_an_index(tmp_path: Path, role: str, query: str) -> None:
    db = open_store(tmp_path / "store.db", role)
    try:
        plan = " ".join(str(row[3]) for row in db.conn.execute("EXPLAIN QUERY PLAN " + query))
    finally:
        db.close()
    assert re.search(r"USING (COVERING )?INDEX|USING PRIMARY KEY", plan), plan


def test_an_existing_store_gets_its_parcels_evidence(tmp_path: Path) -> None:
    """A store written before the derived tables existed: the migration fills them."""
    path = tmp_path / "carrier.db"
    db = open_store(path, "carrier")
    with db.conn:
        db.conn.executescript("DROP TABLE parcel_indicators; DROP TABLE consignee_parcels;")
        db.conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0002_parcel_indicators'")
    db.table("masters").insert({
        "mawb": "02012345675", "flight_no": "LH400", "origin_airport": "FRA",
        "destination_airport": "JFK", "departure_at": "2025-03-01T08:00:00Z",
        "eta": "2025-03-01T16:00:00Z"})
    db.table("house_bills").insert({
        "house_bill": "HB0001", "mawb": "02012345675", "shipper_name": "Acme GmbH",
        "shipper_address": "Berlin", "shipper_country": "DE", "consignee_name": "Ms. Jane Roe",
        "consignee_address": "12 Main St", "pieces": 1, "weight_kg": 1.0,
        "declared_value": 120.0, "currency": "EUR", "description": "shoes", "hs6": "640399",
        "origin_country": "DE", "known_shipper": 1, "screened": 0,
        "preload_status": "accepted"})
    db.close()
    db = open_store(path, "carrier")
    try:
        assert db.execute("SELECT house_bill, hs6, screened FROM parcel_indicators").fetchall() \
            == [("HB0001", "640399", 0)]
        assert db.execute("SELECT consignee, day, value, currency FROM consignee_parcels"
                          ).fetchall() == [(b"JANE ROE\x1f12 MAIN ST", "2025-03-01", 120.0, "EUR")]
    finally:
        db.close()


def test_a_store_built_with_older_parcel_evidence_is_rebuilt(tmp_path: Path,
                                                             world: World) -> None:
    """The marketplace's top-line fields changed after stores were built with them: the
    rebuild step recomputes them once, from the store's own tables."""
    path = tmp_path / "marketplace.db"
    shutil.copyfile(world.stores[NODE_IDS["marketplace"]], path)
    with sqlite3.connect(path) as conn:
        before = conn.execute("SELECT * FROM parcel_indicators ORDER BY house_bill").fetchall()
        conn.execute("UPDATE parcel_indicators SET hint = '000000', country = 'ZZ'")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = "
                     "'0005_parcel_indicators_top_line'")
    db = open_store(path, "marketplace")
    try:
        after = db.execute("SELECT * FROM parcel_indicators ORDER BY house_bill").fetchall()
    finally:
        db.close()
    assert len(before) > 100
    assert after == before
