"""Shared fixtures: a real federation (keys, configs, stores) and real gRPC servers on port 0."""

from __future__ import annotations

import csv
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from fedtrade.coordinator.client import Coordinator, ParamValue, QueryContext
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.tls import secure_channel
from fedtrade.node.config import load_node_config
from fedtrade.node.server import NodeServer, create_server
from fedtrade.node.state import NodeState
from fedtrade.node.store import import_path
from fedtrade.protocol.attestation import sign_blocks
from fedtrade.protocol.wire import (
    PAYLOAD_QUERY,
    envelope_to_proto,
    from_value,
    table_value,
    to_value,
)
from fedtrade.protos import attestation_pb2, node_pb2, node_pb2_grpc, query_pb2
from fedtrade.sim.federation import COORDINATOR_ID, NODE_IDS, Federation, create_federation
from fedtrade.sim.synth import generate
from fedtrade.trust.envelope import Envelope, sign
from fedtrade.trust.keys import SigningKey
from fedtrade.trust.pki import TlsMaterial, load_tls_files
from tests.pg import pg_dsn, pg_server  # noqa: F401  (fixtures)

WORLD_SHIPMENTS = 3000
CONTEXT = QueryContext(
    purpose="TARGETING", case_id="CASE-1", officer_id="officer-7", legal_basis="19 USC 1415"
)


@dataclass
class RunningNode:
    node_id: str
    state: NodeState
    node_server: NodeServer
    address: str
    client_tls: TlsMaterial  # the coordinator's certificate, to call the node directly

    @property
    def server(self) -> grpc.Server:
        return self.node_server.server

    def stop(self) -> None:
        self.node_server.stop(None)
        self.state.close()

    def stub(self) -> node_pb2_grpc.NodeServiceStub:
        channel = secure_channel(self.address, self.node_id, self.client_tls)
        return node_pb2_grpc.NodeServiceStub(channel)


@dataclass
class LiveFederation:
    federation: Federation
    nodes: dict[str, RunningNode]
    coordinator: Coordinator
    coordinator_key: SigningKey

    def attest(self, rows: Sequence[Mapping[str, object]], **options: Any) -> list[Envelope]:
        """The carrier's signed blocks of ``rows`` (see ``attest``)."""
        return attest(self.federation.filer_key(), self.federation.filer_id, rows, **options)


# The filer of the federation whose node started last (start_node): signed_query attests
# the house bills it names with this key unless a test passes its own attestations.
_FILER: list[tuple[SigningKey, str]] = []


def attest(
    key: SigningKey,
    filer_id: str,
    rows: Sequence[Mapping[str, object]],
    *,
    block_lines: int = 1_000,
    valid_from: datetime | None = None,
    valid_for: timedelta = timedelta(hours=1),
) -> list[Envelope]:
    """Sign manifest lines, each a mapping with house_bill and optionally
    declared_value (default 100), currency (USD), hs6 (610910), arrival_date."""
    lines = [
        attestation_pb2.ManifestLine(
            house_bill=str(row["house_bill"]),
            master_bill="17612345675",
            declared_value=str(row.get("declared_value", 100)),
            currency=str(row.get("currency", "USD")),
            hs6=str(row.get("hs6", "610910")),
            consignee_ref="00",
            arrival_date=str(row.get("arrival_date", "2026-03-02")),
        )
        for row in rows
    ]
    start = valid_from or datetime.now(UTC) - timedelta(minutes=1)
    return sign_blocks(key, filer_id, lines, block_lines=block_lines, valid_from=start,
                       valid_until=start + valid_for)


def _auto_attest(params: dict[str, Any]) -> list[Envelope]:
    """Attest the house bills a test query names, with the reference values its
    shipments table gives (those columns leave the parameter: nodes refuse them)."""
    if not _FILER:
        return []
    for name, value in params.items():
        if isinstance(value, query_pb2.Value):
            params[name] = from_value(value)
    rows: list[dict[str, object]] = []
    batch = params.get("shipments")
    if isinstance(batch, dict):
        for index, bill in enumerate(batch["house_bill"]):
            row: dict[str, object] = {"house_bill": bill}
            for column, name in (("declared_value_usd", "declared_value"), ("hs6", "hs6")):
                values = batch.get(column)
                if values is not None and values[index] is not None:
                    row[name] = values[index]
            rows.append(row)
        params["shipments"] = table_value({"house_bill": batch["house_bill"]})
    bills = params.get("house_bills")
    if isinstance(bills, list):
        rows.extend({"house_bill": bill} for bill in bills)
    valid = [row for row in rows if isinstance(row["house_bill"], str)]
    return attest(*_FILER[-1], valid) if valid else []


def coordinator_tls(root: Path) -> TlsMaterial:
    """The coordinator's TLS material in a federation laid out by create_federation."""
    keys = root / "keys"
    return load_tls_files(keys / f"{COORDINATOR_ID}.tls.crt", keys / f"{COORDINATOR_ID}.tls.key",
                          root / "ca" / "ca.crt")


