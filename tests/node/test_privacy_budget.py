"""The privacy budget ledger against live nodes: refusal, restart, concurrency, free repeats."""

from __future__ import annotations

import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from fedtrade.coordinator.client import Coordinator, ParamValue
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import load_node_config
from fedtrade.protocol.tables import decode_table
from fedtrade.sim.federation import Federation
from fedtrade.trust.errors import ConfigError, RemoteError
from tests.conftest import (
    CONTEXT,
    LiveFederation,
    live_federation,
    screen_request,
    signed_query,
    start_node,
)

BROKER = "broker-1"
WINDOW: dict[str, ParamValue] = {"date_from": "2024-12-20", "date_to": "2025-01-20"}


def ask(live: LiveFederation, **params: ParamValue) -> dict[str, Any]:
    """A trade_statistics answer: its rows, and its total row by column name."""
    result = live.coordinator.ask(BROKER, "trade_statistics",
                                  {"group_by": ["week"], **WINDOW, **params}, CONTEXT)
    table = decode_table(result.answer.table)
    rows = list(table.rows())
    return {"rows": rows, **dict(zip(table.names, rows[-1], strict=True))}


def set_budget(live: LiveFederation, budget: float, epsilon: float) -> None:
    """Rewrite the broker's config before the node starts (restart semantics)."""
    path = live.federation.node_configs[BROKER]
    config = yaml.safe_load(path.read_text())
    config["privacy"].update(budget_epsilon=budget, epsilon_per_query=epsilon)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def ledger(path: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT requester, epsilon FROM privacy_ledger ORDER BY seq").fetchall()


def test_budget_is_debited_refused_at_exhaustion_and_survives_restart(
        live_world: LiveFederation) -> None:
    node = live_world.nodes[BROKER]
    first = ask(live_world, origin="CN")
    assert first["mechanism"] == "discrete_laplace"
    assert first["epsilon"] == pytest.approx(0.5)
    assert first["budget_remaining"] == pytest.approx(4.5)
    assert first["shipments_pm95"] > 0  # a real interval comes with the value
    for expected in (4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0):
        assert ask(live_world, hs_chapter=f"{int(expected * 2) + 40:02d}")[
            "budget_remaining"] == pytest.approx(expected)
    with pytest.raises(RemoteError, match="RESOURCE_EXHAUSTED") as refused:
        ask(live_world, hs_chapter="61")
    assert "has 0 of 5 left" in str(refused.value)
    # the repeat of an answered query is still served, at no cost
    again = ask(live_world, origin="CN")
    assert len(again["rows"]) > 1  # released weeks and the total
    assert [r[:-1] for r in again["rows"]] == [
        r[:-1] for r in first["rows"]]
    assert again["budget_remaining"] == 0
    # a restart forgets nothing: same ledger, same refusal
    node.stop()
    live_world.nodes[BROKER] = start_node(live_world.federation.node_configs[BROKER])
    live_world.coordinator.close()
    live_world.federation.write_coordinator_config(
        {n: r.address for n, r in live_world.nodes.items()})
    live_world.coordinator = Coordinator(
        load_coordinator_config(live_world.federation.coordinator_config))
    with pytest.raises(RemoteError, match="RESOURCE_EXHAUSTED"):
        ask(live_world, hs_chapter="62")
    store = live_world.nodes[BROKER].state.store.path
    assert sum(e for _, e in ledger(store)) == pytest.approx(5.0)
    with sqlite3.connect(store) as conn:
        decisions = [r[0] for r in conn.execute(
            "SELECT decision FROM audit_log WHERE query_name = 'trade_statistics'")]
    assert decisions.count("answered") == 11
    assert decisions.count("refused") == 2


def test_identical_query_costs_nothing_and_blocks_averaging(live_world: LiveFederation) -> None:
    answers = [ask(live_world, origin="CN") for _ in range(5)]
    assert {str(a["rows"]) for a in answers} == {str(answers[0]["rows"])}
    assert [e for _, e in ledger(live_world.nodes[BROKER].state.store.path)] == [0.5]


def test_concurrent_queries_never_overspend(world_federation: Federation) -> None:
    path = world_federation.node_configs[BROKER]
    config = yaml.safe_load(path.read_text())
    config["privacy"].update(budget_epsilon=2.0, epsilon_per_query=0.25)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    running = live_federation(world_federation)
    live = next(running)

    def one(chapter: int, live: LiveFederation = live) -> str:
        try:
            ask(live, hs_chapter=f"{chapter:02d}")
        except RemoteError as exc:
            return "refused" if "RESOURCE_EXHAUSTED" in str(exc) else str(exc)
        return "answered"

    try:
        with ThreadPoolExecutor(32) as pool:
            outcomes = list(pool.map(one, range(1, 33)))
        spent = ledger(live.nodes[BROKER].state.store.path)
        assert outcomes.count("answered") == 8 == len(spent)
        assert outcomes.count("refused") == 24
        assert sum(e for _, e in spent) <= 2.0 + 1e-9
    finally:
        next(running, None)


def test_budget_command_shows_spend_per_requester(
        live_world: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    ask(live_world, origin="CN")
    assert node_main(["budget", "--config", str(live_world.federation.node_configs[BROKER])]) == 0
    out = capsys.readouterr().out
    assert "cbp-coordinator" in out
    assert "0.5" in out
    assert "4.5" in out


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c["privacy"].update(epsilon_per_query=0), "greater than 0"),
    (lambda c: c["privacy"].update(epsilon_per_query=-1), "greater than 0"),
    (lambda c: c["privacy"]["bounds"].pop("value_usd_per_shipment"), "value_usd_per_shipment"),
    (lambda c: c["privacy"].update(unit="order"), "unit"),
    (lambda c: c.pop("privacy"), "add a privacy section"),
    (lambda c: c["privacy"].update(budget_epsilon=0.1), "exceeds the budget"),
    (lambda c: c["requesters"]["cbp-coordinator"]["queries"]["shipment_known"].update(
        epsilon=1), "not an aggregate query"),
    (lambda c: c.setdefault("disclosure", {}).update(dominance=[{"n": 1, "k": 50}]),
     "dominance rules are gone"),
])
def test_privacy_config_errors_name_file_and_line(
        live: LiveFederation, edit: object, message: str) -> None:
    path = live.federation.node_configs[BROKER]
    config = yaml.safe_load(path.read_text())
    assert callable(edit)
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ConfigError, match=message) as caught:
        load_node_config(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: ", str(caught.value))


def test_screen_call_refuses_aggregates(live_world: LiveFederation) -> None:
    request = signed_query(live_world.coordinator_key, audience=BROKER,
                           query_name="trade_statistics",
                           params={"group_by": ["week"], **WINDOW})
    with pytest.raises(grpc.RpcError) as caught:
        list(live_world.nodes[BROKER].stub().Screen(screen_request(request), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
