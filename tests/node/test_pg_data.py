"""The data path on PostgreSQL answers as on SQLite: one abstract suite, both backends.

The synthetic world's stores are published into one PostgreSQL database per node
(``node.store.pgdata``, as ``fedtrade-node import`` does with ``store.data:
postgresql``), and every catalogue query runs on the SQLite file and on a read-only
PostgreSQL session of the node's state store. Answers must be equal cell by cell; for
trade statistics, whose noise cannot be seeded, the contributions before bounding and
noise.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import DisclosureControls, PrivacySettings, QuerySettings
from fedtrade.node.queries.spec import POSTGRESQL, SQLITE, Execution, ResultTable
from fedtrade.node.queries.statistics import contributions
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore import PostgresStateStore, StoreError
from fedtrade.node.store.pgdata import publish
from fedtrade.protocol.catalogue import CATALOGUE, INDICATOR_ROLES, TOTAL
from fedtrade.protocol.limits import STATISTICS_MAX_DAYS
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.federation import NODE_IDS
from tests.conftest import World

SETTINGS = QuerySettings(
    linkage_secret=b"s" * 32,
    disclosure=DisclosureControls(min_cell_shipments=10),
    privacy=PrivacySettings(unit="shipment", shipments_per_unit=5, cells_per_shipment=10,
                            value_cents_per_shipment=10**7, epsilon_per_query=1.0,
                            budget_epsilon=10.0, period_days=30, delta=1e-9))
UNKNOWN = ["ZZ0000000001", "ZZ0000000002"]


def new_database(server: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return make_conninfo(server, dbname=name)


@pytest.fixture(scope="module")
def published(world: World, pg_server: str,
              tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, str]:
    """role -> the DSN of a PostgreSQL database holding that role's world store."""
    out = {}
    copies = tmp_path_factory.mktemp("published")
    for role, node_id in NODE_IDS.items():
        out[role] = new_database(pg_server)
        store = shutil.copyfile(world.stores[node_id], copies / f"{node_id}.db")
        with sqlite3.connect(store) as lite:  # a publish records its generation there
            publish(lite, role, out[role])
    return out


@pytest.fixture(scope="module")
def stores(world: World, published: Mapping[str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PostgresStateStore]]:
    """role -> a node's state store reading its data from PostgreSQL."""
    root = tmp_path_factory.mktemp("pgdata")
    out = {role: PostgresStateStore(root / f"{role}.db", role, dsn, data=True)
           for role, dsn in published.items()}
    yield out
    for store in out.values():
        store.close()


def connection(world: World, stores: Mapping[str, PostgresStateStore], role: str,
               dialect: str) -> SqlConn:
    if dialect == POSTGRESQL:
        conn, given = stores[role].data()
        assert given == POSTGRESQL
        return conn
    path = world.stores[NODE_IDS[role]]
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def run(conn: SqlConn, dialect: str, role: str, name: str, params: Mapping[str, Any],
        fields: tuple[str, ...], query_id: int = 0) -> ResultTable:
    # a batch's reference values come from the attestation: the pipeline fills them in
    attested = "declared_value_usd" in params.get("shipments", {})
    checked = dict(params) if attested else validate_params(CATALOGUE[name], dict(params))
    return RUNS[name](Execution(conn, role, checked, fields, query_id.to_bytes(16, "big"),
                                SETTINGS, attestation=b"blocks", epsilon=1.0, dialect=dialect))


