"""Imports published to PostgreSQL: only what changed, the same rows as a whole copy.

``fedtrade-node import`` with ``store.data: postgresql`` validates, quarantines and
amends in the SQLite store as before; the publish then sends the rows the import
changed (``node.store.pg_changes``), checks them as sets in PostgreSQL and applies them
(``node.store.pg_apply``) before the SQLite transaction commits. The first publish, a
new schema and ``--republish`` copy the whole store (``node.store.pgdata``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from fedtrade.node.config import load_node_config
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.pgdata import Publisher, data_tables, publish
from fedtrade.sim.csvrows import read_rows, write_rows
from fedtrade.sim.federation import Federation
from fedtrade.sim.synth import generate
from fedtrade.trust.errors import FedtradeError
from tests.node.test_cli_errors import node_cli
from tests.node.test_pg_data import new_database
from tests.node.test_pg_data_nodes import use_postgresql_data

Rows = dict[str, list[tuple[object, ...]]]


@dataclass(frozen=True)
class Plan:
    """How a role's world is imported in steps: ``later`` tables after the rest, the
    second half of ``half`` in a step of its own, and ``amend``'s column changed twice."""

    later: tuple[str, ...]
    half: str
    amend: tuple[str, str, tuple[str, str, str]]


PLANS = {
    "marketplace": Plan(("parcel_lines", "recalled_products"), "order_lines",
                        ("sellers", "status", ("suspended", "active", "closed"))),
    "carrier": Plan(("house_bill_items",), "house_bills",
                    ("house_bills", "preload_status", ("hold", "accepted", "pending"))),
    "broker": Plan(("entry_lines", "entity_list"), "entries",
                   ("entries", "release_status", ("hold", "released", "pending"))),
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pgimport")
    generate(root, shipments=300, seed=3, progress=False)
    return root


def contents(conn: sqlite3.Connection | psycopg.Connection[tuple[object, ...]],
             role: str) -> Rows:
    """Every data table's rows, in one order, values as Python gives them."""
    out = {}
    for table in data_tables(role):
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in conn.execute(f"SELECT * FROM {table}").fetchall()]
        out[table] = sorted(rows, key=repr)
    return out


def both(store: Path, dsn: str, role: str) -> tuple[Rows, Rows]:
    with sqlite3.connect(store) as lite, psycopg.connect(dsn) as pg:
        return contents(lite, role), contents(pg, role)


