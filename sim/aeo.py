"""AEO certificates for a simulated federation (tests, demo, evaluation).

Creates the AEO authority's key, issues certificates into its register and adds
the ``aeo:`` sections to the node and coordinator configs, as the authority and
the operators would by hand (README, "AEO for e-commerce").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from fedtrade.protocol.aeo import AeoAuthority, append_to_register, issue_certificate
from fedtrade.protocol.envelope_files import write_envelope_lines
from fedtrade.sim.federation import Federation
from fedtrade.trust.keys import SigningKey, generate_keypair

__all__ = ["AUTHORITY_ID", "DEFAULT_TIERS", "REGISTER", "add_coordinator_aeo", "certify_node"]

AUTHORITY_ID = "cbp-aeo"
REGISTER = "aeo/register.jsonl"
# Tier criteria as in configs/coordinator.yaml (lowest first).
DEFAULT_TIERS: list[dict[str, Any]] = [
    {"name": "silver", "availability": 0.90, "coverage": 0.50, "timeliness": 0.50,
     "consistency": 0.80, "integrity": True},
    {"name": "gold", "availability": 0.98, "coverage": 0.80, "timeliness": 0.90,
     "consistency": 0.95, "integrity": True},
]


def _authority_key(federation: Federation) -> SigningKey:
    path = federation.root / "keys" / f"{AUTHORITY_ID}.key"
    if not path.exists():
        generate_keypair(path.parent, AUTHORITY_ID)
    return SigningKey.from_file(path)


def _section() -> dict[str, Any]:
    return {"authority": {"id": AUTHORITY_ID, "public_key": f"keys/{AUTHORITY_ID}.pub"},
            "register": REGISTER}


def _edit(path: Path, change: Mapping[str, Any]) -> None:
    config = yaml.safe_load(path.read_text())
    config.update(change)
    config["version"] = int(config["version"]) + 1
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def certify_node(
    federation: Federation, node_id: str, tier: str, *,
    valid_from: datetime | None = None, valid_until: datetime | None = None,
    legal_name: str | None = None,
) -> Path:
    """Issue ``node_id`` a certificate of ``tier`` and put it in the node's config."""
    key = _authority_key(federation)
    role = federation.role_of(node_id)
    now = datetime.now(UTC)
    envelope = issue_certificate(
        key, authority_id=AUTHORITY_ID, node_id=node_id, role=role,
        legal_name=legal_name or f"{node_id.title()} Ltd", tier=tier,
        valid_from=valid_from or now - timedelta(days=1),
        valid_until=valid_until or now + timedelta(days=365),
        conditions=["shares manifest-bound answers with CBP within the node deadline"],
        issued_at=now)
    (federation.root / "aeo").mkdir(exist_ok=True)
    append_to_register(federation.root / REGISTER, AeoAuthority(AUTHORITY_ID, key.public_key),
                       envelope)
    certificate = federation.root / "aeo" / f"{node_id}.cert.jsonl"
    write_envelope_lines(certificate, [envelope])
    _edit(federation.node_configs[node_id],
          {"aeo": {**_section(), "certificate": f"aeo/{node_id}.cert.jsonl"}})
    return certificate


def add_coordinator_aeo(
    federation: Federation, *, green_lane: Mapping[str, Any] | None = None,
    tiers: list[dict[str, Any]] | None = None,
) -> None:
    """Add the ``aeo:`` section to the coordinator config (written by the federation)."""
    _authority_key(federation)
    register = federation.root / REGISTER
    if not register.exists():  # an authority that has issued nothing yet
        register.parent.mkdir(exist_ok=True)
        register.write_text("")
    section: dict[str, Any] = {**_section(), "tiers": tiers or DEFAULT_TIERS}
    if green_lane is not None:
        section["green_lane"] = dict(green_lane)
    _edit(federation.coordinator_config, {"aeo": section})
