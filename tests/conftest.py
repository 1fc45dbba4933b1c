"""Shared fixtures: a real federation (keys, configs, stores) and real gRPC servers on port 0."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from coordinator.client import Coordinator, QueryContext
from coordinator.config import load_coordinator_config
from coordinator.federation import COORDINATOR_ID, Federation, create_federation
from node.config import load_node_config
from node.server import create_server
from node.state import NodeState
from protos import node_pb2_grpc, query_pb2
from trust.envelope import Envelope, sign
from trust.keys import SigningKey
from trust.wire import PAYLOAD_QUERY, PyValue, to_value

CONTEXT = QueryContext(purpose="TARGETING", case_id="CASE-1", officer_id="officer-7",
                       legal_basis="19 USC 1415")


@dataclass
class RunningNode:
    node_id: str
    state: NodeState
    server: grpc.Server
    address: str

    def stub(self) -> node_pb2_grpc.NodeServiceStub:
        return node_pb2_grpc.NodeServiceStub(grpc.insecure_channel(self.address))


@dataclass
class LiveFederation:
    federation: Federation
    nodes: dict[str, RunningNode]
    coordinator: Coordinator
    coordinator_key: SigningKey


def start_node(config_path: Path) -> RunningNode:
    config = load_node_config(config_path)
    state = NodeState.open(config)
    server, port = create_server(state, "127.0.0.1:0")
    server.start()
    return RunningNode(config.node_id, state, server, f"127.0.0.1:{port}")


@pytest.fixture
def federation(tmp_path: Path) -> Federation:
    return create_federation(tmp_path / "fed")


@pytest.fixture
def live(federation: Federation) -> Iterator[LiveFederation]:
    nodes = {node_id: start_node(path) for node_id, path in federation.node_configs.items()}
    federation.write_coordinator_config({n: node.address for n, node in nodes.items()})
    config = load_coordinator_config(federation.coordinator_config)
    coordinator = Coordinator(config)
    key = SigningKey.from_file(config.signing_key)
    yield LiveFederation(federation, nodes, coordinator, key)
    coordinator.close()
    for node in nodes.values():
        node.server.stop(None).wait()
        node.state.close()


def signed_query(
    key: SigningKey, *, audience: str, query_name: str = "shipment_known",
    params: dict[str, PyValue] | None = None, requester: str = COORDINATOR_ID,
    issued: datetime | None = None, ttl: timedelta = timedelta(seconds=60),
    purpose: str = "TARGETING", query_id: bytes | None = None,
) -> Envelope:
    """A signed query with every field under the test's control."""
    issued = issued or datetime.now(UTC)
    query = query_pb2.Query(
        query_id=query_id or os.urandom(16), requester_id=requester, audience=audience,
        purpose=purpose, legal_basis="19 USC 1415", case_id="CASE-1", officer_id="officer-7",
        query_name=query_name,
        params={k: to_value(v) for k, v in (params or {"house_bills": ["HB0001"]}).items()},
    )
    query.issued_at.FromDatetime(issued)
    query.expires_at.FromDatetime(issued + ttl)
    return sign(PAYLOAD_QUERY, query.SerializeToString(), [key])
