"""Large unauthenticated messages against a real node process: refused cleanly, memory bounded.

The node runs as its own process (``fedtrade-node serve``) so its resident memory
can be read from /proc. It is configured with an 8 MiB message limit to keep the
test light; the bound scales with that limit (README, Security).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import yaml

from fedtrade.coordinator.tls import secure_channel
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import check_unchanged, load_node_config
from fedtrade.node.intake import Intake
from fedtrade.protocol.limits import DEFAULT_MESSAGE_BYTES, LARGE_REQUEST_BYTES
from fedtrade.protocol.wire import PAYLOAD_QUERY
from fedtrade.protos import envelope_pb2, node_pb2, node_pb2_grpc
from fedtrade.sim.federation import Federation
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.keys import SigningKey
from tests.conftest import coordinator_tls, describe_request, signed_query
from tests.node.test_node_process import start, stop

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

NODE = "broker-1"
LIMIT = 8 * 1024 * 1024
WORKERS = 8  # create_server's default: gRPC receives at most this many messages at once
# Measured: receiving a message costs about 3.3 times its size (gRPC's buffer, its
# contiguous copy, the Python bytes) and parsing and refusing it about 1.6 times more.
# Bound: every worker receiving one at the limit, at 6 times its size (4.1 measured with 12
# senders at 8 MiB: 264 MiB over idle), plus 64 MiB.
RSS_BOUND_MIB = WORKERS * 6 * LIMIT // 2**20 + 64
CONCURRENT = 12


def rss_mib(pid: int, field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of process ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def junk(size: int) -> envelope_pb2.Envelope:
    """An envelope of about ``size`` bytes whose signature names no key the node knows."""
    return envelope_pb2.Envelope(
        payload_type=PAYLOAD_QUERY, payload=b"\x00" * (size - 200),
        signatures=[envelope_pb2.Signature(key_id="ab" * 32, sig=b"s" * 64)])


@pytest.fixture
def node(federation: Federation) -> Iterator[tuple[subprocess.Popen[str], str]]:
    config = federation.node_configs[NODE]
    document = yaml.safe_load(config.read_text())
    document["node"]["max_message_bytes"] = LIMIT
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    process, address = start(config, federation.root / "port")
    try:
        yield process, address
    finally:
        if process.poll() is None:
            stop(process)


def call(address: str, federation: Federation, method: str, request: object) -> grpc.StatusCode:
    options = (("grpc.max_send_message_length", 4 * LIMIT), ("grpc.use_local_subchannel_pool", 1))
    with secure_channel(address, NODE, coordinator_tls(federation.root), options) as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        try:
            reply = getattr(stub, method)(request, timeout=60)
            if method == "Screen":
                list(reply)
        except grpc.RpcError as exc:
            return exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK


def test_large_unauthenticated_messages_are_refused_within_a_memory_bound(
    federation: Federation, node: tuple[subprocess.Popen[str], str]
) -> None:
    process, address = node
    pid = process.pid
    idle = rss_mib(pid, "VmRSS")

    too_large = node_pb2.ScreenRequest(envelope=junk(LIMIT + 1024 * 1024))
    assert call(address, federation, "Screen", too_large) == grpc.StatusCode.RESOURCE_EXHAUSTED
    # no Query or Describe is legitimately this large: refused before it is parsed
    large_query = node_pb2.QueryRequest(envelope=junk(LARGE_REQUEST_BYTES + 1024 * 1024))
    assert call(address, federation, "Query", large_query) == grpc.StatusCode.RESOURCE_EXHAUSTED

    at_limit = node_pb2.ScreenRequest(envelope=junk(LIMIT - 4096))
    codes: list[grpc.StatusCode] = []
    threads = [threading.Thread(target=lambda: codes.append(
        call(address, federation, "Screen", at_limit))) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(codes) == CONCURRENT
    assert set(codes) <= {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED}

    peak = rss_mib(pid, "VmHWM")
    assert peak - idle <= RSS_BOUND_MIB, f"idle {idle} MiB, peak {peak} MiB"
    key = SigningKey.from_file(federation.root / "keys" / "cbp-coordinator.key")
    request = describe_request(signed_query(key, audience=NODE, query_name="describe",
                                            attestations=[]))
    assert call(address, federation, "Describe", request) == grpc.StatusCode.OK  # answering

    stop(process)  # writes the refusals counted before authentication, aggregated
    database = load_node_config(federation.node_configs[NODE]).database
    with sqlite3.connect(database) as conn:
        reasons = [row[0] for row in conn.execute(
            "SELECT reason FROM audit_log WHERE requester = '(unauthenticated)'")]
    assert any("from ipv4:127.0.0.1" in reason and ": large request limit;" in reason
               for reason in reasons), reasons
    assert all(len(reason) < 600 for reason in reasons)


def test_malformed_bytes_are_invalid_argument(
    federation: Federation, node: tuple[subprocess.Popen[str], str]
) -> None:
    _, address = node
    with secure_channel(address, NODE, coordinator_tls(federation.root)) as channel:
        raw = channel.unary_unary("/fedtrade.protos.v2.NodeService/Query", None, None)
        with pytest.raises(grpc.RpcError) as caught:
            raw(b"\xff\xff\xff\xff", timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class _Holding(node_pb2_grpc.NodeServiceServicer):
    """Holds every Screen call open until released, to have large requests in progress."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def Screen(self, request: node_pb2.ScreenRequest,
               context: grpc.ServicerContext) -> Iterator[node_pb2.ScreenResponse]:
        self.entered.release()
        self.release.wait(30)
        yield node_pb2.ScreenResponse(envelope=request.envelope)

    def Query(self, request: node_pb2.QueryRequest,
              context: grpc.ServicerContext) -> node_pb2.QueryResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "only Screen")

    Describe = Query  # type: ignore[assignment]


