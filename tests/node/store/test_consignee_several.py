"""``consignee_parcels.several``: whether a parcel's consignee has more than one parcel.

Consignee totals look the asked house bills up only in the partial index of those rows
(node.queries.linkage), so a row whose flag is wrong drops its consignee from every
total. The flag must follow each import and amendment (a second parcel for a consignee
sets both, moving one away clears the other), a store built before the column existed
gets it from its migration, and the query must read the partial index.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fedtrade.node.queries.linkage import _GROUPS_SQL
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.pgdata import ddl
from tests.node.store.samples import SAMPLES, Row, carrier_store, versioned_house_bills

_JANE = {"consignee_name": "Jane Roe", "consignee_address": "1 Main St, Springfield IL"}
_JOHN = {"consignee_name": "John Doe", "consignee_address": "2 Elm St, Dayton OH"}


def _bill(number: int, consignee: dict[str, str], version: int = 1) -> tuple[Row, int | None]:
    return dict(SAMPLES["house_bills"][0], house_bill=f"HB{number:04d}", **consignee), version


def _import(db: Path, folder: Path, name: str, rows: list[tuple[Row, int | None]]) -> None:
    import_path(db, "carrier", "house_bills",
                versioned_house_bills(folder / f"{name}.csv", rows), progress=False)


def _several(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT house_bill, several FROM consignee_parcels"))


def test_the_flag_follows_imports_and_amendments(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    _import(db, tmp_path, "first", [_bill(1, _JANE), _bill(2, _JOHN)])
    assert _several(db) == {"HB0001": 0, "HB0002": 0}
    # a second parcel for Jane (spelled another way: the same normalised consignee)
    _import(db, tmp_path, "second", [_bill(3, {"consignee_name": "ROE, JANE",
                                               "consignee_address": _JANE["consignee_address"]})])
    assert _several(db) == {"HB0001": 1, "HB0002": 0, "HB0003": 1}
    # her second parcel is amended to John's: Jane is back to one, John has two
    _import(db, tmp_path, "amended", [_bill(3, _JOHN, version=2)])
    assert _several(db) == {"HB0001": 0, "HB0002": 1, "HB0003": 1}


def test_a_store_built_before_the_flag_gets_it(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    _import(db, tmp_path, "first", [_bill(1, _JANE), _bill(2, _JOHN), _bill(3, _JANE)])
    with sqlite3.connect(db) as conn:  # as the release before this column left it
        conn.executescript("DROP INDEX consignee_parcels_several; "
                           "ALTER TABLE consignee_parcels DROP COLUMN several;")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = "
                     "'0006_consignee_parcels_several'")
    open_store(db, "carrier").close()
    assert _several(db) == {"HB0001": 1, "HB0002": 0, "HB0003": 1}
    with sqlite3.connect(db) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = "
                              "'consignee_parcels_several'").fetchone()
    assert sql.endswith("(house_bill, day) WHERE several = 1")


def test_totals_look_asked_bills_up_in_the_partial_index(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    with sqlite3.connect(db) as conn:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + _GROUPS_SQL["sqlite"], {
            "bills": "[]", "start": "2025-01-01", "stop": "2025-02-01", "minimum": 2})]
    assert any("SEARCH c USING INDEX consignee_parcels_several" in step for step in plan), plan


def test_postgresql_gets_the_same_partial_index(tmp_path: Path) -> None:
    db = carrier_store(tmp_path)
    with sqlite3.connect(db) as conn:
        statements = ddl(conn, "carrier").splitlines()
    assert ("CREATE INDEX consignee_parcels_several ON consignee_parcels (house_bill, day) "
            "WHERE several = 1;") in statements
