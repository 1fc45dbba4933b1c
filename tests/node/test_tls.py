"""Mutual TLS between real gRPC servers and clients on loopback, with real certificates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fedtrade.coordinator.tls import explain_tls_failure, secure_channel
from fedtrade.node.tls import peer_ids, rotating_server_credentials, server_credentials
from fedtrade.trust.pki import (
    CaFiles,
    CertFiles,
    TlsMaterial,
    init_ca,
    issue_certificate,
    load_tls_files,
)

NODE = "marketplace-1"
COORDINATOR = "cbp-coordinator"
WHOAMI = "/fedtrade.test.Whoami/Get"
# A fresh subchannel per channel, so one test's failed connection is never reused by another.
OPTIONS = (("grpc.use_local_subchannel_pool", 1),)


@dataclass(frozen=True)
class Pki:
    root: Path
    ca: CaFiles
    other_ca: CaFiles
    issued: dict[tuple[str, bool, bool], CertFiles] = field(default_factory=dict)

    def issue(self, name: str, *, other: bool = False, expired: bool = False) -> CertFiles:
        """A certificate for ``name``, issued once per module and then reused."""
        key = (name, other, expired)
        if key not in self.issued:
            ca = self.other_ca if other else self.ca
            folder = self.root / ("other" if other else "ours") / ("old" if expired else "new")
            past = datetime.now(UTC) - timedelta(days=30)
            self.issued[key] = issue_certificate(
                ca.cert.parent,
                name,
                folder,
                days=1 if expired else 365,
                not_before=past if expired else None,
            )
        return self.issued[key]

    def material(self, files: CertFiles) -> TlsMaterial:
        """Checked material, as a correctly configured party has it."""
        return load_tls_files(files.cert, files.key, self.ca.cert)

    def raw(self, files: CertFiles) -> TlsMaterial:
        """Unchecked material trusting our CA: what a misconfigured or hostile peer presents."""
        return TlsMaterial(
            certificate_chain=files.cert.read_bytes(),
            private_key=files.key.read_bytes(),
            root_certificates=self.ca.cert.read_bytes(),
            names=frozenset(),
            not_after=files.not_after,
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    return Pki(root, init_ca(root / "ca"), init_ca(root / "other-ca", name="another CA"))


def _whoami(_request: bytes, context: grpc.ServicerContext) -> bytes:
    return ",".join(sorted(peer_ids(context))).encode()


@pytest.fixture
def serve() -> Iterator[Callable[[grpc.ServerCredentials], str]]:
    """Start a real server with the standard health service (and a peer-id echo) on a free port."""
    servers: list[grpc.Server] = []

    def start(credentials: grpc.ServerCredentials) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        servicer = health.HealthServicer()
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "fedtrade.test.Whoami", {"Get": grpc.unary_unary_rpc_method_handler(_whoami)}
                ),
            )
        )
        port = server.add_secure_port("127.0.0.1:0", credentials)
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(None).wait()


def _check(channel: grpc.Channel) -> int:
    with channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    return int(reply.status)


def _refused(channel: grpc.Channel) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _check(channel)
    error = caught.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    return error


def test_the_right_certificates_connect_and_the_server_sees_the_client_id(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(NODE))))
    client = pki.material(pki.issue(COORDINATOR))
    assert _check(secure_channel(address, NODE, client, OPTIONS)) == (
        health_pb2.HealthCheckResponse.SERVING
    )
    with secure_channel(address, NODE, client, OPTIONS) as channel:
        call = channel.unary_unary(WHOAMI, request_serializer=None, response_deserializer=None)
        whoami = call(b"", timeout=5)
    assert whoami == COORDINATOR.encode()


def test_a_client_certificate_from_another_ca_is_refused(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(NODE))))
    intruder = pki.raw(pki.issue(COORDINATOR, other=True))
    error = _refused(secure_channel(address, NODE, intruder, OPTIONS))
    assert "refused our client certificate" in explain_tls_failure(error, NODE)


def test_a_client_without_a_certificate_is_refused(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(NODE))))
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.cert.read_bytes())
    _refused(
        grpc.secure_channel(
            address, credentials, options=[*OPTIONS, ("grpc.ssl_target_name_override", NODE)]
        )
    )


def test_an_expired_client_certificate_is_refused(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(NODE))))
    expired = pki.raw(pki.issue(COORDINATOR, expired=True))
    error = _refused(secure_channel(address, NODE, expired, OPTIONS))
    assert "expired" in explain_tls_failure(error, NODE)


def test_an_expired_server_certificate_is_refused_by_the_client(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.raw(pki.issue(NODE, expired=True))))
    error = _refused(secure_channel(address, NODE, pki.material(pki.issue(COORDINATOR)), OPTIONS))
    assert "certificate has expired" in (error.details() or "")
    assert explain_tls_failure(error, NODE) == (
        f"connection to {NODE} failed: its certificate has expired; its operator must issue a "
        f"new one with `fedtrade pki issue --name {NODE}`"
    )


def test_a_server_certificate_for_another_node_is_refused_by_the_client(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue("carrier-1"))))
    client = pki.material(pki.issue(COORDINATOR))
    error = _refused(secure_channel(address, NODE, client, OPTIONS))
    assert "Hostname Verification" in (error.details() or "")
    message = explain_tls_failure(error, NODE)
    assert message.startswith(f"connection to {NODE} failed: its certificate does not name {NODE}")
    # The same server is accepted under the id its certificate does name.
    assert _check(secure_channel(address, "carrier-1", client, OPTIONS)) == (
        health_pb2.HealthCheckResponse.SERVING
    )


def test_a_server_certificate_from_another_ca_is_refused_by_the_client(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    impostor = pki.issue(NODE, other=True)
    address = serve(
        server_credentials(load_tls_files(impostor.cert, impostor.key, pki.other_ca.cert))
    )
    error = _refused(secure_channel(address, NODE, pki.material(pki.issue(COORDINATOR)), OPTIONS))
    assert "is not from the federation CA" in explain_tls_failure(error, NODE)


def test_a_plaintext_client_cannot_talk_to_a_tls_server(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(NODE))))
    error = _refused(grpc.insecure_channel(address, options=OPTIONS))
    assert "we spoke plaintext" in explain_tls_failure(error, NODE)


def test_a_tls_client_to_a_plaintext_server_gets_a_clear_reason(pki: Pki) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        client = pki.material(pki.issue(COORDINATOR))
        error = _refused(secure_channel(f"127.0.0.1:{port}", NODE, client, OPTIONS))
    finally:
        server.stop(None).wait()
    assert "does not speak TLS" in explain_tls_failure(error, NODE)
    error = _refused(secure_channel(f"127.0.0.1:{port}", NODE, client, OPTIONS))
    assert "nothing accepts connections" in explain_tls_failure(error, NODE)


def test_other_failures_are_reported_with_their_code(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(NODE))))
    client = pki.material(pki.issue(COORDINATOR))
    with (
        secure_channel(address, NODE, client, OPTIONS) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5
        )
    assert explain_tls_failure(caught.value, NODE).startswith(
        f"call to {NODE} failed with NOT_FOUND: "
    )


def test_secure_channel_sets_the_expected_name_itself(pki: Pki) -> None:
    client = pki.material(pki.issue(COORDINATOR))
    with pytest.raises(ValueError, match="ssl_target_name_override"):
        secure_channel("127.0.0.1:1", NODE, client, [("grpc.ssl_target_name_override", "x")])


def test_rotating_credentials_serve_a_renewed_certificate_without_a_restart(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str]
) -> None:
    current = [pki.material(pki.issue(NODE))]
    address = serve(rotating_server_credentials(lambda: current[-1]))
    client = pki.material(pki.issue(COORDINATOR))
    assert _check(secure_channel(address, NODE, client, OPTIONS)) == 1
    _refused(secure_channel(address, "marketplace-2", client, OPTIONS))

    current.append(pki.material(pki.issue("marketplace-2")))
    assert _check(secure_channel(address, "marketplace-2", client, OPTIONS)) == 1
    _refused(secure_channel(address, NODE, client, OPTIONS))
    # Client certificates are still required after the rotation.
    intruder = pki.raw(pki.issue(COORDINATOR, other=True))
    _refused(secure_channel(address, "marketplace-2", intruder, OPTIONS))


@pytest.mark.parametrize("node_id", ["broker_2.eu", "1234", "n.-_1"])
def test_unusual_but_valid_ids_pass_hostname_verification(
    pki: Pki, serve: Callable[[grpc.ServerCredentials], str], node_id: str
) -> None:
    address = serve(server_credentials(pki.material(pki.issue(node_id))))
    client = pki.material(pki.issue(COORDINATOR))
    assert _check(secure_channel(address, node_id, client, OPTIONS)) == 1
