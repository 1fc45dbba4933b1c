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
what an entry is bound to. The last few sets of blocks are remembered too, with
their house bills looked up (a batch's indicator question and its consignee-totals
questions carry the same blocks).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import numpy as np

from fedtrade.node.config import RequesterKey
from fedtrade.protocol.attestation import (
    MAX_BLOCK_LINES,
    PAYLOAD_MANIFEST_BLOCK,
    digest_of_payload_digests,
)
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.patterns import every_fullmatch
from fedtrade.protocol.wire import PyValue, digest, parse_payload
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
# Sets of blocks (each a batch's, with its lines looked up) the cache remembers, and the
# most lines they may hold together (a set keeps its blocks even when the cache lets them go)
RECENT_ATTESTATIONS = 8
RECENT_LINES = 100_000


@dataclass(frozen=True)
class AttestedLine:
    """What a node takes from an attested line: the reference values it compares against."""

    declared_value: float
    currency: str
    hs6: str
    block: str  # hex digest of the block's payload, for messages


@dataclass(frozen=True, eq=False)
class _Block:
    """What checking one block's bytes established, whatever the time; its lines by column
    (a block is checked once and then read for every batch it is sent with)."""

    signers: frozenset[str]  # ids of the trusted keys whose signatures it carries (all verified)
    starts: float
    ends: float
    where: str  # "block <digest>", for messages
    house_bills: tuple[str, ...]
    declared_values: tuple[float, ...]
    currencies: tuple[str, ...]
    hs6: tuple[str, ...]
    # id(rate table) -> (that table, the declared values in USD): see ``in_usd``
    _in_usd: dict[int, tuple[Mapping[str, float], list[PyValue]]] = field(
        default_factory=dict, repr=False)

    def in_usd(self, per_usd: Mapping[str, float]) -> list[PyValue]:
        """Each line's declared value in USD (rounded to cents; None in a currency without a
        rate), worked out once per rate table (a config's table lives as long as the config)
        and then read for every batch the block is sent with."""
        known = self._in_usd.get(id(per_usd))
        if known is not None and known[0] is per_usd:
            return known[1]
        values = _usd(self.declared_values, self.currencies, per_usd)
        if len(self._in_usd) > 2:
            self._in_usd.clear()
        self._in_usd[id(per_usd)] = (per_usd, values)  # holds the table: its id is not reused
        return values


class _Lines(Mapping[str, AttestedLine]):
    """The attested lines by house bill, read from the blocks' columns when asked."""

    def __init__(self, blocks: Sequence[_Block], located: Mapping[str, int]) -> None:
        self._blocks, self._located = blocks, located
        self._starts = list(itertools.accumulate((len(b.house_bills) for b in blocks),
                                                 initial=0))

    def __getitem__(self, bill: str) -> AttestedLine:
        at = self._located[bill]
        number = bisect.bisect_right(self._starts, at) - 1
        block, index = self._blocks[number], at - self._starts[number]
        return AttestedLine(block.declared_values[index], block.currencies[index],
                            block.hs6[index], block.where)

    def __iter__(self) -> Iterator[str]:
        return iter(self._located)

    def __len__(self) -> int:
        return len(self._located)


