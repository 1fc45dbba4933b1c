"""AEO certificates and revocations: signed documents of a customs AEO authority.

A certificate names one stakeholder node (id, role, legal name), a tier, a
validity window and conditions; it is a DSSE envelope of payload type
``PAYLOAD_AEO_CERTIFICATE`` signed by the authority's key, which the
coordinator's and the nodes' configs list. A revocation names a certificate id
and is signed by the same authority. The authority's register is one file of
envelope lines (``protocol.envelope_files``) holding every certificate it issued
and every revocation; whoever checks a certificate reads the revocations there.

``check_certificate`` is the one place deciding whether a certificate counts:
signature by a listed authority key, the node and role it names, its validity
window at a given moment, and its revocation.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fedtrade.protocol.envelope_files import read_envelope_lines, write_envelope_lines
from fedtrade.protocol.wire import parse_payload, timestamp, to_datetime
from fedtrade.protos import aeo_pb2
from fedtrade.trust.envelope import Envelope, sign, verify
from fedtrade.trust.errors import DataError, FedtradeError, VerificationError
from fedtrade.trust.ids import ROLES, is_valid_id
from fedtrade.trust.keys import PublicKey, SigningKey

__all__ = [
    "MAX_CONDITIONS",
    "PAYLOAD_AEO_CERTIFICATE",
    "PAYLOAD_AEO_REVOCATION",
    "AeoAuthority",
    "Certificate",
    "CertificateError",
    "Register",
    "Revocation",
    "append_to_register",
    "check_certificate",
    "issue_certificate",
    "read_certificate",
    "read_register",
    "revoke_certificate",
]

PAYLOAD_AEO_CERTIFICATE = "application/vnd.fedtrade.aeo-certificate.v1+protobuf"
PAYLOAD_AEO_REVOCATION = "application/vnd.fedtrade.aeo-revocation.v1+protobuf"
MAX_CONDITIONS = 32
_MAX_TEXT = 256  # characters of a legal name, tier, condition or reason


class CertificateError(VerificationError):
    """An AEO certificate that does not count: untrusted, altered, expired, revoked, misnamed."""


@dataclass(frozen=True)
class AeoAuthority:
    """The customs AEO authority as a config lists it: its id and public key."""

    id: str
    key: PublicKey

    @property
    def keys(self) -> Mapping[str, PublicKey]:
        return {self.key.key_id: self.key}


@dataclass(frozen=True)
class Certificate:
    certificate_id: str  # hex
    authority_id: str
    node_id: str
    role: str
    legal_name: str
    tier: str
    valid_from: datetime
    valid_until: datetime
    conditions: tuple[str, ...]
    issued_at: datetime
    envelope: Envelope

    def summary(self) -> dict[str, object]:
        """The certificate as plain data (for --json and reports)."""
        return {
            "certificate_id": self.certificate_id, "authority_id": self.authority_id,
            "node_id": self.node_id, "role": self.role, "legal_name": self.legal_name,
            "tier": self.tier, "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(), "conditions": list(self.conditions),
            "issued_at": self.issued_at.isoformat(),
        }


@dataclass(frozen=True)
class Revocation:
    certificate_id: str
    node_id: str
    reason: str
    revoked_at: datetime


@dataclass(frozen=True)
class Register:
    """An authority's verified register: every certificate it issued, and the revocations."""

    certificates: tuple[Certificate, ...]
    revocations: Mapping[str, Revocation]  # certificate id (hex) -> revocation

    def revoked(self, certificate_id: str, at: datetime) -> Revocation | None:
        found = self.revocations.get(certificate_id)
        return found if found is not None and found.revoked_at <= at else None


def _text(value: str, what: str) -> str:
    if not value.strip() or len(value) > _MAX_TEXT or not value.isprintable():
        raise DataError(f"the {what} must be 1 to {_MAX_TEXT} printable characters")
    return value


def issue_certificate(
    key: SigningKey,
    *,
    authority_id: str,
    node_id: str,
    role: str,
    legal_name: str,
    tier: str,
    valid_from: datetime,
    valid_until: datetime,
    conditions: Sequence[str] = (),
    issued_at: datetime,
) -> Envelope:
    """Sign a certificate for ``node_id``; DataError for a malformed one."""
    if not is_valid_id(node_id):
        raise DataError(f"{node_id!r} is not a valid node id")
    if role not in ROLES:
        raise DataError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if valid_until <= valid_from:
        raise DataError("the certificate must end after it starts (valid_until > valid_from)")
    if len(conditions) > MAX_CONDITIONS:
        raise DataError(f"at most {MAX_CONDITIONS} conditions")
    certificate = aeo_pb2.AeoCertificate(
        certificate_id=os.urandom(16), authority_id=authority_id, node_id=node_id, role=role,
        legal_name=_text(legal_name, "legal name"), tier=_text(tier, "tier"),
        conditions=[_text(c, "condition") for c in conditions],
    )
    certificate.valid_from.CopyFrom(timestamp(valid_from))
    certificate.valid_until.CopyFrom(timestamp(valid_until))
    certificate.issued_at.CopyFrom(timestamp(issued_at))
    return sign(PAYLOAD_AEO_CERTIFICATE, certificate.SerializeToString(deterministic=True), [key])


