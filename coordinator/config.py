"""The coordinator's config: its own identity and key, and the nodes it queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fedtrade.coordinator.aeo_config import AeoSettings, load_aeo_settings
from fedtrade.coordinator.risk import RiskRules, load_risk_rules
from fedtrade.protocol.currency import load_currency_rates
from fedtrade.trust.errors import ConfigError, KeyFileError
from fedtrade.trust.ids import ROLES, is_valid_id, parse_address
from fedtrade.trust.keys import PublicKey, load_public_key
from fedtrade.trust.pki import TlsMaterial, load_tls_section
from fedtrade.trust.yamlconfig import ConfigMapping, load_yaml

__all__ = [
    "MAX_DEADLINE_SECONDS",
    "MIN_DEADLINE_SECONDS",
    "CoordinatorConfig",
    "NodeEntry",
    "ScreeningSettings",
    "load_coordinator_config",
]

# what a node's deadline_seconds may be
MIN_DEADLINE_SECONDS, MAX_DEADLINE_SECONDS = 0.1, 600.0


@dataclass(frozen=True)
class NodeEntry:
    id: str
    role: str
    address: str
    public_key: PublicKey
    deadline_seconds: float


@dataclass(frozen=True)
class ScreeningSettings:
    batch_size: int
    in_flight_batches: int
    # exit non-zero when any node failed to answer some batch
    require_all_nodes: bool
    # after this many failed batches in a row, a node is treated as down for the run
    max_consecutive_failures: int
    # deadline of the whole-manifest consignee totals query, per node
    linkage_deadline_seconds: float
    # most rows and payload bytes one node may return for a query without a batch (consignee
    # totals); a batch query's answer is held to its batch (coordinator.bounds)
    max_answer_rows: int = 2_000_000
    max_answer_bytes: int = 256 * 1024 * 1024


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
    currency_per_usd: Mapping[str, float]
    screening: ScreeningSettings
    risk: RiskRules
    tls: TlsMaterial | None
    # AEO authority, tiers and green lane (aeo:); None when not configured
    aeo: AeoSettings | None = None

    def node(self, node_id: str) -> NodeEntry:
        """The configured node ``node_id``; ConfigError names the configured ones."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise ConfigError(
                f"node {node_id!r} is not configured; configured nodes: "
                f"{', '.join(sorted(self.nodes)) or 'none'}",
                path=self.path,
            ) from None


def _node_key(entry: ConfigMapping) -> PublicKey:
    try:
        return load_public_key(entry.path("public_key"))
    except KeyFileError as exc:
        raise entry.error(str(exc), "public_key") from exc


def _screening(section: ConfigMapping | None) -> ScreeningSettings:
    if section is None:
        return ScreeningSettings(5_000, 3, False, 3, 300.0)
    settings = ScreeningSettings(
        batch_size=section.integer("batch_size", 5_000, min=1, max=100_000),
        in_flight_batches=section.integer("in_flight_batches", 3, min=1, max=32),
        require_all_nodes=section.flag("require_all_nodes", False),
        max_consecutive_failures=section.integer("max_consecutive_failures", 3, min=1),
        linkage_deadline_seconds=section.number("linkage_deadline_seconds", 300.0, min=1.0,
                                               max=3600.0),
        max_answer_rows=section.integer("max_answer_rows", 2_000_000, min=1, max=100_000_000),
        max_answer_bytes=section.integer("max_answer_bytes", 256 * 1024 * 1024,
                                         min=1024 * 1024, max=16 * 1024**3),
    )
    section.finish()
    return settings


def load_coordinator_config(path: Path) -> CoordinatorConfig:
    """Load and validate a coordinator config; raises ConfigError naming file, line and key."""
    root = load_yaml(path)
    version = root.integer("version", min=1)
    me = root.mapping("coordinator")
    requester_id = me.text("id")
    if not is_valid_id(requester_id):
        raise me.error(f"{requester_id!r} is not a valid id", "id")
    signing_key = me.path("signing_key")
    evidence_db = me.path("evidence_db")
    ttl = me.integer("query_ttl_seconds", default=60, min=5, max=3600)
    legal_basis = me.text("legal_basis")
    tls = load_tls_section(me.optional_mapping("tls"))
    me.finish()

    nodes: dict[str, NodeEntry] = {}
    for node_id, entry in root.mapping("nodes").items():
        if not is_valid_id(node_id):
            raise entry.error(f"{node_id!r} is not a valid node id")
        address = entry.text("address")
        try:
            parse_address(address)
        except ValueError as exc:
            raise entry.error(str(exc), "address") from None
        nodes[node_id] = NodeEntry(
            id=node_id,
            role=entry.choice("role", ROLES),
            address=address,
            public_key=_node_key(entry),
            deadline_seconds=entry.number("deadline_seconds", default=10.0,
                                           min=MIN_DEADLINE_SECONDS, max=MAX_DEADLINE_SECONDS),
        )
        entry.finish()
    screening = _screening(root.optional_mapping("screening"))
    currency_per_usd = load_currency_rates(root)
    risk = load_risk_rules(root.mapping("risk"))
    aeo = load_aeo_settings(root.optional_mapping("aeo"))
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
        currency_per_usd=currency_per_usd,
        screening=screening,
        risk=risk,
        tls=tls,
        aeo=aeo,
    )
