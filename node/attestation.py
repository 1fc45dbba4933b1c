"""The attestation check: which manifest lines a question may be about, and their values.

A per-shipment or linkage question carries signed manifest blocks
(``fedtrade.protocol.attestation``). Each block must be signed by a filer this
node's trust config lists under ``trusted_filers`` (or by this node itself,
when it filed the manifest), name that filer, be within its validity window,
and every house bill may appear in one block only. Each house bill the
question names must be inside one of its blocks; the declared value and HS6
the node compares against come from there, never from the requester.
Any failure refuses the whole question (PERMISSION_DENIED, audited).

Verified blocks are remembered (``AttestationCache``): a coordinator sends the
same blocks with every batch of a manifest, and checking a block's signature
and lines again costs more than the rest of a small question. See the class for
what an entry is bound to.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
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
from fedtrade.trust.envelope import Envelope, Signature, verify_threshold
from fedtrade.trust.errors import AttestationError, FedtradeError
from fedtrade.trust.keys import PublicKey

__all__ = [
    "MAX_BLOCKS",
    "Attestation",
    "AttestationCache",
    "AttestedLine",
    "verify_attestations",
]

# Most blocks one question may carry.
MAX_BLOCKS = 256
# Most manifest lines the verified-block cache holds (about 100 MiB at the worst).
CACHED_LINES = 200_000


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


@dataclass(frozen=True)
class _Block:
    """What checking one block's bytes established, whatever the time."""

    signers: frozenset[str]  # ids of the trusted keys whose signatures it carries (all verified)
    starts: float
    ends: float
    lines: tuple[tuple[str, AttestedLine], ...]


_Key = tuple[str, str, bytes, tuple[Signature, ...]]


class AttestationCache:
    """Blocks that verified, bound to one trust config and kept per requester (bounded LRU).

    An entry is found only by the exact envelope (payload type, the payload's SHA-256 and
    every signature's key id and bytes) together with the requester's id, so a changed byte, an
    added or dropped signature, or another requester always verifies afresh; only a block
    that passed every check is stored. The cache is bound to the trusted-filer mapping of
    the config in force (a reload, which must raise the config version, makes a new one)
    and empties when that mapping changes: a block verified under a key the new config
    revokes or drops is verified again, and refused. On every use the validity window is
    checked again, and the block's trusted signers must be exactly the keys usable now
    (a key that expired since is not trusted from memory). Kept per requester so a hit's
    speed cannot tell one requester which blocks another sent.
    """

    def __init__(self, max_lines: int = CACHED_LINES) -> None:
        self._max_lines = max_lines
        self._lock = threading.Lock()
        self._bound: tuple[object, str] | None = None
        self._blocks: OrderedDict[_Key, _Block] = OrderedDict()
        self._lines = 0

    def _bind(self, trusted: object, own: str) -> None:
        if self._bound is None or self._bound[0] is not trusted or self._bound[1] != own:
            self._bound = (trusted, own)
            self._blocks.clear()
            self._lines = 0

    def get(self, trusted: object, own: str, key: _Key) -> _Block | None:
        with self._lock:
            self._bind(trusted, own)
            found = self._blocks.get(key)
            if found is not None:
                self._blocks.move_to_end(key)
            return found

    def put(self, trusted: object, own: str, key: _Key, block: _Block) -> None:
        if len(block.lines) > self._max_lines:
            return
        with self._lock:
            self._bind(trusted, own)
            stale = self._blocks.pop(key, None)
            if stale is not None:
                self._lines -= len(stale.lines)
            self._blocks[key] = block
            self._lines += len(block.lines)
            while self._lines > self._max_lines:
                _, evicted = self._blocks.popitem(last=False)
                self._lines -= len(evicted.lines)

    def __len__(self) -> int:
        return len(self._blocks)


def _envelope_key(requester: str, envelope: Envelope, payload_digest: bytes) -> _Key:
    """The requester and every byte of the envelope (the payload by its SHA-256)."""
    return requester, envelope.payload_type, payload_digest, envelope.signatures


def _check(
    envelope: Envelope, filer_keys: Mapping[str, tuple[str, PublicKey]], where: str
) -> _Block:
    """Verify the block's signatures and lines (everything but the time)."""
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
    return _Block(
        signers=_trusted_signers(envelope, filer_keys),
        starts=block.valid_from.ToMicroseconds() / 1e6,
        ends=block.valid_until.ToMicroseconds() / 1e6,
        lines=tuple((block.lines[index].house_bill, _line(block, index, where))
                    for index in range(len(block.lines))),
    )


def _trusted_signers(envelope: Envelope, keys: Mapping[str, object]) -> frozenset[str]:
    return frozenset(s.key_id for s in envelope.signatures if s.key_id in keys)


def _check_window(block: _Block, where: str, now: float, skew: int) -> None:
    if now + skew < block.starts:
        raise AttestationError(f"{where} is not valid before "
                               f"{datetime.fromtimestamp(block.starts, UTC).isoformat()}")
    if now - skew > block.ends:
        raise AttestationError(
            f"{where} expired at {datetime.fromtimestamp(block.ends, UTC).isoformat()}; "
            "ask the filer for a current attestation")


def verify_attestations(
    blocks: Sequence[Envelope],
    trusted: Mapping[str, tuple[str, RequesterKey]],
    own: tuple[str, PublicKey],
    now: float,
    skew: int,
    *,
    cache: AttestationCache | None = None,
    requester: str = "",
) -> Attestation:
    """Verify every block against the trusted filer keys (and this node's own key).

    With ``cache``, a block this requester sent before under the same ``trusted`` mapping
    (the same object: a reloaded config is a new one) is not verified again.
    """
    if len(blocks) > MAX_BLOCKS:
        raise AttestationError(f"a question carries at most {MAX_BLOCKS} attested blocks, "
                               f"not {len(blocks)}")
    moment = datetime.fromtimestamp(now, UTC)
    keys = {kid: (filer, entry.key) for kid, (filer, entry) in trusted.items()
            if entry.problem_at(moment) is None}
    keys[own[1].key_id] = own
    lines: dict[str, AttestedLine] = {}
    for envelope in blocks:
        payload_digest = digest(envelope.payload)
        where = f"block {payload_digest.hex()[:16]}"
        key = _envelope_key(requester, envelope, payload_digest)
        block = cache.get(trusted, own[1].key_id, key) if cache is not None else None
        if block is None or block.signers != _trusted_signers(envelope, keys):
            block = _check(envelope, keys, where)
            if cache is not None:
                cache.put(trusted, own[1].key_id, key, block)
        _check_window(block, where, now, skew)
        for bill, line in block.lines:
            if bill in lines:
                raise AttestationError(
                    f"house bill {bill} is attested twice ({lines[bill].block} and {where}); "
                    "a question may carry each line once"
                )
            lines[bill] = line
    return Attestation(lines, attestation_digest(blocks))
