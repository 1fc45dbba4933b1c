"""Attested blocks read a column at a time answer exactly as the line-by-line check did.

``verify_attestations`` checks a block's lines as columns and looks house bills up
in one dictionary per question. The reference below is the check as it was, block
by block: every line in order through ``_line`` (which still names a bad line),
then a dictionary of lines built one by one, refusing a house bill seen twice.
Hypothesis draws blocks with good and bad lines (a house bill in lower case, an HS
code of five digits, values such as "nan", "-1", "1e400", " 2 ", "1_0") and house
bills repeated within and across blocks: the verified lines, or the refusal message,
must be the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fedtrade.node.attestation import (
    Attestation,
    AttestationCache,
    AttestedLine,
    _cents,
    _line,
    verify_attestations,
)
from fedtrade.node.config import RequesterKey
from fedtrade.protocol.attestation import PAYLOAD_MANIFEST_BLOCK, attestation_digest
from fedtrade.protocol.wire import digest, parse_payload
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import AttestationError
from fedtrade.trust.keys import SigningKey
from tests.conftest import attest

_FILER_KEY = SigningKey.generate()
_TRUSTED = {_FILER_KEY.key_id: ("carrier-1", RequesterKey(_FILER_KEY.public_key, None, None,
                                                         False))}
_OWN = ("marketplace-1", SigningKey.generate().public_key)
_RATES = {"USD": 1.0, "EUR": 0.92, "CNY": 7.1}

_LINE = st.fixed_dictionaries({
    "house_bill": st.sampled_from(["HB0001", "HB0002", "HB0003", "HB0004", "hb0005", "HB1"]),
    "declared_value": st.one_of(
        st.decimals(min_value=0, max_value=10**6, places=2).map(str),
        st.sampled_from(["nan", "-1", "1e400", " 2 ", "1_0", "abc", "-0", "inf", "0"])),
    "hs6": st.sampled_from(["610910", "950300", "61091", "6109100",
                            "\uff16\uff11\uff10\uff19\uff11\uff10"]),  # full-width digits
    "currency": st.sampled_from([*_RATES, "XXX"]),
})


def _reference(blocks: Sequence[Envelope]) -> dict[str, AttestedLine]:
    """The line-by-line check (signatures verified by the code under test beforehand)."""
    lines: dict[str, AttestedLine] = {}
    for envelope in blocks:
        where = f"block {digest(envelope.payload).hex()[:16]}"
        block = parse_payload(attestation_pb2.ManifestBlock, envelope.payload)
        checked = [(block.lines[i].house_bill, _line(block, i, where))
                   for i in range(len(block.lines))]  # every line, then the repeats
        for bill, line in checked:
            if bill in lines:
                raise AttestationError(
                    f"house bill {bill} is attested twice ({lines[bill].block} and {where}); "
                    "a question may carry each line once")
            lines[bill] = line
    return lines


def _fast(envelopes: Sequence[Envelope], cache: AttestationCache) -> Attestation | str:
    try:
        return verify_attestations(envelopes, _TRUSTED, _OWN, datetime.now(UTC).timestamp(), 30,
                                   cache=cache, requester="a")
    except AttestationError as exc:
        return str(exc)


def _slow(envelopes: Sequence[Envelope]) -> dict[str, AttestedLine] | str:
    try:
        return _reference(envelopes)
    except AttestationError as exc:
        return str(exc)


def _key(line: AttestedLine) -> tuple[object, ...]:  # -0.0 == 0.0, so its sign too
    return (line.declared_value, math.copysign(1, line.declared_value), line.currency,
            line.hs6, line.block)


_GOOD = {"declared_value": "12.50", "hs6": "610910", "currency": "EUR"}


@settings(max_examples=200, deadline=None)
@example(blocks=[[{**_GOOD, "house_bill": "HB0001"}, {**_GOOD, "house_bill": "HB0002"}],
                 [{**_GOOD, "house_bill": "HB0003", "currency": "XXX"}]])  # verified
@example(blocks=[[{**_GOOD, "house_bill": "HB0001"}],
                 [{**_GOOD, "house_bill": "HB0002"}, {**_GOOD, "house_bill": "HB0001"}]])
@given(blocks=st.lists(st.lists(_LINE, min_size=1, max_size=5), min_size=1, max_size=3))
def test_columns_verify_like_the_line_by_line_check(blocks: list[list[dict[str, str]]]) -> None:
    envelopes = [attest(_FILER_KEY, "carrier-1", lines, block_lines=len(lines))[0]
                 for lines in blocks]
    cache = AttestationCache()
    for _ in range(2):  # checked, then from the cache
        verified, reference = _fast(envelopes, cache), _slow(envelopes)
        if isinstance(reference, str) or isinstance(verified, str):
            assert verified == reference
            continue
        assert {b: _key(line) for b, line in verified.lines.items()} == \
            {b: _key(line) for b, line in reference.items()}
        assert verified.digest == attestation_digest(envelopes)
        # in block and line order (as a coordinator asks), sorted, and a few of them twice
        for bills in (list(reference), sorted(reference), sorted(reference)[::2] * 2):
            verified.require(bills)
            declared, hs6 = verified.reference(bills, _RATES)
            rates = [_RATES.get(reference[b].currency) for b in bills]
            assert declared == [
                None if rate is None else round(reference[b].declared_value / rate, 2)
                for b, rate in zip(bills, rates, strict=True)]
            assert hs6 == [reference[b].hs6 for b in bills]


def test_a_bill_outside_the_blocks_is_refused_by_name() -> None:
    (block,) = attest(_FILER_KEY, "carrier-1", [{"house_bill": "HB0001"}])
    verified = verify_attestations([block], _TRUSTED, _OWN, datetime.now(UTC).timestamp(), 30)
    verified.require(["HB0001"])
    with pytest.raises(AttestationError, match=r"1 house bill\(s\) .* \(first: HB0009\)"):
        verified.require(["HB0001", "HB0009"])
    assert block.payload_type == PAYLOAD_MANIFEST_BLOCK


_HALVES = [0.125, 0.375, 1.005, 2.675, 1.115, 0.285, 1234567.125, 8.345, 0.005, 0.015]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(0, 1e7), st.sampled_from(_HALVES),
                          st.integers(0, 10**9).map(lambda n: n / 1000),
                          st.integers(0, 10**12).map(lambda n: n / 200)),
                max_size=30))
def test_cents_round_as_python_does(values: list[float]) -> None:
    """Cents a column at a time are Python's round(value, 2), bit for bit (half cents,
    values just off them, -0.0, huge, NaN and infinite values included)."""
    expected = [round(v, 2) for v in values]
    assert [c.hex() for c in _cents(np.array(values, dtype=np.float64))] == \
        [e.hex() for e in expected]


def test_a_bill_attested_twice_is_named_before_a_later_block_fails() -> None:
    """Blocks are checked in order, each against the ones before it: a house bill twice in
    the first blocks is what a question is refused for, even when a later block is expired
    or signed by a stranger; a failing block before the repeat is refused for itself."""
    now = datetime.now(UTC)
    first, again = (attest(_FILER_KEY, "carrier-1", [{"house_bill": "HB0001"}])[0]
                    for _ in range(2))
    expired = attest(_FILER_KEY, "carrier-1", [{"house_bill": "HB0002"}],
                     valid_from=now - timedelta(days=2))[0]
    stranger = attest(SigningKey.generate(), "carrier-1", [{"house_bill": "HB0003"}])[0]
    for late in (expired, stranger):
        for cache in (None, AttestationCache()):
            with pytest.raises(AttestationError, match="house bill HB0001 is attested twice"):
                verify_attestations([first, again, late], _TRUSTED, _OWN, now.timestamp(), 30,
                                    cache=cache)
            with pytest.raises(AttestationError) as refused:
                verify_attestations([first, late, again], _TRUSTED, _OWN, now.timestamp(), 30,
                                    cache=cache)
            assert "attested twice" not in str(refused.value)