def questions(world: World, role: str) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Every screening question a ``role`` node answers, over the whole manifest in batches
    (with bills it does not hold), each asking for every field the role has."""
    rows = world.manifest()
    days = sorted(r["arrival_date"] for r in rows)
    fields = tuple(f for f in CATALOGUE["shipment_indicators"].output_fields
                   if role in INDICATOR_ROLES[f])
    totals = CATALOGUE["consignee_daily_totals"].output_fields
    for start in range(0, len(rows), 500):
        part = rows[start:start + 500]
        bills = [r["house_bill"] for r in part] + UNKNOWN
        declared: list[PyValue] = [float(r["declared_value"]) for r in part]
        hs6: list[PyValue] = [r["hs6"] for r in part]
        batch: dict[str, list[PyValue]] = {"house_bill": list(bills),
                                           "declared_value_usd": [*declared, 10.0, None],
                                           "hs6": [*hs6, "610910", None]}
        yield "shipment_indicators", {"shipments": batch}, fields
        yield "shipment_known", {"house_bills": bills}, ()
        for width in (1, 3):
            yield "consignee_daily_totals", {
                "date_from": days[0], "date_to": days[-1], "window_days": width,
                "house_bills": bills}, totals


@pytest.mark.parametrize("role", list(NODE_IDS))
def test_screening_answers_are_equal_cell_by_cell(
    world: World, stores: Mapping[str, PostgresStateStore], role: str
) -> None:
    lite = connection(world, stores, role, SQLITE)
    pg = connection(world, stores, role, POSTGRESQL)
    held = groups = 0
    for index, (name, params, fields) in enumerate(questions(world, role)):
        expected = run(lite, SQLITE, role, name, params, fields, index)
        actual = run(pg, POSTGRESQL, role, name, params, fields, index)
        assert actual.columns == expected.columns
        assert [tuple(r) for r in actual.rows] == [tuple(r) for r in expected.rows], (name, index)
        if name == "shipment_indicators":
            held += sum(1 for row in expected.rows if row[1])
            assert expected.rows[-1][1] is False  # the unknown bills stay unknown
        groups += len(expected.rows) if name == "consignee_daily_totals" else 0
    assert held > 100
    assert groups > 0


def statistics_params(world: World) -> Iterator[dict[str, Any]]:
    days = sorted(r["arrival_date"] for r in world.manifest())
    first = date.fromisoformat(days[0]) - timedelta(days=10)
    window = {"date_from": first.isoformat(),
              "date_to": (first + timedelta(days=STATISTICS_MAX_DAYS - 1)).isoformat()}
    for group_by in (["hs_chapter"], ["origin"], ["week"], ["hs_chapter", "origin", "week"]):
        yield {**window, "group_by": group_by}
    yield {**window, "group_by": ["week"], "hs_chapter": "61"}
    yield {**window, "group_by": ["hs_chapter"], "origin": "CN"}


@pytest.mark.parametrize("role", list(NODE_IDS))
@pytest.mark.parametrize("unit", ["shipment", "party"])
def test_statistics_contributions_are_equal(
    world: World, stores: Mapping[str, PostgresStateStore], role: str, unit: str
) -> None:
    assert SETTINGS.privacy is not None
    settings = QuerySettings(privacy=PrivacySettings(**{**SETTINGS.privacy.__dict__,
                                                        "unit": unit}))
    spec = CATALOGUE["trade_statistics"]
    total = 0
    for params in statistics_params(world):
        for fields in (("shipments", "value_usd"), ("shipments",)):
            found = {}
            for dialect in (SQLITE, POSTGRESQL):
                execution = Execution(connection(world, stores, role, dialect), role,
                                      validate_params(spec, params), fields, b"q" * 16,
                                      settings, epsilon=1.0, dialect=dialect)
                found[dialect] = sorted((c.unit, c.shipment, c.key, c.cents)
                                        for c in contributions(execution))
            assert found[POSTGRESQL] == found[SQLITE], params
            total += len(found[SQLITE])
    assert total > 1000


def test_a_released_statistics_answer_has_the_same_shape(
    world: World, stores: Mapping[str, PostgresStateStore]
) -> None:
    params = next(statistics_params(world))
    tables = [run(connection(world, stores, "carrier", d), d, "carrier", "trade_statistics",
                  params, ("shipments",)) for d in (SQLITE, POSTGRESQL)]
    assert tables[0].columns == tables[1].columns
    assert tables[1].rows[-1][0] == TOTAL
    noisy = [table.rows[-1][1] for table in tables]
    assert isinstance(noisy[0], int | float)
    assert isinstance(noisy[1], int | float)
    assert abs(noisy[1] - noisy[0]) < 100  # the same total, noised twice


class Traced:
    """A psycopg connection that keeps every statement it sends."""

    def __init__(self, conn: SqlConn) -> None:
        self.conn, self.statements = conn, list[str]()

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        self.statements.append(sql)
        return self.conn.execute(sql, parameters)


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRESQL])
def test_fields_not_granted_never_reach_the_sql(
    world: World, stores: Mapping[str, PostgresStateStore], dialect: str
) -> None:
    bills = [r["house_bill"] for r in world.manifest()[:20]]
    traced = Traced(connection(world, stores, "marketplace", dialect))
    result = run(traced, dialect, "marketplace", "seller_profile",
                 {"shipments": {"house_bill": bills}}, ("kyc_verified",))
    assert result.columns == ("house_bill", "known", "kyc_verified")
    (statement,) = traced.statements
    assert "p.kyc_verified" in statement
    for other in ("p.linked", "p.age", "p.name_strength", "p.country", "p.paid"):
        assert other not in statement
    traced = Traced(connection(world, stores, "broker", dialect))
    run(traced, dialect, "broker", "trade_statistics",
        next(statistics_params(world)), ("shipments",))
    (statement,) = traced.statements
    assert "value_usd" not in statement  # no value asked for: none read


def test_the_data_session_refuses_writes(stores: Mapping[str, PostgresStateStore]) -> None:
    conn, _ = stores["carrier"].data()
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("DELETE FROM parcel_indicators")
    assert conn.execute("SELECT count(*) FROM parcel_indicators").fetchone()[0] > 0


def test_a_node_without_published_data_refuses_to_start(pg_dsn: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run fedtrade-node import"):
        PostgresStateStore(tmp_path / "n.db", "carrier", pg_dsn, data=True)


def test_a_database_of_another_role_is_refused(
    published: Mapping[str, str], tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match="data of a carrier node, not a broker"):
        PostgresStateStore(tmp_path / "n.db", "broker", published["carrier"], data=True)
