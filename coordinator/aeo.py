"""Which nodes hold an AEO certificate that counts, as the coordinator verifies it.

Each node presents its certificate in its signed Describe answer (kept as
evidence like every answer). The coordinator checks it against the authority
key and the register of revocations in its own config, for the node id and
role its config lists, at the moment of asking: a node cannot vouch for itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from fedtrade.coordinator.aeo_config import AeoSettings
from fedtrade.coordinator.attested import AttestedManifest
from fedtrade.coordinator.client import Coordinator, QueryContext
from fedtrade.coordinator.green_lane import GreenLane
from fedtrade.protocol.aeo import Certificate, check_certificate
from fedtrade.protocol.catalogue import DESCRIBE
from fedtrade.protocol.wire import envelope_from_proto
from fedtrade.protos import query_pb2
from fedtrade.trust.errors import FedtradeError

__all__ = ["NodeCertification", "certify_nodes", "node_certification", "open_green_lane"]


@dataclass(frozen=True)
class NodeCertification:
    node_id: str
    certificate: Certificate | None
    problem: str  # why no certificate counts ("" when one does)

    @property
    def tier(self) -> str | None:
        return self.certificate.tier if self.certificate is not None else None


def node_certification(
    settings: AeoSettings, node_id: str, role: str, catalogue: query_pb2.Catalogue, at: datetime,
) -> NodeCertification:
    """The certificate a verified Describe answer presents, checked for ``node_id``."""
    if not catalogue.HasField("aeo_certificate"):
        return NodeCertification(node_id, None, "presents no AEO certificate")
    try:
        certificate = check_certificate(
            envelope_from_proto(catalogue.aeo_certificate), settings.authority,
            node_id=node_id, role=role, at=at, register=settings.register)
    except FedtradeError as exc:
        return NodeCertification(node_id, None, str(exc))
    return NodeCertification(node_id, certificate, "")


def certify_nodes(
    coordinator: Coordinator, context: QueryContext, at: datetime | None = None,
) -> Mapping[str, NodeCertification]:
    """Ask every configured node to Describe itself and check the certificate it presents."""
    settings = coordinator.config.aeo
    moment = at or datetime.now(UTC)
    result: dict[str, NodeCertification] = {}
    for node_id, entry in sorted(coordinator.config.nodes.items()):
        if settings is None:
            result[node_id] = NodeCertification(node_id, None, "no aeo section in the config")
            continue
        try:
            answer = coordinator.ask(node_id, DESCRIBE, {}, context)
        except FedtradeError as exc:
            result[node_id] = NodeCertification(node_id, None, f"no Describe answer: {exc}")
            continue
        result[node_id] = node_certification(settings, node_id, entry.role,
                                             answer.answer.catalogue, moment)
    return result


def open_green_lane(
    coordinator: Coordinator, context: QueryContext, attested: AttestedManifest,
    manifest: str, out: IO[str] | None = None,
) -> GreenLane | None:
    """Start a screening run's green lane; None when the config sets none.

    Checks every node's certificate now, draws the run's sample seed and records
    it in the evidence before any shipment is decided.
    """
    settings = coordinator.config.aeo
    if settings is None or settings.green_lane is None:
        return None
    certified = certify_nodes(coordinator, context)
    seed = os.urandom(32)
    rule = settings.green_lane
    certification = {n: c.tier or f"none: {c.problem}" for n, c in certified.items()}
    if coordinator.evidence is not None:
        coordinator.evidence.record_green_lane(manifest, seed.hex(), json.dumps({
            "tiers": sorted(rule.tiers), "score_below": rule.score_below,
            "compliance_sample_rate": rule.compliance_sample_rate,
            "require_roles": sorted(rule.require_roles),
            "certificates": {n: c.certificate.certificate_id if c.certificate else None
                             for n, c in certified.items()},
        }, sort_keys=True))
    return GreenLane(rule=rule, seed=seed, tiers={n: c.tier for n, c in certified.items()},
                     roles={n: e.role for n, e in coordinator.config.nodes.items()},
                     certification=certification, filer_of=attested.filer_of, out=out)
