"""The per-shipment and linkage queries answer planted risks correctly, over real nodes."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import pytest

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import PyValue, table_value
from tests.conftest import CONTEXT, LiveFederation, World

MARKET, CARRIER, BROKER = "marketplace-1", "carrier-1", "broker-1"


def shipments(world: World, limit: int | None = None) -> dict[str, list[PyValue]]:
    """The manifest as CBP would send it: house bill, declared value in USD, HS6 (columns)."""
    rows = world.manifest()[:limit]
    return {
        "house_bill": [row["house_bill"] for row in rows],
        "declared_value_usd": [
            round(float(row["declared_value"]) / DEFAULT_CURRENCY_PER_USD[row["currency"]], 2)
            for row in rows
        ],
        "hs6": [row["hs6"] for row in rows],
    }


def ask_table(
    live: LiveFederation, node: str, query: str, batch: Mapping[str, list[PyValue]]
) -> dict[str, dict[str, PyValue]]:
    """house bill -> {column: value} from a verified answer to a per-shipment query about
    the batch's lines, attested by the carrier with the batch's reference values."""
    bills = batch["house_bill"]
    rows = [{"house_bill": bill, **{name: batch[column][i] for column, name in
                                    (("declared_value_usd", "declared_value"), ("hs6", "hs6"))
                                    if column in batch}}
            for i, bill in enumerate(bills)]
    params = {"shipments": table_value({"house_bill": bills})}
    answer = live.coordinator.ask(node, query, params, CONTEXT, attestations=live.attest(rows))
    table = decode_table(answer.answer.table)
    return {str(record["house_bill"]): record for record in table.records()}


@pytest.fixture
def batch(world: World) -> dict[str, list[PyValue]]:
    return shipments(world)


def test_seller_profile_reveals_planted_seller_risks(
    live_world: LiveFederation, world: World, batch: dict[str, list[PyValue]]
) -> None:
    truth = world.truth()
    answer = ask_table(live_world, MARKET, "seller_profile", batch)
    assert all(row["known"] for row in answer.values())
    for bill in truth["unverified_seller"]:
        assert answer[bill]["kyc_verified"] is False
    for bill in truth["new_seller"]:
        assert answer[bill]["account_age_band"] == "<30d"
    for bill in truth["linked_suspended_seller"]:
        assert answer[bill]["linked_suspended_band"] != "0"
    clean = set(answer) - set().union(*truth.values())
    assert clean
    for bill in clean:
        assert answer[bill]["kyc_verified"] is True
        assert answer[bill]["linked_suspended_band"] == "0"
        assert answer[bill]["account_age_band"] != "<30d"


def test_value_check_bands_undervaluation(
    live_world: LiveFederation, world: World, batch: dict[str, list[PyValue]]
) -> None:
    truth = world.truth()
    answer = ask_table(live_world, MARKET, "value_check", batch)
    for bill in truth["undervaluation"]:
        assert answer[bill]["declared_paid_ratio_band"] == "<0.5"
    for bill in set(answer) - truth["undervaluation"]:
        assert answer[bill]["declared_paid_ratio_band"] == "0.8-1.2"


def test_classification_depth_at_every_role(
    live_world: LiveFederation, world: World, batch: dict[str, list[PyValue]]
) -> None:
    truth = world.truth()["misclassification"]
    depths = {
        node: ask_table(live_world, node, "classification_check", batch)
        for node in (MARKET, CARRIER, BROKER)
    }
    for bill in truth:
        assert any(d[bill]["hs_match_depth"] not in (6, None) for d in depths.values()), bill
    for clean in set(batch["house_bill"]) - truth:
        assert depths[CARRIER][str(clean)]["hs_match_depth"] == 6


def test_security_entry_and_list_hits(
    live_world: LiveFederation, world: World, batch: dict[str, list[PyValue]]
) -> None:
    truth = world.truth()
    security = ask_table(live_world, CARRIER, "security_profile", batch)
    for bill, row in security.items():
        risky = row["screened"] is False or row["preload_status"] != "accepted"
        assert risky == (bill in truth["unscreened"]), bill
    entries = ask_table(live_world, BROKER, "entry_status", batch)
    for bill in truth["manifest_entry_gap"]:
        row = entries[bill]
        assert row["known"] is False or row["entry_declared_ratio_band"] != "0.8-1.2"
    hits_market = ask_table(live_world, MARKET, "list_hits", batch)
    assert {b for b, r in hits_market.items() if r["recall_hit"]} == truth["recalled_product"]
    hits_broker = ask_table(live_world, BROKER, "list_hits", batch)
    assert {b for b, r in hits_broker.items() if r["entity_list_hit"]} == truth[
        "entity_list_manufacturer"
    ]
    assert "recall_hit" not in next(iter(hits_broker.values()))


def test_unknown_shipment_is_not_a_negative_finding(live_world: LiveFederation) -> None:
    answer = ask_table(live_world, CARRIER, "security_profile", {"house_bill": ["ZZ0000000001"]})
    assert answer["ZZ0000000001"] == {
        "house_bill": "ZZ0000000001",
        "known": False,
        "known_shipper": None,
        "screened": None,
        "preload_status": None,
    }


def test_fields_not_granted_are_never_computed(world: World) -> None:
    statements: list[str] = []
    conn = sqlite3.connect(f"{world.stores[MARKET].resolve().as_uri()}?mode=ro", uri=True)
    conn.set_trace_callback(statements.append)
    spec = CATALOGUE["seller_profile"]
    result = RUNS[spec.name](
        Execution(
            conn=conn,
            role="marketplace",
            params=validate_params(
                spec, {"shipments": {"house_bill": shipments(world, 20)["house_bill"]}}),
            fields=("kyc_verified",),
            query_id=b"\0" * 16,
            settings=QuerySettings(),
        )
    )
    conn.close()
    assert result.columns == ("house_bill", "known", "kyc_verified")
    (statement,) = statements
    assert "kyc_verified" in statement
    assert "seller_links" not in statement  # linked_suspended_band was not asked for
    assert "registered_at" not in statement
    # nor read from the per-parcel evidence: only the granted column is selected
    assert "p.kyc_verified" in statement
    assert "p.linked" not in statement
    assert "p.age" not in statement
    assert "p.name_strength" not in statement


def test_consignee_tokens_link_across_nodes_within_one_query_only(
    live_world: LiveFederation, world: World
) -> None:
    truth = world.truth()["split_shipment"]
    dates = sorted(row["arrival_date"] for row in world.manifest())
    params: dict[str, PyValue] = {
        "date_from": dates[0],
        "date_to": dates[-1],
        "house_bills": sorted(truth),
    }
    query_id = b"\x01" * 16

    def totals(node: str, qid: bytes) -> dict[str, tuple[PyValue, ...]]:
        spec = CATALOGUE["consignee_daily_totals"]
        conn = live_world.nodes[node].state.store.reader()
        result = RUNS[spec.name](
            Execution(
                conn=conn,
                role=live_world.nodes[node].state.config.role,
                params=params,
                fields=spec.output_fields,
                query_id=qid,
                settings=live_world.nodes[node].state.config.settings,
                attestation=b"blocks",
            )
        )
        return {str(row[0]): row for row in result.rows}

    carrier, broker = totals(CARRIER, query_id), totals(BROKER, query_id)
    linked = {t for t, row in carrier.items() if row[4]}  # groups holding split house bills
    assert linked
    assert linked <= set(broker)
    for token in linked:
        # the broker may lack an entry (a planted gap); what it has, it groups the same way
        assert set(broker[token][4]) <= set(carrier[token][4])  # type: ignore[arg-type]
        assert broker[token][4]
        value = carrier[token][3]
        assert isinstance(value, float)
        assert value > 800
        assert value % 50 == 0  # rounded to the node's consignee_value_step_usd
    other = totals(CARRIER, b"\x02" * 16)
    assert not set(other) & set(carrier)


def test_consignee_totals_through_the_node(live_world: LiveFederation, world: World) -> None:
    dates = sorted(row["arrival_date"] for row in world.manifest())
    bills = [row["house_bill"] for row in world.manifest()]
    table = decode_table(
        live_world.coordinator.ask(
            BROKER, "consignee_daily_totals",
            {"date_from": dates[0], "date_to": dates[-1], "house_bills": bills}, CONTEXT,
            attestations=live_world.attest([{"house_bill": bill} for bill in bills]),
        ).answer.table
    )
    assert table.names == ("consignee_token", "day", "shipments", "value_usd", "house_bills")
    assert table.row_count > 0
    assert all(isinstance(n, int) and n >= 2 for n in table.columns["shipments"])
