from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.trust.envelope import (
    MAX_KEY_ID_LENGTH,
    MAX_SIGNATURES,
    Envelope,
    Signature,
    pae,
    sign,
    verify,
    verify_threshold,
)
from fedtrade.trust.errors import (
    BadSignatureError,
    ThresholdError,
    UnknownKeyError,
    VerificationError,
)
from fedtrade.trust.keys import PublicKey, SigningKey

TYPE = "application/vnd.fedtrade.test.v1"
KEYS = [SigningKey.generate() for _ in range(4)]
ALICE, BOB, CAROL, MALLORY = KEYS


def trust_of(*keys: SigningKey) -> dict[str, PublicKey]:
    return {key.key_id: key.public_key for key in keys}


def test_pae_matches_the_dsse_spec_example() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_utf8_bytes_and_handles_empty_body() -> None:
    assert pae("é", b"") == "DSSEv1 2 é 0 ".encode()


def test_sign_verify_round_trip() -> None:
    envelope = sign(TYPE, b"payload", [ALICE])
    assert envelope.payload_type == TYPE
    assert [s.key_id for s in envelope.signatures] == [ALICE.key_id]
    assert verify(envelope, trust_of(ALICE), payload_type=TYPE) == b"payload"


def test_sign_needs_a_key_and_signs_once_per_key() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sign(TYPE, b"x", [])
    envelope = sign(TYPE, b"x", [ALICE, BOB, ALICE])
    assert [s.key_id for s in envelope.signatures] == [ALICE.key_id, BOB.key_id]


def test_wrong_payload_type_is_refused() -> None:
    envelope = sign(TYPE, b"x", [ALICE])
    with pytest.raises(VerificationError, match="expected 'other/type'") as info:
        verify(envelope, trust_of(ALICE), payload_type="other/type")
    assert TYPE in str(info.value)


def test_unknown_key_is_refused_and_named() -> None:
    envelope = sign(TYPE, b"x", [MALLORY])
    with pytest.raises(UnknownKeyError, match="trust config") as info:
        verify(envelope, trust_of(ALICE, BOB), payload_type=TYPE)
    assert MALLORY.key_id[:16] in str(info.value)
    assert MALLORY.key_id not in str(info.value)  # key ids are quoted capped


def test_unknown_key_ids_are_quoted_bounded() -> None:
    """16 fake key ids of 128 characters each: the reason stays short."""
    envelope = sign(TYPE, b"x", [MALLORY])
    fakes = tuple(Signature("f" * 128, b"s" * 64) for _ in range(16))
    envelope = Envelope(envelope.payload_type, envelope.payload, fakes)
    with pytest.raises(UnknownKeyError, match="and 13 more") as info:
        verify(envelope, trust_of(ALICE), payload_type=TYPE)
    assert len(str(info.value)) < 300
    wrong = Envelope("t" * 100_000, b"x", envelope.signatures)
    with pytest.raises(VerificationError) as wrong_type:
        verify(wrong, trust_of(ALICE), payload_type=TYPE)
    assert len(str(wrong_type.value)) < 300


def test_unsigned_envelope_is_refused() -> None:
    envelope = Envelope(TYPE, b"x", ())
    with pytest.raises(UnknownKeyError, match="none"):
        verify(envelope, trust_of(ALICE), payload_type=TYPE)


def test_two_of_three_distinct_keys_pass() -> None:
    envelope = sign(TYPE, b"approve", [ALICE, CAROL])
    verified = verify_threshold(
        envelope, trust_of(ALICE, BOB, CAROL), payload_type=TYPE, threshold=2
    )
    assert verified.payload == b"approve"
    assert verified.signers == frozenset({ALICE.key_id, CAROL.key_id})


def test_the_same_key_twice_counts_once() -> None:
    single = sign(TYPE, b"approve", [ALICE])
    doubled = replace(single, signatures=single.signatures * 2)
    with pytest.raises(ThresholdError, match="2 of 3 required approver signatures, got 1"):
        verify_threshold(doubled, trust_of(ALICE, BOB, CAROL), payload_type=TYPE, threshold=2)