def test_large_requests_beyond_the_slots_are_refused_while_others_run() -> None:
    refusals: list[tuple[str, str]] = []
    holding = _Holding()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[Intake(LARGE_REQUEST_BYTES, 2,
                             lambda reason, text: refusals.append((reason, text)))],
        options=[("grpc.max_receive_message_length", 8 * LARGE_REQUEST_BYTES)],
    )
    node_pb2_grpc.add_NodeServiceServicer_to_server(holding, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    large = node_pb2.ScreenRequest(envelope=junk(2 * LARGE_REQUEST_BYTES))
    small = node_pb2.ScreenRequest(envelope=junk(1024))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[
                ("grpc.max_receive_message_length", 8 * LARGE_REQUEST_BYTES)]) as channel:
            stub = node_pb2_grpc.NodeServiceStub(channel)
            held = [stub.Screen(large, timeout=30) for _ in range(2)]
            for _ in held:
                assert holding.entered.acquire(timeout=30)
            with pytest.raises(grpc.RpcError) as caught:
                list(stub.Screen(large, timeout=30))
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "already handling 2 requests" in (caught.value.details() or "")
            small_call = stub.Screen(small, timeout=30)  # small requests need no slot
            assert holding.entered.acquire(timeout=30)
            holding.release.set()
            assert [len(list(call)) for call in (*held, small_call)] == [1, 1, 1]
            assert len(list(stub.Screen(large, timeout=30))) == 1  # slots are given back
    finally:
        holding.release.set()
        server.stop(None)
    assert refusals == [("large request limit", refusals[0][1])]


@pytest.mark.parametrize(("key", "value", "error"), [
    ("max_message_bytes", 1024, "node.max_message_bytes"),  # below 1 MiB: no batch fits
    ("max_message_bytes", 64 * 1024 * 1024 + 1, "node.max_message_bytes"),
    ("max_message_bytes", "40MiB", "node.max_message_bytes"),
    ("max_large_requests", 0, "node.max_large_requests"),
    ("max_large_requests", 17, "node.max_large_requests"),
])
def test_message_limits_are_validated_strictly(
    federation: Federation, key: str, value: object, error: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = federation.node_configs[NODE]
    document = yaml.safe_load(config.read_text())
    document["node"][key] = value
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    assert node_main(["config", "check", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}:" in err
    assert error in err
    assert "Traceback" not in err


def test_message_limits_need_a_restart(federation: Federation) -> None:
    config = federation.node_configs[NODE]
    old = load_node_config(config)
    document = yaml.safe_load(config.read_text())
    document["version"] += 1
    document["node"]["max_large_requests"] = 3
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    new = load_node_config(config)
    assert new.intake.max_large_requests == 3
    assert old.intake.max_message_bytes == DEFAULT_MESSAGE_BYTES
    with pytest.raises(ConfigError, match=r"node\.max_large_requests"):
        check_unchanged(old, new)
