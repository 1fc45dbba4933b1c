"""Two real `fedtrade-node serve` processes on one PostgreSQL store, reached by the
coordinator through one address with gRPC round-robin."""

from __future__ import annotations

import concurrent.futures
import json
import re
from pathlib import Path

import pytest
import yaml

from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.node.audit import verify_chain
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import load_node_config
from fedtrade.node.statestore import read_state
from fedtrade.protocol.catalogue import DESCRIBE
from fedtrade.sim.federation import Federation
from tests.conftest import CONTEXT
from tests.node.statestore.dns_client import outcome
from tests.node.test_node_process import two_replicas
from tests.pg import write_dsn_file

NODE = "broker-1"
QUERY_ID = re.compile(r"\b[0-9a-f]{32}\b")


def use_postgresql(config: Path, dsn: str) -> None:
    data = yaml.safe_load(config.read_text())
    data["store"] = {"backend": "postgresql", "dsn_file": "pg.dsn"}
    write_dsn_file(config.parent / "pg.dsn", dsn)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.slow
def test_round_robin_over_two_replicas_sharing_one_store(
    federation: Federation, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = federation.node_configs[NODE]
    use_postgresql(config, pg_dsn)
    with two_replicas(config, federation.root) as (target, outputs):
        federation.write_coordinator_config({NODE: target})
        coordinator = Coordinator(load_coordinator_config(federation.coordinator_config))
        try:
            answers = [coordinator.ask(NODE, DESCRIBE, {}, CONTEXT) for _ in range(20)]
            # the same signed request sent to both replicas at once: one answer, one refusal
            query, request = coordinator.sign_query(
                coordinator.config.node(NODE), DESCRIBE, {}, CONTEXT)
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                results = list(pool.map(lambda _: outcome(coordinator, query, request),
                                        range(4)))
        finally:
            coordinator.close()
    assert len(answers) == 20
    assert sorted(results) == ["answered", "replay", "replay", "replay"]
    answered_by = [set(QUERY_ID.findall(output)) for output in outputs]
    assert all(len(ids) >= 5 for ids in answered_by), answered_by  # both replicas answered
    node_config = load_node_config(config)
    with read_state(node_config) as conn:
        assert verify_chain(conn) >= 24  # the 24 requests (and the replicas' own entries)
    assert node_main(["audit", "verify", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
