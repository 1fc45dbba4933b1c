"""DSSE-style signed envelopes: sign bytes, never objects.

A signature covers the DSSE v1 pre-authentication encoding of
``(payload_type, payload)``, so a payload can never be reinterpreted as
another type. Receivers verify first and parse only the bytes they verified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fedtrade.trust.errors import (
    BadSignatureError,
    ThresholdError,
    UnknownKeyError,
    VerificationError,
)
from fedtrade.trust.keys import PublicKey, SigningKey

__all__ = [
    "MAX_KEY_ID_LENGTH",
    "MAX_SIGNATURES",
    "Envelope",
    "Signature",
    "Verified",
    "pae",
    "sign",
    "verify",
    "verify_threshold",
]

# Envelopes arrive from the network: bound the work one envelope can cause.
MAX_SIGNATURES = 16
MAX_KEY_ID_LENGTH = 128
_SHOWN = 64  # characters of an untrusted value quoted in an error


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload type and body."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    key_id: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class Verified:
    """A payload whose signatures verified, and the ids of the keys that signed it."""

    payload: bytes
    signers: frozenset[str]


def sign(payload_type: str, payload: bytes, keys: Sequence[SigningKey]) -> Envelope:
    """Sign ``payload`` once with each distinct key in ``keys``."""
    if not keys:
        raise ValueError("sign() needs at least one signing key")
    message = pae(payload_type, payload)
    by_id = {key.key_id: key for key in keys}
    signatures = tuple(Signature(key_id, key.sign(message)) for key_id, key in by_id.items())
    return Envelope(payload_type=payload_type, payload=payload, signatures=signatures)


def verify_threshold(
    envelope: Envelope,
    trusted: Mapping[str, PublicKey],
    *,
    payload_type: str,
    threshold: int = 1,
) -> Verified:
    """Verify that at least ``threshold`` distinct trusted keys signed ``envelope``.

    Signatures by keys not in ``trusted`` are ignored; any signature by a
    trusted key that does not verify is an error even if enough others do.
    Signers are counted by the public key's own id, so one key listed twice
    under different names still counts once.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    _check_bounds(envelope)
    if envelope.payload_type != payload_type:
        raise VerificationError(
            f"envelope payload type is {envelope.payload_type[:_SHOWN]!r}, expected "
            f"{payload_type!r}: "
            "the sender signed a different kind of message"
        )
    message = pae(envelope.payload_type, envelope.payload)
    signers: set[str] = set()
    checked: set[tuple[str, bytes]] = set()
    for signature in envelope.signatures:
        public_key = trusted.get(signature.key_id)
        if public_key is None or (signature.key_id, signature.sig) in checked:
            continue
        try:
            public_key.verify(signature.sig, message)
        except BadSignatureError as exc:
            raise BadSignatureError(f"{payload_type} envelope: {exc}") from None
        checked.add((signature.key_id, signature.sig))
        signers.add(public_key.key_id)
    if not signers:
        # key ids are attacker-chosen: show a bounded prefix of the first few
        seen = ", ".join(repr(s.key_id[:16]) for s in envelope.signatures[:3]) or "none"
        if len(envelope.signatures) > 3:
            seen += f" and {len(envelope.signatures) - 3} more"
        raise UnknownKeyError(
            f"{payload_type} envelope is not signed by any trusted key (key ids seen: {seen}); "
            "the signer's public key must be listed in the trust config"
        )
    if len(signers) < threshold:
        listed = len({key.key_id for key in trusted.values()})
        raise ThresholdError(
            f"{threshold} of {listed} required approver signatures, got {len(signers)}; "
            "ask more approvers listed in the trust config to sign"
        )
    return Verified(payload=envelope.payload, signers=frozenset(signers))


def verify(envelope: Envelope, trusted: Mapping[str, PublicKey], *, payload_type: str) -> bytes:
    """Verify one trusted signature and return the payload bytes it covers."""
    return verify_threshold(envelope, trusted, payload_type=payload_type).payload


def _check_bounds(envelope: Envelope) -> None:
    if len(envelope.signatures) > MAX_SIGNATURES:
        raise VerificationError(
            f"envelope carries {len(envelope.signatures)} signatures, more than the "
            f"{MAX_SIGNATURES} allowed; the sender must sign with fewer keys"
        )
    for signature in envelope.signatures:
        if len(signature.key_id) > MAX_KEY_ID_LENGTH:
            raise VerificationError(
                f"envelope signature key id is {len(signature.key_id)} characters, more than "
                f"the {MAX_KEY_ID_LENGTH} allowed; key ids are 64 hex characters"
            )