def test_one_key_listed_under_two_ids_counts_once() -> None:
    single = sign(TYPE, b"approve", [ALICE])
    alias = "alice-again"
    doubled = replace(
        single, signatures=(*single.signatures, Signature(alias, single.signatures[0].sig))
    )
    trusted = {**trust_of(ALICE, BOB), alias: ALICE.public_key}
    with pytest.raises(ThresholdError, match="got 1"):
        verify_threshold(doubled, trusted, payload_type=TYPE, threshold=2)


def test_untrusted_extra_signatures_are_ignored() -> None:
    envelope = sign(TYPE, b"approve", [ALICE, MALLORY, BOB])
    verified = verify_threshold(
        envelope, trust_of(ALICE, BOB, CAROL), payload_type=TYPE, threshold=2
    )
    assert verified.signers == frozenset({ALICE.key_id, BOB.key_id})
    with pytest.raises(ThresholdError, match="3 of 3 required approver signatures, got 2"):
        verify_threshold(envelope, trust_of(ALICE, BOB, CAROL), payload_type=TYPE, threshold=3)


def test_any_bad_trusted_signature_fails_closed() -> None:
    envelope = sign(TYPE, b"approve", [ALICE, BOB, CAROL])
    forged = Signature(BOB.key_id, MALLORY.sign(pae(TYPE, b"approve")))
    tampered = replace(envelope, signatures=(*envelope.signatures, forged))
    with pytest.raises(BadSignatureError, match=BOB.key_id):
        verify_threshold(tampered, trust_of(ALICE, BOB, CAROL), payload_type=TYPE, threshold=2)


def test_threshold_below_one_is_a_programming_error() -> None:
    envelope = sign(TYPE, b"x", [ALICE])
    with pytest.raises(ValueError, match="at least 1"):
        verify_threshold(envelope, trust_of(ALICE), payload_type=TYPE, threshold=0)


def test_too_many_signatures_are_refused() -> None:
    envelope = sign(TYPE, b"x", [ALICE])
    flood = replace(envelope, signatures=envelope.signatures * (MAX_SIGNATURES + 1))
    with pytest.raises(VerificationError, match=f"more than the {MAX_SIGNATURES}"):
        verify(flood, trust_of(ALICE), payload_type=TYPE)
    at_limit = replace(envelope, signatures=envelope.signatures * MAX_SIGNATURES)
    assert verify(at_limit, trust_of(ALICE), payload_type=TYPE) == b"x"


def test_overlong_key_id_is_refused() -> None:
    envelope = sign(TYPE, b"x", [ALICE])
    long_id = Signature("k" * (MAX_KEY_ID_LENGTH + 1), b"\0" * 64)
    with pytest.raises(VerificationError, match="key id is 129 characters"):
        verify(
            replace(envelope, signatures=(*envelope.signatures, long_id)),
            trust_of(ALICE),
            payload_type=TYPE,
        )


def _flip(data: bytes, position: int, mask: int) -> bytes:
    index = position % len(data)
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=64),
    part=st.sampled_from(["payload", "payload_type", "signature", "key_id"]),
    position=st.integers(min_value=0, max_value=1_000),
    mask=st.integers(min_value=1, max_value=255),
)
def test_flipping_any_byte_breaks_verification(
    payload: bytes, part: str, position: int, mask: int
) -> None:
    envelope = sign(TYPE, payload, [ALICE])
    trusted = trust_of(ALICE)
    signature = envelope.signatures[0]
    if part == "payload":
        envelope = replace(envelope, payload=_flip(payload, position, mask))
    elif part == "payload_type":
        flipped = _flip(TYPE.encode(), position, mask).decode("utf-8", errors="replace")
        envelope = replace(envelope, payload_type=flipped)
        # Also claim the tampered type, so the signature itself must catch it.
        with pytest.raises(BadSignatureError):
            verify(envelope, trusted, payload_type=flipped)
    elif part == "signature":
        tampered = Signature(signature.key_id, _flip(signature.sig, position, mask))
        envelope = replace(envelope, signatures=(tampered,))
    else:
        flipped_id = _flip(signature.key_id.encode(), position, mask).decode(
            "utf-8", errors="replace"
        )
        envelope = replace(envelope, signatures=(Signature(flipped_id, signature.sig),))
    with pytest.raises(VerificationError):
        verify(envelope, trusted, payload_type=TYPE)
