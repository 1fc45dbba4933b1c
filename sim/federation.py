"""Lay out a local federation (keys and configs) in a folder: for the demo and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fedtrade.coordinator.risk import DEFAULT_RISK
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.trust.keys import SigningKey, generate_keypair
from fedtrade.trust.linkage import generate_linkage_secret
from fedtrade.trust.pki import init_ca, issue_certificate

__all__ = ["COORDINATOR_ID", "NODE_IDS", "Federation", "create_federation", "grants_for"]

COORDINATOR_ID = "cbp-coordinator"
NODE_IDS: Mapping[str, str] = {
    "marketplace": "marketplace-1",
    "carrier": "carrier-1",
    "broker": "broker-1",
}
PURPOSES = ("TARGETING", "INVESTIGATION")
LINKAGE_SECRET = "keys/linkage.secret"  # noqa: S105 (a file path, not a secret)
# Differential privacy of aggregates, as in configs/*.yaml.
PRIVACY: Mapping[str, object] = {
    "unit": "shipment",
    "bounds": {"shipments_per_party": 20, "cells_per_shipment": 1,
               "value_usd_per_shipment": 2000},
    "epsilon_per_query": 0.5,
    "budget_epsilon": 5.0,
    "period_days": 30,
    "delta": 1e-7,
}


def grants_for(role: str) -> dict[str, list[str]]:
    """Every catalogue query a node of ``role`` answers, for the demo purposes."""
    return {name: list(PURPOSES) for name, spec in CATALOGUE.items() if role in spec.roles}


@dataclass(frozen=True)
class Federation:
    root: Path
    node_configs: Mapping[str, Path]  # node id -> config path
    # node id -> role of nodes beyond the one per role of NODE_IDS (e.g. a second marketplace)
    extra_roles: Mapping[str, str] = field(default_factory=dict)

    def role_of(self, node_id: str) -> str:
        return {**{n: r for r, n in NODE_IDS.items()}, **self.extra_roles}[node_id]

    @property
    def coordinator_config(self) -> Path:
        return self.root / "coordinator.yaml"

    @property
    def filer_id(self) -> str:
        return NODE_IDS["carrier"]

    def filer_key(self) -> SigningKey:
        """The key of the node that files and attests manifests (the carrier)."""
        return SigningKey.from_file(self.root / "keys" / f"{self.filer_id}.key")

    def write_coordinator_config(
        self, addresses: Mapping[str, str], *, ttl: int = 60, batch_size: int = 5_000,
        forwarding_addresses: Sequence[str] = (), deadline_seconds: float = 30,
    ) -> Path:
        """Write the coordinator config once the nodes' addresses are known (with the
        world's known parcel forwarders, if given)."""
        config = {
            "version": 1,
            "coordinator": {
                "id": COORDINATOR_ID,
                "signing_key": f"keys/{COORDINATOR_ID}.key",
                "tls": _tls(COORDINATOR_ID),
                "evidence_db": "data/evidence.db",
                "query_ttl_seconds": ttl,
                "legal_basis": "19 USC 1415; 19 CFR 122.48a",
            },
            "screening": {"batch_size": batch_size},
            "risk": _with_forwarders(DEFAULT_RISK, forwarding_addresses),
            "nodes": {
                node_id: {
                    "role": self.role_of(node_id),
                    "address": address,
                    "public_key": f"keys/{node_id}.pub",
                    "deadline_seconds": deadline_seconds,
                }
                for node_id, address in addresses.items()
            },
        }
        self.coordinator_config.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.coordinator_config


def _with_forwarders(risk: Mapping[str, object],
                     addresses: Sequence[str]) -> Mapping[str, object]:
    if not addresses:
        return risk
    split = risk["split"]
    assert isinstance(split, dict)
    return {**risk, "split": {**split, "forwarding_addresses": list(addresses)}}


def _tls(party: str) -> dict[str, str]:
    return {"cert": f"keys/{party}.tls.crt", "key": f"keys/{party}.tls.key", "ca": "ca/ca.crt"}


def create_federation(
    root: Path, *, roles: Sequence[str] = tuple(NODE_IDS),
    extra_nodes: Mapping[str, str] | None = None,
) -> Federation:
    """Create a federation CA, keys, certificates, a shared linkage secret and configs.

    One node per role of ``roles`` (NODE_IDS), plus ``extra_nodes`` (node id -> role)."""
    keys = root / "keys"
    (root / "data").mkdir(parents=True, exist_ok=True)
    init_ca(root / "ca")
    generate_keypair(keys, COORDINATOR_ID)
    issue_certificate(root / "ca", COORDINATOR_ID, keys)
    generate_linkage_secret(root / LINKAGE_SECRET)
    node_configs = {}
    extra = dict(extra_nodes or {})
    for node_id, role in [*((NODE_IDS[r], r) for r in roles), *extra.items()]:
        generate_keypair(keys, node_id)
        issue_certificate(root / "ca", node_id, keys)
        config = {
            "version": 1,
            "node": {
                "id": node_id,
                "role": role,
                "listen": "127.0.0.1:0",
                "signing_key": f"keys/{node_id}.key",
                "database": f"data/{node_id}.db",
                "tls": _tls(node_id),
            },
            "freshness": {"max_ttl_seconds": 300, "clock_skew_seconds": 30},
            "requesters": {
                COORDINATOR_ID: {
                    "keys": [{"file": f"keys/{COORDINATOR_ID}.pub"}],
                    "tls_identities": [COORDINATOR_ID],
                    "queries": {
                        name: {"purposes": p, "fields": list(CATALOGUE[name].fields_for(role))}
                        for name, p in grants_for(role).items()
                    },
                }
            },
            "linkage": {"secret_file": LINKAGE_SECRET},
            "privacy": dict(PRIVACY),
        }
        if "carrier" in roles:  # the carrier files the manifest and attests it
            filer = NODE_IDS["carrier"]
            config["trusted_filers"] = {filer: {"keys": [{"file": f"keys/{filer}.pub"}]}}
        path = root / f"{node_id}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        node_configs[node_id] = path
    return Federation(root=root, node_configs=node_configs, extra_roles=extra)