@dataclass(frozen=True, eq=False)
class Attestation:
    """The verified blocks of a question, their lines by house bill, and their digest."""

    blocks: tuple[_Block, ...]
    located: Mapping[str, int]  # house bill -> its place among the blocks' lines, in order
    digest: bytes

    @property
    def lines(self) -> Mapping[str, AttestedLine]:
        return _Lines(self.blocks, self.located)

    # id(rate table) -> (that table, every line's declared value in USD, every HS6)
    _reference: dict[int, tuple[Mapping[str, float], list[PyValue], list[PyValue]]] = field(
        default_factory=dict, repr=False)

    @functools.cached_property
    def _house_bills(self) -> list[str]:
        """Every attested house bill in block and line order: a batch asked in that order
        (as a coordinator cuts a manifest) is compared with it in one step."""
        return list(self.located)

    def _reference_columns(self, per_usd: Mapping[str, float]) -> tuple[list[PyValue],
                                                                         list[PyValue]]:
        """Every line's declared value in USD and HS6, in block and line order, worked out
        once per rate table (the same blocks come with each question of a batch)."""
        known = self._reference.get(id(per_usd))
        if known is not None and known[0] is per_usd:
            return known[1], known[2]
        declared = list(itertools.chain.from_iterable(b.in_usd(per_usd) for b in self.blocks))
        hs6: list[PyValue] = list(itertools.chain.from_iterable(b.hs6 for b in self.blocks))
        if len(self._reference) > 2:
            self._reference.clear()
        self._reference[id(per_usd)] = (per_usd, declared, hs6)  # holds the table: see in_usd
        return declared, hs6

    def require(self, house_bills: Iterable[str]) -> None:
        """Refuse the question unless every house bill is attested."""
        bills = house_bills if isinstance(house_bills, list) else list(house_bills)
        if bills == self._house_bills or all(map(self.located.__contains__, bills)):
            return
        outside = [bill for bill in bills if bill not in self.located]
        raise AttestationError(
            f"{len(outside)} house bill(s) asked about are in no attestation this question "
            f"carries (first: {outside[0]}); a node answers only for manifest lines "
            "attested by a trusted filer"
        )

    def reference(self, house_bills: Sequence[PyValue],
                  per_usd: Mapping[str, float]) -> tuple[list[PyValue], list[PyValue]]:
        """The attested declared value in USD (rounded to cents; None in a currency without a
        rate) and HS6 of each house bill, all of which ``require`` accepted."""
        declared, hs6 = self._reference_columns(per_usd)
        if house_bills == self._house_bills:  # every line, in order; copies, a query's own
            return list(declared), list(hs6)
        try:  # validated house bills are text, so str() of each would change none of them
            at = list(map(self.located.__getitem__, cast(Sequence[str], house_bills)))
        except (KeyError, TypeError):  # one is not: looked up as str() of each, as it was
            at = list(map(self.located.__getitem__, map(str, house_bills)))
        return _take(declared, at), _take(hs6, at)


def _take(values: list[PyValue], at: list[int]) -> list[PyValue]:
    """``[values[i] for i in at]``, in C."""
    return list(operator.itemgetter(*at)(values)) if len(at) > 1 else [values[i] for i in at]


def _usd(values: Sequence[float], currencies: Sequence[str],
         per_usd: Mapping[str, float]) -> list[PyValue]:
    """Each value / its currency's rate, rounded to cents; None where there is no rate."""
    rates = np.fromiter(map(per_usd.get, currencies, itertools.repeat(math.nan)), np.float64,
                        count=len(currencies))
    with np.errstate(all="ignore"):
        declared: list[PyValue] = list(_cents(np.array(values, np.float64) / rates))
    if np.isnan(rates).any():
        declared = [None if math.isnan(rate) else value
                    for value, rate in zip(declared, rates.tolist(), strict=True)]
    return declared


# The float product value * 100 lies on the exact product's side of a half cent when it is
# farther from it than this much of itself: 8 times its largest rounding error.
_HALF_CENT_MARGIN = 2.0**-50


def _cents(values: np.ndarray) -> list[float]:
    """``round(value, 2)`` of each value, as Python rounds it (the exact binary value, half to
    even), a column at a time. numpy's rint(value * 100) / 100 picks the same cent wherever
    value * 100 is clearly off a half cent (then both divide the same integer by 100); the
    few values too close to one (or not finite, or too large for exact cents) go to round()."""
    with np.errstate(all="ignore"):
        scaled = values * 100
        size = np.abs(scaled)
        off_half = np.abs(scaled - np.floor(scaled) - 0.5)
        sure = (off_half > size * _HALF_CENT_MARGIN) & (size < 2.0**52)
        cents: list[float] = (np.rint(scaled) / 100).tolist()
    for index in np.flatnonzero(~sure).tolist():
        cents[index] = round(float(values[index]), 2)
    return cents


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
    return AttestedLine(value, line.currency, line.hs6, where)


# one attribute at a time over the lines (each read of the repeated field makes a new object);
# only what a node checks or compares against (a line's other fields are not read)
_LINE_FIELDS = tuple(map(operator.attrgetter, ("house_bill", "declared_value", "currency", "hs6")))