def steps(synth: Path, role: str, out: Path) -> Iterator[tuple[str, Path]]:
    """(what, file or folder) of each import after the first, which is ``out / "first"``."""
    plan = PLANS[role]
    first = out / "first"
    for source in sorted((synth / role).glob("*.csv")):
        rows = read_rows(source)
        if rows and source.stem not in plan.later:
            write_rows(first / source.name, rows[: len(rows) // 2] if source.stem == plan.half
                  else rows)
    rows = read_rows(synth / role / f"{plan.half}.csv")
    yield "second half", write_rows(out / "half" / f"{plan.half}.csv", rows[len(rows) // 2:])
    for table in plan.later:
        source = synth / role / f"{table}.csv"
        if source.exists():
            yield "later table", write_rows(out / table / source.name, read_rows(source))
    table, column, values = plan.amend
    rows = read_rows(synth / role / f"{table}.csv")[::3]
    for version, value in zip((1, 2, 1), values, strict=True):  # the last one is stale
        yield f"amend {version}", write_rows(out / f"amend{version}{value}" / f"{table}.csv",
                                        [{**r, column: value, "version": str(version)}
                                         for r in rows])


def entity_rows(bad: bool) -> list[dict[str, str]]:
    rows = [{"entity_id": f"ENTX{n:05d}", "name": name, "country": "CN", "mid": "",
             "list_name": "UFLPA", "added_at": "2026-01-02"}
            for n, name in enumerate(("Panda Orbit Technology Inc.", "Megan Garcia"))]
    return [*rows, {**rows[0], "entity_id": "ENTX99999", "country": "ZZ"}] if bad else rows


@pytest.mark.parametrize("role", list(PLANS))
def test_incremental_publishes_equal_a_whole_copy_row_for_row(
    synth: Path, pg_server: str, tmp_path: Path, role: str
) -> None:
    store, dsn = tmp_path / "node.db", new_database(pg_server)
    push = Publisher(role, dsn)
    plan = list(steps(synth, role, tmp_path / "files"))
    import_path(store, role, None, tmp_path / "files" / "first", progress=False, publish=push)
    assert push.last is not None
    assert push.last.whole
    lite, pg = both(store, dsn, role)
    assert pg == lite
    assert len(lite["parcel_indicators"]) > 100
    sent_derived = False
    for what, path in plan:
        report = import_path(store, role, None, path, progress=False, publish=push)
        assert push.last is not None, what
        assert not push.last.whole, what
        changed = sum(f.rows_inserted + f.rows_amended for f in report.files)
        assert changed > 0 or report.files[0].rows_stale > 0, what
        before, (lite, pg) = lite, both(store, dsn, role)
        assert pg == lite, what
        # exactly the changed rows were sent (for consignee_parcels: their house bills')
        assert push.last.rows.keys() == {t for t in lite if lite[t] != before[t]}, what
        for table, sent in push.last.rows.items():
            new = set(lite[table]) - set(before[table])
            if table == "consignee_parcels":
                bills = {row[2] for row in set(lite[table]) ^ set(before[table])}
                new = {row for row in lite[table] if row[2] in bills}
            assert sent == len(new), (what, table)
        sent_derived |= "parcel_indicators" in push.last.rows
    assert sent_derived
    # a quarantine import: the refused row stays out of both stores, the rest is sent
    rejects = tmp_path / "rejects.csv"
    entities = write_rows(tmp_path / "e.csv", entity_rows(True))
    report = import_path(store, role, "entity_list", entities,
                         progress=False, publish=push, quarantine=rejects)
    assert report.files[0].rows_rejected == 1
    assert "ENTX99999" in rejects.read_text()
    lite, pg = both(store, dsn, role)
    assert pg == lite
    assert push.last is not None
    assert push.last.rows["entity_list"] == 2
    # the incrementally published database equals a whole copy of the store
    whole = new_database(pg_server)
    with sqlite3.connect(store) as conn:
        assert publish(conn, role, whole).whole
    with psycopg.connect(whole) as copied:
        assert contents(copied, role) == pg


def imported(synth: Path, dsn: str, store: Path) -> Publisher:
    """``store`` holding the marketplace world, published to ``dsn``; the publisher."""
    push = Publisher("marketplace", dsn)
    import_path(store, "marketplace", None, synth / "marketplace", progress=False, publish=push)
    return push


def suspend(synth: Path, out: Path, version: int = 1) -> Path:
    """A versioned sellers file suspending every third seller."""
    rows = read_rows(synth / "marketplace" / "sellers.csv")[::3]
    return write_rows(out / f"sellers-{version}.csv",
                 [{**r, "status": "suspended", "version": str(version)} for r in rows])


def by_hand(dsn: str, sql: str, *params: str) -> None:
    """Change the PostgreSQL data store outside the import."""
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(sql.encode(), params)


def refused(store: Path, dsn: str, push: Publisher, table: str, path: Path, match: str,
            ) -> Rows:
    """Import ``path`` into ``table``, expecting FedtradeError ``match``: neither store
    changes. Returns PostgreSQL's rows."""
    before = both(store, dsn, "marketplace")
    with pytest.raises(FedtradeError, match=match):
        import_path(store, "marketplace", table, path, progress=False, publish=push)
    assert both(store, dsn, "marketplace") == before
    return before[1]


def test_a_publish_failing_midway_leaves_postgresql_as_it_was(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store = tmp_path / "node.db"
    push = imported(synth, pg_dsn, store)
    # the derived table refuses its rows: the sellers were already applied
    by_hand(pg_dsn, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$")
    by_hand(pg_dsn, "CREATE TRIGGER refuse BEFORE INSERT ON parcel_indicators "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse()")
    before = refused(store, pg_dsn, push, "sellers", suspend(synth, tmp_path),
                     r"disk full.*neither store changed")
    by_hand(pg_dsn, "DROP TRIGGER refuse ON parcel_indicators")
    # neither side moved on: the same import now goes through, incrementally
    import_path(store, "marketplace", "sellers", suspend(synth, tmp_path),
                progress=False, publish=push)
    assert push.last is not None
    assert not push.last.whole
    assert "sellers" in push.last.rows
    lite, pg = both(store, pg_dsn, "marketplace")
    assert lite == pg != before


def test_a_missed_publish_is_detected_and_a_republish_recovers(
    synth: Path, pg_server: str, tmp_path: Path
) -> None:
    store = tmp_path / "node.db"
    dsn, other = new_database(pg_server), new_database(pg_server)
    imported(synth, dsn, store)
    # one import published elsewhere: the first database misses it
    import_path(store, "marketplace", "sellers", suspend(synth, tmp_path), progress=False,
                publish=Publisher("marketplace", other))
    before = refused(store, dsn, Publisher("marketplace", dsn), "sellers",
                     suspend(synth, tmp_path, 2), r"is at publish 1 of this import store, "
                     r"which is at publish 2.*--republish")
    push = Publisher("marketplace", dsn, whole=True)
    import_path(store, "marketplace", "sellers", suspend(synth, tmp_path, 2), progress=False,
                publish=push)
    assert push.last is not None
    assert push.last.whole
    assert push.last.generation.number == 3
    lite, pg = both(store, dsn, "marketplace")
    assert lite == pg != before


def test_rows_changed_in_postgresql_outside_the_import_are_detected(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store = tmp_path / "node.db"
    push = imported(synth, pg_dsn, store)
    seller = read_rows(synth / "marketplace" / "sellers.csv")[0]["seller_id"]
    by_hand(pg_dsn, "UPDATE sellers SET legal_name = 'by hand' WHERE seller_id = %s", seller)
    refused(store, pg_dsn, push, "sellers", suspend(synth, tmp_path),
            r"in sellers, 1 row\(s\) the import store had are missing or differ and "
            r"1 row\(s\) it did not have.*--republish")


def test_a_reference_to_a_row_postgresql_lost_is_refused(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store = tmp_path / "node.db"
    push = imported(synth, pg_dsn, store)
    listing = read_rows(synth / "marketplace" / "listings.csv")[0]
    by_hand(pg_dsn, "DELETE FROM sellers WHERE seller_id = %s", listing["seller_id"])
    new = write_rows(tmp_path / "listings.csv", [{**listing, "listing_id": "LSTX0000001"}])
    refused(store, pg_dsn, push, "listings", new, r"listings.seller_id names no row of "
            rf"sellers \('{listing['seller_id']}'\).*--republish")


def test_a_key_postgresql_holds_under_another_row_is_refused(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store = tmp_path / "node.db"
    push = imported(synth, pg_dsn, store)
    shipped = read_rows(synth / "marketplace" / "fulfillments.csv")[0]
    by_hand(pg_dsn, "INSERT INTO fulfillments VALUES ('FULX1', %s, 'CI', 'CI1234567890', %s)",
            shipped["order_id"], shipped["shipped_at"])
    new = write_rows(tmp_path / "fulfillments.csv", [
        {**shipped, "fulfillment_id": "FULX2", "house_bill": "CI1234567890"}])
    refused(store, pg_dsn, push, "fulfillments", new, r"refuses this import's rows of "
            r"fulfillments: duplicate key.*CI1234567890.*--republish")


def test_a_database_of_another_import_store_is_refused(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    imported(synth, pg_dsn, tmp_path / "node.db")
    with pytest.raises(FedtradeError, match="holds the data another import store published"):
        import_path(tmp_path / "new.db", "marketplace", "entity_list",
                    write_rows(tmp_path / "e.csv", entity_rows(False)), progress=False,
                    publish=Publisher("marketplace", pg_dsn))
    with sqlite3.connect(tmp_path / "new.db") as lite:
        assert lite.execute("SELECT count(*) FROM entity_list").fetchone()[0] == 0


def test_a_database_holding_another_role_is_refused(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        pg.execute("CREATE TABLE fedtrade_data_schema (role text PRIMARY KEY, "
                   "ddl_sha256 text NOT NULL)")
        pg.execute("INSERT INTO fedtrade_data_schema VALUES ('carrier', 'x')")
    with pytest.raises(FedtradeError, match="data of a carrier node, not a marketplace"):
        import_path(tmp_path / "node.db", "marketplace", None, synth / "marketplace",
                    progress=False, publish=Publisher("marketplace", pg_dsn))
    with sqlite3.connect(tmp_path / "node.db") as lite:
        assert lite.execute("SELECT count(*) FROM sellers").fetchone()[0] == 0


def test_a_file_refused_whole_publishes_nothing(
    synth: Path, pg_dsn: str, tmp_path: Path
) -> None:
    store = tmp_path / "node.db"
    push = imported(synth, pg_dsn, store)
    generation = push.last.generation if push.last else None
    refused(store, pg_dsn, push, "entity_list", write_rows(tmp_path / "e.csv", entity_rows(True)),
            "ZZ")
    import_path(store, "marketplace", "entity_list",
                write_rows(tmp_path / "e.csv", entity_rows(False)), progress=False, publish=push)
    assert push.last is not None
    assert generation is not None
    assert push.last.generation.number == generation.number + 1


def test_republish_on_the_command_line(world_federation: Federation, pg_dsn: str) -> None:
    config = world_federation.node_configs["broker-1"]
    sqlite_only = node_cli("import", "--config", str(config), "--republish").error_line()
    assert sqlite_only.startswith("--republish applies to a node whose data is on PostgreSQL")
    use_postgresql_data(config, pg_dsn)
    missing = node_cli("import", "--config", str(config)).error_line()
    assert missing == "give TABLE PATH for one file, or just a FOLDER"
    run = node_cli("import", "--config", str(config), "--republish")
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("copied the whole store to PostgreSQL (")
    lite, pg = both(load_node_config(config).database, pg_dsn, "broker")
    assert lite == pg
    assert len(pg["entries"]) > 100
