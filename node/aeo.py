"""The node's AEO certificate: checked when the config loads, presented by Describe.

A node presents only a certificate that counts for itself: signed by the AEO
authority its config lists, naming its own node id and role. Expiry and the
authority's revocations are checked again at every Describe, so a node stops
presenting a certificate the moment it lapses; the coordinator checks it all
once more (a node cannot vouch for itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fedtrade.protocol.aeo import (
    AeoAuthority,
    Certificate,
    CertificateError,
    Register,
    check_certificate,
    read_certificate,
)
from fedtrade.protocol.aeo_config import load_authority, load_register
from fedtrade.protocol.envelope_files import read_envelope_lines
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = ["NodeAeo", "load_node_aeo"]


@dataclass(frozen=True)
class NodeAeo:
    authority: AeoAuthority
    certificate: Certificate
    register: Register | None  # the authority's revocations, when the config names them

    def current(self, node_id: str, role: str, at: datetime) -> Envelope | None:
        """The certificate envelope to present at ``at``; None once expired or revoked."""
        try:
            check_certificate(self.certificate.envelope, self.authority, node_id=node_id,
                              role=role, at=at, register=self.register)
        except CertificateError:
            return None
        return self.certificate.envelope


def load_node_aeo(section: ConfigMapping | None, node_id: str, role: str) -> NodeAeo | None:
    """The optional ``aeo:`` section: ``authority``, ``certificate`` and ``register``."""
    if section is None:
        return None
    authority = load_authority(section.mapping("authority"))
    path = section.path("certificate")
    try:
        (envelope,) = read_envelope_lines(path, "AEO certificate")[:1]
        certificate = read_certificate(envelope, authority)
    except FedtradeError as exc:
        raise section.error(str(exc), "certificate") from None
    if (certificate.node_id, certificate.role) != (node_id, role):
        raise section.error(
            f"{path} certifies {certificate.role} node {certificate.node_id!r}, not this "
            f"{role} node {node_id!r}; install the certificate issued to this node",
            "certificate")
    register = load_register(section, "register", authority) if section.has("register") \
        else None
    section.finish()
    return NodeAeo(authority, certificate, register)
