"""A real `fedtrade-node serve` process: replay protection survives a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from fedtrade.coordinator.tls import secure_channel
from fedtrade.protos import node_pb2_grpc
from fedtrade.sim.federation import Federation
from fedtrade.trust.keys import SigningKey
from tests.conftest import attest, coordinator_tls, query_request, signed_query

NODE = "broker-1"


def start(
    config: Path, port_file: Path, *, listen: str | None = None
) -> tuple[subprocess.Popen[str], str]:
    """A `serve` process (on ``listen`` if given) and the address it bound."""
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fedtrade.node.cli",
            "serve",
            "--config",
            str(config),
            "--port-file",
            str(port_file),
            *(["--listen", listen] if listen else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.communicate()[0]
            pytest.fail(f"node did not start: {output}")
        time.sleep(0.05)
    host = listen.rpartition(":")[0] if listen else "127.0.0.1"
    return process, f"{host}:{port_file.read_text().strip()}"


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave a node behind, even when the test fails
        output, _ = process.communicate()
        pytest.fail(f"the node did not stop within 30 s of SIGTERM: {output}")
    assert process.returncode == 0, output
    return output


@contextmanager
def two_replicas(config: Path, root: Path) -> Iterator[tuple[str, list[str]]]:
    """Two `serve` processes of one config: a target naming both for gRPC round-robin, and
    (filled once both stopped) their outputs."""
    first, first_address = start(config, root / "port-1")
    try:
        second, second_address = start(config, root / "port-2")
    except BaseException:
        stop(first)
        raise
    outputs: list[str] = []
    try:
        # one address naming both replicas; in a cluster: dns:///node.namespace.svc:50051
        yield f"ipv4:{first_address},127.0.0.1:{second_address.rpartition(':')[2]}", outputs
    finally:
        outputs += [stop(first), stop(second)]


def test_replay_is_refused_after_restart(federation: Federation) -> None:
    node_config = federation.node_configs[NODE]
    key = SigningKey.from_file(federation.root / "keys" / "cbp-coordinator.key")
    blocks = attest(federation.filer_key(), federation.filer_id, [{"house_bill": "HB0001"}])
    request = query_request(signed_query(key, audience=NODE, attestations=blocks))
    port_file = federation.root / "port"

    process, address = start(node_config, port_file)
    try:
        with secure_channel(address, NODE, coordinator_tls(federation.root)) as channel:
            node_pb2_grpc.NodeServiceStub(channel).Query(request, timeout=10)
    finally:
        output = stop(process)
    assert "listening on" in output
    assert "stopped" in output

    process, address = start(node_config, port_file)
    try:
        with (
            secure_channel(address, NODE, coordinator_tls(federation.root)) as channel,
            pytest.raises(grpc.RpcError) as caught,
        ):
            node_pb2_grpc.NodeServiceStub(channel).Query(request, timeout=10)
    finally:
        stop(process)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in (caught.value.details() or "")