def start_node(config_path: Path) -> RunningNode:
    config = load_node_config(config_path)
    filer_key = config_path.parent / "keys" / "carrier-1.key"
    if filer_key.exists():
        _FILER[:] = [(SigningKey.from_file(filer_key), "carrier-1")]
    state = NodeState.open(config)
    node_server = create_server(state, "127.0.0.1:0", health_interval=0.2)
    node_server.start()
    return RunningNode(config.node_id, state, node_server, f"127.0.0.1:{node_server.port}",
                       coordinator_tls(config_path.parent))


@pytest.fixture(autouse=True)
def _drop_cli_log_handlers() -> Iterator[None]:
    """A CLI main() run in-process logs to that test's captured stderr; do not keep that."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)


@pytest.fixture
def federation(tmp_path: Path) -> Federation:
    return create_federation(tmp_path / "fed")


@dataclass(frozen=True)
class World:
    """A small synthetic world, imported once per test session into one store per role."""

    folder: Path
    stores: dict[str, Path]  # node id -> imported store (copy it before use)

    def truth(self) -> dict[str, set[str]]:
        """pattern -> house bills the generator planted it on."""
        patterns: dict[str, set[str]] = {}
        with (self.folder / "ground_truth.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                patterns.setdefault(row["pattern"], set()).add(row["house_bill"])
        return patterns

    def manifest(self) -> list[dict[str, str]]:
        with (self.folder / "manifest.csv").open(newline="") as f:
            return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    generate(root / "synth", shipments=WORLD_SHIPMENTS, seed=11, progress=False)
    stores = {}
    for role, node_id in NODE_IDS.items():
        store = root / f"{node_id}.db"
        import_path(store, role, None, root / "synth" / role, progress=False)
        with sqlite3.connect(store) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stores[node_id] = store
    return World(root / "synth", stores)


@pytest.fixture
def world_federation(federation: Federation, world: World) -> Federation:
    """A federation whose node stores hold the synthetic world."""
    for node_id, store in world.stores.items():
        shutil.copyfile(store, federation.root / "data" / f"{node_id}.db")
    return federation


@pytest.fixture
def live_world(world_federation: Federation) -> Iterator[LiveFederation]:
    yield from live_federation(world_federation)


@pytest.fixture
def live(federation: Federation) -> Iterator[LiveFederation]:
    yield from live_federation(federation)


def live_federation(federation: Federation) -> Iterator[LiveFederation]:
    nodes = {node_id: start_node(path) for node_id, path in federation.node_configs.items()}
    federation.write_coordinator_config({n: node.address for n, node in nodes.items()})
    config = load_coordinator_config(federation.coordinator_config)
    coordinator = Coordinator(config)
    key = SigningKey.from_file(config.signing_key)
    yield LiveFederation(federation, nodes, coordinator, key)
    coordinator.close()
    for node in nodes.values():
        node.stop()


def signed_query(
    key: SigningKey,
    *,
    audience: str,
    query_name: str = "shipment_known",
    params: Mapping[str, ParamValue] | None = None,
    requester: str = COORDINATOR_ID,
    issued: datetime | None = None,
    ttl: timedelta = timedelta(seconds=60),
    purpose: str = "TARGETING",
    query_id: bytes | None = None,
    attestations: Sequence[Envelope] | None = None,
) -> Envelope:
    """A signed query with every field under the test's control. Without
    ``attestations``, the running federation's filer attests the house bills named."""
    issued = issued or datetime.now(UTC)
    plain = dict(params or {"house_bills": ["HB0001"]})
    if attestations is None:
        attestations = _auto_attest(plain)
    query = query_pb2.Query(
        query_id=query_id or os.urandom(16),
        requester_id=requester,
        audience=audience,
        purpose=purpose,
        legal_basis="19 USC 1415",
        case_id="CASE-1",
        officer_id="officer-7",
        query_name=query_name,
        params={
            k: v if isinstance(v, query_pb2.Value) else to_value(v)
            for k, v in plain.items()
        },
        attestations=[envelope_to_proto(block) for block in attestations],
    )
    query.issued_at.FromDatetime(issued)
    query.expires_at.FromDatetime(issued + ttl)
    return sign(PAYLOAD_QUERY, query.SerializeToString(), [key])


def describe_request(envelope: Envelope) -> node_pb2.DescribeRequest:
    return node_pb2.DescribeRequest(envelope=envelope_to_proto(envelope))


def query_request(envelope: Envelope) -> node_pb2.QueryRequest:
    return node_pb2.QueryRequest(envelope=envelope_to_proto(envelope))


def screen_request(envelope: Envelope) -> node_pb2.ScreenRequest:
    return node_pb2.ScreenRequest(envelope=envelope_to_proto(envelope))


@pytest.fixture(autouse=True)
def _drop_log_handlers() -> Iterator[None]:
    """In-process `fedtrade-node` commands log to the test's captured stderr; drop that handler
    afterwards, or a later test logs into a closed stream."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