def _columns(
    block: attestation_pb2.ManifestBlock, where: str,
) -> tuple[tuple[str, ...], tuple[float, ...], tuple[str, ...], tuple[str, ...]]:
    """The block's lines as columns (house bill, value, currency, HS6), each checked;
    a bad line is named by ``_line``, line by line in order, as the filer needs it."""
    lines = list(block.lines)
    bills, texts, currencies, hs6 = (tuple(map(read, lines)) for read in _LINE_FIELDS)
    try:
        values = tuple(map(float, texts))
    except ValueError:
        values = (math.nan,)
    if lines and not (every_fullmatch(HOUSE_BILL, bills) and every_fullmatch(HS6, hs6)
                      and all(map(math.isfinite, values)) and min(values) >= 0):
        for index in range(len(lines)):
            _line(block, index, where)
    return bills, values, currencies, hs6


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

    The last few sets of blocks questions carried are kept too, with their house bills
    looked up (``attestation``), found by the cache's own block objects (so per requester,
    and never for a block verified again) and bounded in number and in lines.
    """

    def __init__(self, max_lines: int = CACHED_LINES, recent_lines: int = RECENT_LINES) -> None:
        self._max_lines, self._recent_lines = max_lines, recent_lines
        self._lock = threading.Lock()
        self._bound: tuple[object, str] | None = None
        self._blocks: OrderedDict[_Key, _Block] = OrderedDict()
        self._lines = 0
        self._recent: OrderedDict[tuple[tuple[_Block, ...], tuple[bytes, ...]], Attestation] = \
            OrderedDict()

    def _bind(self, trusted: object, own: str) -> None:
        if self._bound is None or self._bound[0] is not trusted or self._bound[1] != own:
            self._bound = (trusted, own)
            self._blocks.clear()
            self._lines = 0
            self._recent.clear()

    def get(self, trusted: object, own: str, key: _Key) -> _Block | None:
        with self._lock:
            self._bind(trusted, own)
            found = self._blocks.get(key)
            if found is not None:
                self._blocks.move_to_end(key)
            return found

    def put(self, trusted: object, own: str, key: _Key, block: _Block) -> None:
        if len(block.house_bills) > self._max_lines:
            return
        with self._lock:
            self._bind(trusted, own)
            stale = self._blocks.pop(key, None)
            if stale is not None:
                self._lines -= len(stale.house_bills)
            self._blocks[key] = block
            self._lines += len(block.house_bills)
            while self._lines > self._max_lines:
                _, evicted = self._blocks.popitem(last=False)
                self._lines -= len(evicted.house_bills)

    def attestation(self, trusted: object, own: str, blocks: tuple[_Block, ...],
                    digests: tuple[bytes, ...]) -> Attestation:
        """The attestation of these verified blocks (the cache's own objects, so found again
        only for the requester whose blocks they are), their lines looked up once."""
        key = (blocks, digests)
        with self._lock:
            self._bind(trusted, own)
            found = self._recent.get(key)
            if found is not None:
                self._recent.move_to_end(key)
                return found
        made = _attestation(blocks, digests)
        if len(made.located) > self._recent_lines:
            return made
        with self._lock:
            self._bind(trusted, own)
            self._recent[key] = made
            held = sum(len(attestation.located) for attestation in self._recent.values())
            while len(self._recent) > RECENT_ATTESTATIONS or held > self._recent_lines:
                _, dropped = self._recent.popitem(last=False)
                held -= len(dropped.located)
        return made

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
        _trusted_signers(envelope, filer_keys),
        block.valid_from.ToMicroseconds() / 1e6,
        block.valid_until.ToMicroseconds() / 1e6,
        where,
        *_columns(block, where),
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
    verified: list[_Block] = []
    digests: list[bytes] = []
    for envelope in blocks:
        try:
            payload_digest = digest(envelope.payload)
            where = f"block {payload_digest.hex()[:16]}"
            key = _envelope_key(requester, envelope, payload_digest)
            block = cache.get(trusted, own[1].key_id, key) if cache is not None else None
            if block is None or block.signers != _trusted_signers(envelope, keys):
                block = _check(envelope, keys, where)
                if cache is not None:
                    cache.put(trusted, own[1].key_id, key, block)
            _check_window(block, where, now, skew)
        except Exception:
            _located(verified)  # a house bill twice in the blocks before is named first
            raise
        digests.append(payload_digest)
        verified.append(block)
    if cache is not None:
        return cache.attestation(trusted, own[1].key_id, tuple(verified), tuple(digests))
    return _attestation(tuple(verified), tuple(digests))


def _attestation(blocks: tuple[_Block, ...], digests: tuple[bytes, ...]) -> Attestation:
    return Attestation(blocks, _located(blocks), digest_of_payload_digests(digests))


def _located(blocks: Sequence[_Block]) -> dict[str, int]:
    """Each house bill's place among the blocks' lines; refused if one is there twice."""
    located = dict(zip(itertools.chain.from_iterable(b.house_bills for b in blocks),
                       itertools.count()))
    if len(located) < sum(len(b.house_bills) for b in blocks):
        _refuse_twice(blocks)
    return located


def _refuse_twice(blocks: Sequence[_Block]) -> None:
    """Name the first house bill attested twice, in block and line order."""
    first: dict[str, str] = {}
    for block in blocks:
        for bill in block.house_bills:
            if bill in first:
                raise AttestationError(
                    f"house bill {bill} is attested twice ({first[bill]} and {block.where}); "
                    "a question may carry each line once"
                )
            first[bill] = block.where
