"""Operating a node: key rotation and revocation, health, reflection, metrics, load, shutdown."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from fedtrade.coordinator.tls import secure_channel
from fedtrade.node.config import load_node_config
from fedtrade.node.enumeration import AlarmSettings
from fedtrade.node.metrics import NodeMetrics
from fedtrade.node.reload import reload_config
from fedtrade.node.server import SERVICE_NAME, create_server
from fedtrade.node.state import NodeState
from fedtrade.protocol.wire import table_value
from fedtrade.protos import node_pb2_grpc
from fedtrade.sim.federation import COORDINATOR_ID, Federation
from fedtrade.trust.keys import SigningKey, generate_keypair
from tests.conftest import (
    CONTEXT,
    LiveFederation,
    attest,
    coordinator_tls,
    query_request,
    screen_request,
    signed_query,
    wait_for,
)

CARRIER = "carrier-1"


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` and raise the version, as a reload requires."""
    config = yaml.safe_load(path.read_text())
    change(config)
    config["version"] += 1
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def keys_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = config["requesters"][COORDINATOR_ID]["keys"]
    return result


def query_code(live: LiveFederation, key: SigningKey) -> grpc.StatusCode:
    try:
        live.nodes[CARRIER].stub().Query(
            query_request(signed_query(key, audience=CARRIER)), timeout=10)
    except grpc.RpcError as exc:
        return _code(exc)
    return grpc.StatusCode.OK


def _code(exc: grpc.RpcError) -> grpc.StatusCode:
    return exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN


