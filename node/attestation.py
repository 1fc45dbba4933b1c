"""The attestation check: which manifest lines a question may be about, and their values.

A per-shipment or linkage question carries signed manifest blocks
(``fedtrade.protocol.attestation``). Each block must be signed by a filer this
node's trust config lists under ``trusted_filers`` (or by this node itself,
when it filed the manifest), name that filer, be within its validity window,
and every house bill may appear in one block only. Each house bill the
question names must be inside one of its blocks; the declared value and HS6
the node compares against come from there, never from the requester.
Any failure refuses the whole question (PERMISSION_DENIED, audited).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fedtrade.node.config import RequesterKey
from fedtrade.protocol.attestation import (
    MAX_BLOCK_LINES,
    PAYLOAD_MANIFEST_BLOCK,
    attestation_digest,
)
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.wire import digest, parse_payload
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope, verify_threshold
from fedtrade.trust.errors import AttestationError, FedtradeError
from fedtrade.trust.keys import PublicKey

__all__ = ["MAX_BLOCKS", "Attestation", "AttestedLine", "verify_attestations"]

# Most blocks one question may carry.
MAX_BLOCKS = 256


@dataclass(frozen=True)
class AttestedLine:
    declared_value: float
    currency: str
    hs6: str
    arrival_date: str
    block: str  # hex digest of the block's payload, for messages


@dataclass(frozen=True)
class Attestation:
    """The verified lines of a question, by house bill, and the digest of its blocks."""

    lines: Mapping[str, AttestedLine]
    digest: bytes

    def require(self, house_bills: Iterable[str]) -> None:
        """Refuse the question unless every house bill is attested."""
        outside = [bill for bill in house_bills if bill not in self.lines]
        if outside:
            raise AttestationError(
                f"{len(outside)} house bill(s) asked about are in no attestation this question "
                f"carries (first: {outside[0]}); a node answers only for manifest lines "
                "attested by a trusted filer"
            )


def _line(block: attestation_pb2.ManifestBlock, index: int, where: str) -> AttestedLine:
    line = block.lines[index]
    problem = ""
    try:
        value = float(line.declared_value)
    except ValueError:
        value = math.nan
    if not HOUSE_BILL.fullmatch(line.house_bill):
        problem = "house_bill is not 4-35 uppercase letters/digits"
    elif not HS6.fullmatch(line.hs6):
        problem = "hs6 is not 6 digits"
    elif not (math.isfinite(value) and value >= 0):
        problem = "declared_value is not an amount >= 0"
    if problem:
        raise AttestationError(f"{where} line {index + 1}: {problem}; the filer must re-attest")
    return AttestedLine(value, line.currency, line.hs6, line.arrival_date, where)


def _block(
    envelope: Envelope, filer_keys: Mapping[str, tuple[str, PublicKey]], now: float, skew: int
) -> attestation_pb2.ManifestBlock:
    where = f"block {digest(envelope.payload).hex()[:16]}"
    try:
        verified = verify_threshold(
            envelope, {kid: key for kid, (_, key) in filer_keys.items()},
            payload_type=PAYLOAD_MANIFEST_BLOCK,
        )
    except FedtradeError as exc:
        raise AttestationError(f"{where}: {exc}") from None
    filers = {filer_keys[kid][0] for kid in verified.signers}
    block = parse_payload(attestation_pb2.ManifestBlock, verified.payload)
    if block.filer_id not in filers:
        raise AttestationError(
            f"{where} names filer {block.filer_id[:64]!r} but is signed by "
            f"{', '.join(sorted(filers))}"
        )
    if len(block.lines) > MAX_BLOCK_LINES:
        raise AttestationError(f"{where} has {len(block.lines)} lines, more than {MAX_BLOCK_LINES}")
    starts, ends = block.valid_from.ToMicroseconds() / 1e6, block.valid_until.ToMicroseconds() / 1e6
    if now + skew < starts:
        raise AttestationError(f"{where} is not valid before "
                               f"{datetime.fromtimestamp(starts, UTC).isoformat()}")
    if now - skew > ends:
        raise AttestationError(
            f"{where} expired at {datetime.fromtimestamp(ends, UTC).isoformat()}; "
            "ask the filer for a current attestation")
    return block


def verify_attestations(
    blocks: Sequence[Envelope],
    trusted: Mapping[str, tuple[str, RequesterKey]],
    own: tuple[str, PublicKey],
    now: float,
    skew: int,
) -> Attestation:
    """Verify every block against the trusted filer keys (and this node's own key)."""
    if len(blocks) > MAX_BLOCKS:
        raise AttestationError(f"a question carries at most {MAX_BLOCKS} attested blocks, "
                               f"not {len(blocks)}")
    moment = datetime.fromtimestamp(now, UTC)
    keys = {kid: (filer, entry.key) for kid, (filer, entry) in trusted.items()
            if entry.problem_at(moment) is None}
    keys[own[1].key_id] = own
    lines: dict[str, AttestedLine] = {}
    for envelope in blocks:
        block = _block(envelope, keys, now, skew)
        where = f"block {digest(envelope.payload).hex()[:16]}"
        for index in range(len(block.lines)):
            line = _line(block, index, where)
            bill = block.lines[index].house_bill
            if bill in lines:
                raise AttestationError(
                    f"house bill {bill} is attested twice ({lines[bill].block} and {where}); "
                    "a question may carry each line once"
                )
            lines[bill] = line
    return Attestation(lines, attestation_digest(blocks))
