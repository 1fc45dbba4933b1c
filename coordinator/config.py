"""The coordinator's config: its own identity and key, and the nodes it queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trust.errors import KeyFileError
from trust.ids import ROLES, is_valid_id, parse_address
from trust.keys import PublicKey, load_public_key
from trust.strictyaml import ConfigMapping, load_yaml

__all__ = ["CoordinatorConfig", "NodeEntry", "load_coordinator_config"]


@dataclass(frozen=True)
class NodeEntry:
    id: str
    role: str
    address: str
    public_key: PublicKey
    deadline_seconds: float


@dataclass(frozen=True)
class CoordinatorConfig:
    path: Path
    version: int
    requester_id: str
    signing_key: Path
    evidence_db: Path
    query_ttl_seconds: int
    legal_basis: str
    nodes: Mapping[str, NodeEntry]

    def node(self, node_id: str) -> NodeEntry:
        """The configured node ``node_id``; KeyError names the configured ones."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(
                f"node {node_id!r} is not in {self.path}; configured nodes: "
                f"{', '.join(sorted(self.nodes)) or 'none'}"
            ) from None


def _node_key(entry: ConfigMapping) -> PublicKey:
    try:
        return load_public_key(entry.path("public_key"))
    except KeyFileError as exc:
        raise entry.error(str(exc), "public_key") from exc


def load_coordinator_config(path: Path) -> CoordinatorConfig:
    """Load and validate a coordinator config; raises ConfigError naming file, line and key."""
    root = load_yaml(path)
    version = root.int("version", min=1)
    me = root.mapping("coordinator")
    requester_id = me.str("id")
    if not is_valid_id(requester_id):
        raise me.error(f"{requester_id!r} is not a valid id", "id")
    signing_key = me.path("signing_key")
    evidence_db = me.path("evidence_db")
    ttl = me.int("query_ttl_seconds", default=60, min=5, max=3600)
    legal_basis = me.str("legal_basis")
    me.finish()

    nodes: dict[str, NodeEntry] = {}
    for node_id, entry in root.mapping("nodes").items():
        if not is_valid_id(node_id):
            raise entry.error(f"{node_id!r} is not a valid node id")
        address = entry.str("address")
        try:
            parse_address(address)
        except ValueError as exc:
            raise entry.error(str(exc), "address") from None
        nodes[node_id] = NodeEntry(
            id=node_id,
            role=entry.choice("role", ROLES),
            address=address,
            public_key=_node_key(entry),
            deadline_seconds=entry.float("deadline_seconds", default=10.0, min=0.1, max=600.0),
        )
        entry.finish()
    root.finish()
    return CoordinatorConfig(
        path=path,
        version=version,
        requester_id=requester_id,
        signing_key=signing_key,
        evidence_db=evidence_db,
        query_ttl_seconds=ttl,
        legal_basis=legal_basis,
        nodes=nodes,
    )