def test_revoked_key_is_refused_after_reload(live: LiveFederation) -> None:
    state = live.nodes[CARRIER].state
    assert query_code(live, live.coordinator_key) == grpc.StatusCode.OK
    edit(state.config.path, lambda c: keys_of(c)[0].update(revoked=True))
    assert reload_config(state) is not None
    envelope = signed_query(live.coordinator_key, audience=CARRIER)
    with pytest.raises(grpc.RpcError) as caught:
        live.nodes[CARRIER].stub().Query(query_request(envelope), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "is revoked" in (caught.value.details() or "")


def test_key_rotation_with_validity_windows(live: LiveFederation) -> None:
    root = live.federation.root
    generate_keypair(root / "keys", "cbp-2027")
    new_key = SigningKey.from_file(root / "keys" / "cbp-2027.key")

    def rotate(config: dict[str, Any]) -> None:
        keys_of(config)[0]["not_after"] = "2020-12-31"  # the old key has expired
        keys_of(config).append({"file": "keys/cbp-2027.pub", "not_before": "2021-01-01"})

    edit(live.nodes[CARRIER].state.config.path, rotate)
    assert reload_config(live.nodes[CARRIER].state) is not None
    assert query_code(live, new_key) == grpc.StatusCode.OK
    assert query_code(live, live.coordinator_key) == grpc.StatusCode.UNAUTHENTICATED


def health_status(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(response.status)



def test_health_and_reflection_with_stock_clients(live: LiveFederation) -> None:
    node = live.nodes[CARRIER]
    channel = secure_channel(node.address, CARRIER, coordinator_tls(live.federation.root))
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, \
        health_pb2.HealthCheckResponse.NOT_SERVING
    assert health_status(channel) == serving
    assert health_status(channel, SERVICE_NAME) == serving

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = list(reflection.ServerReflectionInfo(iter([request]), timeout=5))
    names = {s.name for s in response.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names

    database = node.state.config.database
    moved = database.with_suffix(".moved")
    database.rename(moved)  # unusable for root too, unlike chmod 000
    try:
        assert wait_for(lambda: health_status(channel) == not_serving)
    finally:
        moved.rename(database)
    assert wait_for(lambda: health_status(channel) == serving)


def test_metrics_count_requests(live: LiveFederation) -> None:
    state = live.nodes[CARRIER].state
    state.metrics = NodeMetrics()
    port = state.metrics.start(0)
    try:
        for _ in range(3):
            live.coordinator.ask(CARRIER, "shipment_known", {"house_bills": ["HB0001"]}, CONTEXT,
                                 attestations=live.attest([{"house_bill": "HB0001"}]))
        assert query_code(live, SigningKey.generate()) == grpc.StatusCode.UNAUTHENTICATED
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    finally:
        state.metrics.stop()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }
    answered = ("fedtrade_requests_total", (("decision", "answered"),
                                            ("query", "shipment_known"), ("status", "OK")))
    assert samples[answered] == 3
    refused = [v for (name, labels), v in samples.items() if name == "fedtrade_requests_total"
               and ("decision", "refused") in labels and ("status", "UNAUTHENTICATED") in labels]
    assert refused == [1]
    # the unauthenticated refusal is counted, and audited only in aggregate later
    assert samples[("fedtrade_audit_log_entries", ())] == 3
    assert samples[("fedtrade_rows_returned_total", (("query", "shipment_known"),))] == 3


def test_excess_concurrent_requests_are_refused_and_the_node_stays_healthy(
    world_federation: Federation,
) -> None:
    config = load_node_config(world_federation.node_configs[CARRIER])
    state = NodeState.open(config)
    server = create_server(state, "127.0.0.1:0", max_workers=4, max_concurrent=2)
    server.start()
    key = SigningKey.from_file(world_federation.root / "keys" / "cbp-coordinator.key")
    channel = secure_channel(f"127.0.0.1:{server.port}", CARRIER,
                             coordinator_tls(world_federation.root))
    stub = node_pb2_grpc.NodeServiceStub(channel)
    names = [f"ZZ{i:010d}" for i in range(10_000)]
    bills = table_value({"house_bill": names})
    blocks = attest(world_federation.filer_key(), world_federation.filer_id,
                    [{"house_bill": b} for b in names], block_lines=10_000)
    # none of these is held here: keep the enumeration alarm out of this test
    state.config = replace(config, alarm=AlarmSettings(max_unknown_share=1.0))

    def one() -> grpc.StatusCode:
        envelope = signed_query(key, audience=CARRIER, query_name="shipment_indicators",
                                params={"shipments": bills}, attestations=blocks)
        try:
            list(stub.Screen(screen_request(envelope), timeout=60))
        except grpc.RpcError as exc:
            return _code(exc)
        return grpc.StatusCode.OK

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(lambda _: one(), range(12)))
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
        assert grpc.StatusCode.OK in codes
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        assert one() == grpc.StatusCode.OK
    finally:
        server.stop(None)
        state.close()


def test_sigterm_during_requests_loses_no_audit_entry(world_federation: Federation) -> None:
    root = world_federation.root
    config_path = world_federation.node_configs[CARRIER]
    port_file = root / "carrier.port"
    process = subprocess.Popen(
        [sys.executable, "-m", "fedtrade.node.cli", "serve", "--config", str(config_path),
         "--port-file", str(port_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert wait_for(port_file.exists, 30), process.communicate(timeout=5)[0]
    channel = secure_channel(f"127.0.0.1:{port_file.read_text().strip()}", CARRIER,
                             coordinator_tls(root))
    stub = node_pb2_grpc.NodeServiceStub(channel)
    key = SigningKey.from_file(root / "keys" / "cbp-coordinator.key")
    names = [f"ZZ{i:010d}" for i in range(5_000)]
    bills = table_value({"house_bill": names})
    blocks = attest(world_federation.filer_key(), world_federation.filer_id,
                    [{"house_bill": b} for b in names], block_lines=5_000)
    answered = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal answered
        envelope = signed_query(key, audience=CARRIER, query_name="shipment_indicators",
                                params={"shipments": bills}, attestations=blocks)
        try:
            chunks = list(stub.Screen(screen_request(envelope), timeout=60))
        except grpc.RpcError:
            return
        if chunks:
            with lock:
                answered += 1

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(one, i) for i in range(24)]
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            for future in futures:
                future.result()
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # never leave a node behind, even when the test fails
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "stopped" in output
    assert answered > 0
    conn = sqlite3.connect(load_node_config(config_path).database)
    logged = conn.execute("SELECT count(*) FROM audit_log WHERE decision = 'answered'").fetchone()
    conn.close()
    assert logged[0] >= answered
