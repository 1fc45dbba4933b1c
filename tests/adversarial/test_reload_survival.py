"""The config watcher survives hostile edits, and a later revocation still takes effect."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from fedtrade.node.metrics import NodeMetrics
from fedtrade.node.reload import ConfigWatcher
from fedtrade.sim.federation import COORDINATOR_ID, Federation
from fedtrade.trust.keys import SigningKey
from tests.conftest import RunningNode, query_request, signed_query, start_node, wait_for

CARRIER = "carrier-1"


def replace_file(path: Path, text: str) -> None:
    """Write the whole file next to ``path`` and rename it over (the documented way)."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def edited(path: Path, change: Callable[[dict[str, Any]], None]) -> str:
    config = yaml.safe_load(path.read_text())
    change(config)
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture
def carrier(federation: Federation) -> Iterator[RunningNode]:
    node = start_node(federation.node_configs[CARRIER])
    node.state.metrics = NodeMetrics()
    yield node
    node.stop()


def query_code(node: RunningNode, key: SigningKey) -> grpc.StatusCode:
    envelope = signed_query(key, audience=CARRIER)
    try:
        node.stub().Query(query_request(envelope), timeout=10)
    except grpc.RpcError as exc:
        return exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK


def refused_reloads(node: RunningNode) -> float:
    assert node.state.metrics is not None
    value = node.state.metrics.registry.get_sample_value("fedtrade_config_reloads_refused_total")
    return value or 0.0


def refused_at_least(node: RunningNode, count: int) -> bool:
    return refused_reloads(node) >= count


def test_watcher_survives_broken_edits_and_then_applies_a_revocation(
    carrier: RunningNode, federation: Federation
) -> None:
    path = carrier.state.config.path
    key = SigningKey.from_file(federation.root / "keys" / f"{COORDINATOR_ID}.key")
    good = path.read_text()

    def revoke(config: dict[str, Any]) -> None:
        config["requesters"][COORDINATOR_ID]["keys"][0]["revoked"] = True

    def revoke_and_bump(config: dict[str, Any]) -> None:
        revoke(config)
        config["version"] = 2

    hostile = [
        # once RecursionError and ValueError, which killed the watcher thread for good
        good + "deep: " + "[" * 20_000 + "]" * 20_000 + "\n",
        good.replace("version: 1", "version: " + "9" * 5000),
        # a complete, valid revocation that forgot to raise the version: refused, loudly
        edited(path, revoke),
    ]
    watcher = ConfigWatcher(carrier.state, interval=0.05)
    watcher.start()
    try:
        for count, text in enumerate(hostile, start=1):
            replace_file(path, text)
            assert wait_for(functools.partial(refused_at_least, carrier, count))
            assert carrier.state.config.version == 1
            assert query_code(carrier, key) == grpc.StatusCode.OK
        replace_file(path, edited(path, revoke_and_bump))
        assert wait_for(lambda: carrier.state.config.version == 2)
        assert query_code(carrier, key) == grpc.StatusCode.UNAUTHENTICATED
        assert refused_reloads(carrier) == len(hostile)
    finally:
        watcher.stop()
