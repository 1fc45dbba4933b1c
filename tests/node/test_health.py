"""HealthWatch against a real gRPC server, watched by the stock grpc health client.

Tests run as root here, and root reads files whatever their mode, so a store
is made unusable by replacing it with garbage or moving it away; the
mode-based case (chmod 000) runs only as an ordinary user.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fedtrade.node.health import HealthWatch, database_check, key_check, probe
from fedtrade.node.store import open_store
from fedtrade.node.tls import server_credentials
from fedtrade.trust.errors import NodeUnavailableError
from fedtrade.trust.keys import generate_keypair
from fedtrade.trust.pki import init_ca, issue_certificate, load_tls_files

SERVICE = "fedtrade.node.v1.NodeService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Node:
    database: Path
    key: Path
    servicer: health.HealthServicer
    address: str


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    database = tmp_path / "carrier-1.db"
    open_store(database, "carrier").close()
    key, _ = generate_keypair(tmp_path / "keys", "carrier-1")
    servicer = health.HealthServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield Node(database, key, servicer, f"127.0.0.1:{port}")
    server.stop(None).wait()


def _replace(path: Path, data: bytes) -> None:
    """Swap the file's content atomically, so a running watch never sees half of it."""
    new = path.with_suffix(".new")
    new.write_bytes(data)
    os.replace(new, path)


def _watch(node: Node, interval: float = 60.0) -> HealthWatch:
    checks = [database_check(node.database), key_check(node.key)]
    return HealthWatch(node.servicer, ["", SERVICE], checks, interval)


def test_a_healthy_node_is_serving(node: Node) -> None:
    watch = _watch(node)
    assert watch.check_now() == ()
    assert probe(node.address, None, timeout=5) == "SERVING"
    assert probe(node.address, None, timeout=5, service=SERVICE) == "SERVING"


def test_a_corrupted_database_flips_to_not_serving_and_back(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fedtrade.node.health")
    watch = _watch(node)
    watch.check_now()
    good = node.database.read_bytes()
    node.database.write_bytes(b"this is not an SQLite database" * 200)
    (problem,) = watch.check_now()
    assert f"database {node.database} is unusable" in problem
    assert probe(node.address, None, timeout=5) == "NOT_SERVING"
    assert probe(node.address, None, timeout=5, service=SERVICE) == "NOT_SERVING"
    watch.check_now()  # the same problem again is not logged again
    node.database.write_bytes(good)
    assert watch.check_now() == ()
    assert probe(node.address, None, timeout=5, service=SERVICE) == "SERVING"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"node is NOT_SERVING: {problem}"),
        ("INFO", "node is SERVING again"),
    ]


def test_a_database_moved_away_or_without_audit_log_is_a_problem(node: Node) -> None:
    watch = _watch(node)
    moved = node.database.with_suffix(".moved")
    node.database.rename(moved)
    assert watch.check_now() == (
        f"database {node.database} is missing; restore it from backup or fix the config",
    )
    node.database.touch()  # an empty file is a valid, empty SQLite database
    (problem,) = watch.check_now()
    assert "no such table: audit_log" in problem
    node.database.unlink()
    moved.rename(node.database)
    assert watch.check_now() == ()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_database_is_a_problem(node: Node) -> None:
    watch = _watch(node)
    node.database.chmod(0o000)
    try:
        (problem,) = watch.check_now()
    finally:
        node.database.chmod(0o600)
    assert "is not readable by this process" in problem
    assert watch.check_now() == ()


def test_a_missing_or_exposed_key_is_a_problem(node: Node) -> None:
    watch = _watch(node)
    node.key.chmod(0o644)  # a mode check: it applies to root too
    (problem,) = watch.check_now()
    assert "readable by group/others" in problem
    assert probe(node.address, None, timeout=5) == "NOT_SERVING"
    node.key.chmod(0o600)
    assert watch.check_now() == ()
    shutil.move(node.key, node.key.with_suffix(".gone"))
    (problem,) = watch.check_now()
    assert "private key file not found" in problem


def test_a_check_that_raises_counts_as_a_problem(node: Node) -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    watch = HealthWatch(node.servicer, [""], [broken, database_check(node.database)], 60.0)
    assert watch.check_now() == ("health check failed: RuntimeError: boom",)
    assert watch.problems == ("health check failed: RuntimeError: boom",)


def test_the_watch_thread_reports_changes_to_a_stock_watch_client(node: Node) -> None:
    watch = _watch(node, interval=0.05)
    watch.start()
    statuses: queue.Queue[int] = queue.Queue()
    channel = grpc.insecure_channel(node.address)
    stream = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=SERVICE), timeout=20
    )

    def listen() -> None:
        try:
            for reply in stream:
                statuses.put(reply.status)
        except grpc.RpcError:
            return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert statuses.get(timeout=5) == SERVING
        good = node.database.read_bytes()
        _replace(node.database, b"garbage" * 1000)
        assert statuses.get(timeout=5) == NOT_SERVING
        _replace(node.database, good)
        assert statuses.get(timeout=5) == SERVING
        assert watch.problems == ()
    finally:
        watch.stop()
        stream.cancel()
        channel.close()
        listener.join(timeout=5)
    watch.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            watch.start()
    finally:
        watch.stop()


def test_probe_over_mutual_tls_presents_the_nodes_own_certificate(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca")
    files = issue_certificate(ca.cert.parent, "carrier-1", tmp_path / "tls")
    material = load_tls_files(files.cert, files.key, ca.cert)
    servicer = health.HealthServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"127.0.0.1:{server.add_secure_port('127.0.0.1:0', server_credentials(material))}"
    server.start()
    try:
        assert probe(address, material, timeout=5) == "SERVING"
        servicer.set("", NOT_SERVING)
        assert probe(address, material, timeout=5) == "NOT_SERVING"
        with pytest.raises(NodeUnavailableError, match=f"health check of {address} failed"):
            probe(address, material, timeout=5, expected_id="broker-1")
        with pytest.raises(NodeUnavailableError, match="UNAVAILABLE"):
            probe(address, None, timeout=5)
    finally:
        server.stop(None).wait()


def test_probe_of_an_address_where_nothing_listens_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(NodeUnavailableError, match="UNAVAILABLE"):
        probe(address, None, timeout=2)
