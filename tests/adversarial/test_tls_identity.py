"""A signed query is answered only over a TLS connection whose certificate may speak for
its requester: another party's valid certificate is refused, and the refusal is audited."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml

from fedtrade.coordinator.tls import secure_channel
from fedtrade.node.config import load_node_config
from fedtrade.protos import node_pb2_grpc
from fedtrade.sim.federation import COORDINATOR_ID, Federation
from fedtrade.trust.keys import SigningKey
from fedtrade.trust.pki import TlsMaterial, issue_certificate, load_tls_files
from tests.conftest import RunningNode, query_request, signed_query, start_node

CARRIER = "carrier-1"


@pytest.fixture
def carrier(federation: Federation) -> Iterator[RunningNode]:
    node = start_node(federation.node_configs[CARRIER])
    yield node
    node.stop()


def tls_of(federation: Federation, name: str) -> TlsMaterial:
    """The TLS material of a certificate for ``name`` from the federation CA (issued if new)."""
    keys = federation.root / "keys"
    if not (keys / f"{name}.tls.crt").exists():
        issue_certificate(federation.root / "ca", name, keys)
    return load_tls_files(keys / f"{name}.tls.crt", keys / f"{name}.tls.key",
                          federation.root / "ca" / "ca.crt")


def ask(node: RunningNode, material: TlsMaterial, key: SigningKey) -> grpc.StatusCode:
    """Send a query signed by the coordinator's key over a connection using ``material``."""
    with secure_channel(node.address, node.node_id, material,
                        options=(("grpc.use_local_subchannel_pool", 1),)) as channel:
        stub = node_pb2_grpc.NodeServiceStub(channel)
        try:
            stub.Query(query_request(signed_query(key, audience=CARRIER)), timeout=10)
        except grpc.RpcError as exc:
            return exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.OK


def last_audit(database: Path) -> tuple[str, str, str]:
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT requester, decision, reason FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    return row[0], row[1], row[2]


def coordinator_key(federation: Federation) -> SigningKey:
    return SigningKey.from_file(federation.root / "keys" / f"{COORDINATOR_ID}.key")


@pytest.mark.parametrize("impostor", ["marketplace-1", "carrier-1", "someone-with-a-cert"])
def test_another_partys_certificate_cannot_carry_the_requesters_query(
    federation: Federation, carrier: RunningNode, impostor: str
) -> None:
    key = coordinator_key(federation)
    assert ask(carrier, tls_of(federation, COORDINATOR_ID), key) == grpc.StatusCode.OK

    assert ask(carrier, tls_of(federation, impostor), key) == grpc.StatusCode.PERMISSION_DENIED
    requester, decision, reason = last_audit(carrier.state.config.database)
    assert (requester, decision) == (COORDINATOR_ID, "refused")
    assert f"certificate names {impostor}" in reason
    assert "tls_identities" in reason


def test_tls_identities_lists_who_may_speak_for_a_requester(
    federation: Federation, tmp_path: Path
) -> None:
    path = federation.node_configs[CARRIER]
    config = yaml.safe_load(path.read_text())
    config["requesters"][COORDINATOR_ID]["tls_identities"] = ["cbp-gateway"]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert load_node_config(path).requesters[COORDINATOR_ID].tls_identities == {"cbp-gateway"}
    node = start_node(path)
    try:
        key = coordinator_key(federation)
        assert ask(node, tls_of(federation, "cbp-gateway"), key) == grpc.StatusCode.OK
        # the requester's own certificate is no longer enough once the list names others
        denied = ask(node, tls_of(federation, COORDINATOR_ID), key)
        assert denied == grpc.StatusCode.PERMISSION_DENIED
    finally:
        node.stop()
