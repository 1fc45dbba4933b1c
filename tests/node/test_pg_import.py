"""Imports published to PostgreSQL: the same rows as the SQLite store, all or nothing.

``fedtrade-node import`` with ``store.data: postgresql`` validates, quarantines and
amends in the SQLite store as before, then copies every data table into PostgreSQL
(COPY into a staging table, INSERT ... SELECT) before the SQLite transaction commits.
"""

from __future__ import annotations

import csv
import functools
import sqlite3
from pathlib import Path

import psycopg
import pytest

from fedtrade.node.store.importer import Publish, import_path
from fedtrade.node.store.pgdata import data_tables, publish
from fedtrade.sim.synth import generate
from fedtrade.trust.errors import FedtradeError

ROLE = "marketplace"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pgimport")
    generate(root, shipments=300, seed=3, progress=False)
    return root


def contents(conn: sqlite3.Connection | psycopg.Connection[tuple[object, ...]],
             ) -> dict[str, list[tuple[object, ...]]]:
    """Every data table's rows, in one order, values as Python gives them."""
    out = {}
    for table in data_tables(ROLE):
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in conn.execute(f"SELECT * FROM {table}").fetchall()]
        out[table] = sorted(rows, key=repr)
    return out


def amend(world: Path, out: Path, status: str) -> Path:
    """A versioned sellers file suspending (or reinstating) every third seller."""
    with (world / ROLE / "sellers.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))[::3]
    path = out / f"sellers-{status}.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, [*rows[0], "version"])
        writer.writeheader()
        writer.writerows({**row, "status": status, "version": 1 + (status == "active")}
                         for row in rows)
    return path


def imported(world: Path, pg_dsn: str, tmp_path: Path) -> tuple[Path, Publish]:
    """A store holding the world, published; and the publish its next imports run."""
    store = tmp_path / "node.db"
    push = functools.partial(publish, role=ROLE, dsn=pg_dsn)
    import_path(store, ROLE, None, world / ROLE, progress=False, publish=push)
    return store, push


def test_imports_and_amendments_reach_postgresql_row_for_row(
    world: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store, push = imported(world, pg_dsn, tmp_path)
    with sqlite3.connect(store) as lite, psycopg.connect(pg_dsn) as pg:
        before = contents(lite)
        assert contents(pg) == before
        assert len(before["parcel_indicators"]) > 200
        assert before["consignee_parcels"]
    report = import_path(store, ROLE, "sellers", amend(world, tmp_path, "suspended"),
                         progress=False, publish=push)
    assert report.files[0].rows_amended > 0
    with sqlite3.connect(store) as lite, psycopg.connect(pg_dsn) as pg:
        after = contents(lite)
        assert contents(pg) == after
        suspended = pg.execute("SELECT count(*) FROM sellers WHERE status = 'suspended'")
        assert suspended.fetchone()[0] >= report.files[0].rows_amended  # type: ignore[index]
    assert after["parcel_indicators"] != before["parcel_indicators"]  # rebuilt, then copied


def test_a_failed_publish_leaves_both_stores_as_they_were(
    world: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store, push = imported(world, pg_dsn, tmp_path)
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        # the last table copied refuses its rows: every table before it was already replaced
        pg.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$")
        pg.execute("CREATE TRIGGER refuse BEFORE INSERT ON consignee_parcels "
                   "FOR EACH STATEMENT EXECUTE FUNCTION refuse()")
        before = contents(pg)
    with sqlite3.connect(store) as lite:
        stored = contents(lite)
    with pytest.raises(FedtradeError, match=r"disk full.*neither store changed"):
        import_path(store, ROLE, "sellers", amend(world, tmp_path, "suspended"),
                    progress=False, publish=push)
    with sqlite3.connect(store) as lite, psycopg.connect(pg_dsn) as pg:
        assert contents(pg) == before
        assert contents(lite) == stored


def test_a_database_holding_another_role_is_refused(
    world: Path, pg_dsn: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        pg.execute("CREATE TABLE fedtrade_data_schema (role text PRIMARY KEY, "
                   "ddl_sha256 text NOT NULL)")
        pg.execute("INSERT INTO fedtrade_data_schema VALUES ('carrier', 'x')")
    with pytest.raises(FedtradeError, match="data of a carrier node, not a marketplace"):
        import_path(tmp_path / "node.db", ROLE, None, world / ROLE, progress=False,
                    publish=functools.partial(publish, role=ROLE, dsn=pg_dsn))
    with sqlite3.connect(tmp_path / "node.db") as lite:
        assert lite.execute("SELECT count(*) FROM sellers").fetchone()[0] == 0