def revoke_certificate(
    key: SigningKey, certificate: Certificate, *, reason: str, revoked_at: datetime
) -> Envelope:
    revocation = aeo_pb2.AeoRevocation(
        certificate_id=bytes.fromhex(certificate.certificate_id),
        authority_id=certificate.authority_id, node_id=certificate.node_id,
        reason=_text(reason, "reason"),
    )
    revocation.revoked_at.CopyFrom(timestamp(revoked_at))
    return sign(PAYLOAD_AEO_REVOCATION, revocation.SerializeToString(deterministic=True), [key])


def _verified(envelope: Envelope, authority: AeoAuthority, payload_type: str) -> bytes:
    try:
        return verify(envelope, authority.keys, payload_type=payload_type)
    except VerificationError as exc:
        raise CertificateError(
            f"not signed by the AEO authority {authority.id!r} listed in the config ({exc})"
        ) from None


def read_certificate(envelope: Envelope, authority: AeoAuthority) -> Certificate:
    """Verify ``envelope`` against the authority's key, then parse what was verified."""
    payload = _verified(envelope, authority, PAYLOAD_AEO_CERTIFICATE)
    try:
        message = parse_payload(aeo_pb2.AeoCertificate, payload)
    except FedtradeError as exc:
        raise CertificateError(f"AEO certificate: {exc}") from None
    if message.authority_id != authority.id:
        raise CertificateError(
            f"AEO certificate names authority {message.authority_id[:64]!r}, signed by the key "
            f"of {authority.id!r}; the authority must issue certificates under its own id")
    return Certificate(
        certificate_id=message.certificate_id.hex(), authority_id=message.authority_id,
        node_id=message.node_id, role=message.role, legal_name=message.legal_name,
        tier=message.tier, valid_from=to_datetime(message.valid_from),
        valid_until=to_datetime(message.valid_until), conditions=tuple(message.conditions),
        issued_at=to_datetime(message.issued_at), envelope=envelope,
    )


def check_certificate(
    envelope: Envelope,
    authority: AeoAuthority,
    *,
    node_id: str,
    role: str,
    at: datetime,
    register: Register | None,
) -> Certificate:
    """The certificate in ``envelope`` if it counts for ``node_id`` (of ``role``) at ``at``.

    Raises CertificateError saying why not: not signed by the listed authority,
    issued for another node or role, not yet valid, expired, or revoked in the
    authority's register.
    """
    certificate = read_certificate(envelope, authority)
    if certificate.node_id != node_id:
        raise CertificateError(
            f"AEO certificate {certificate.certificate_id[:8]} is for node "
            f"{certificate.node_id[:64]!r}, presented by {node_id!r}")
    if certificate.role != role:
        raise CertificateError(
            f"AEO certificate {certificate.certificate_id[:8]} is for a {certificate.role[:32]} "
            f"node; {node_id} is a {role}")
    if at < certificate.valid_from:
        raise CertificateError(
            f"AEO certificate {certificate.certificate_id[:8]} of {node_id} is not valid before "
            f"{certificate.valid_from:%Y-%m-%d %H:%M} UTC")
    if at >= certificate.valid_until:
        raise CertificateError(
            f"AEO certificate {certificate.certificate_id[:8]} of {node_id} expired on "
            f"{certificate.valid_until:%Y-%m-%d %H:%M} UTC; the authority must issue a new one")
    revoked = register.revoked(certificate.certificate_id, at) if register else None
    if revoked is not None:
        raise CertificateError(
            f"AEO certificate {certificate.certificate_id[:8]} of {node_id} was revoked on "
            f"{revoked.revoked_at:%Y-%m-%d %H:%M} UTC ({revoked.reason})")
    return certificate


def _revocation(envelope: Envelope, authority: AeoAuthority) -> Revocation:
    message = parse_payload(aeo_pb2.AeoRevocation,
                            _verified(envelope, authority, PAYLOAD_AEO_REVOCATION))
    if message.authority_id != authority.id:
        raise CertificateError(f"revocation names authority {message.authority_id[:64]!r}")
    return Revocation(message.certificate_id.hex(), message.node_id, message.reason,
                      to_datetime(message.revoked_at))


def read_register(path: Path, authority: AeoAuthority) -> Register:
    """Read and verify every line of an authority's register; DataError naming the line."""
    certificates: list[Certificate] = []
    revocations: dict[str, Revocation] = {}
    try:
        info = path.stat()
        # an authority that has issued nothing yet; a FIFO or /dev/zero is not one (size 0)
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            return Register((), {})
    except OSError as exc:
        raise DataError(f"{path}: cannot read the AEO register: {exc.strerror}") from None
    for number, envelope in enumerate(read_envelope_lines(path, "AEO register"), start=1):
        try:
            if envelope.payload_type == PAYLOAD_AEO_REVOCATION:
                revocation = _revocation(envelope, authority)
                revocations.setdefault(revocation.certificate_id, revocation)
            else:
                certificates.append(read_certificate(envelope, authority))
        except FedtradeError as exc:
            raise DataError(f"{path}, line {number}: {exc}; the register holds only documents "
                            "`fedtrade aeo issue` and `fedtrade aeo revoke` wrote") from None
    return Register(tuple(certificates), revocations)



def append_to_register(path: Path, authority: AeoAuthority, envelope: Envelope) -> Register:
    """Add a signed certificate or revocation to the register (created if missing).

    The register as it stands must verify first: nobody extends a damaged one.
    """
    lines: list[Envelope] = []
    if path.exists() and read_register(path, authority).certificates:
        lines = list(read_envelope_lines(path, "AEO register"))
    write_envelope_lines(path, [*lines, envelope])
    return read_register(path, authority)
