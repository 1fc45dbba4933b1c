"""The verified-block cache: what it may never let through, and that it is used and bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from fedtrade.node.attestation import Attestation, AttestationCache, verify_attestations
from fedtrade.node.config import RequesterKey
from fedtrade.node.reload import reload_config
from fedtrade.trust.envelope import Envelope, Signature
from fedtrade.trust.errors import AttestationError
from fedtrade.trust.keys import SigningKey, generate_keypair
from tests.conftest import LiveFederation, attest
from tests.node.test_attestation import ask, refusal
from tests.node.test_operations import edit

MARKET = "marketplace-1"
_FILER = SigningKey.generate()
_OWN = ("marketplace-1", SigningKey.generate().public_key)


def _trusted(not_after: datetime | None = None) -> dict[str, tuple[str, RequesterKey]]:
    return {_FILER.key_id: ("carrier-1", RequesterKey(_FILER.public_key, None, not_after, False))}


def _block(*bills: str) -> tuple[Envelope, float]:
    """A block valid from now, and now."""
    (block,) = attest(_FILER, "carrier-1", [{"house_bill": b} for b in bills])
    return block, datetime.now(UTC).timestamp()


def test_a_block_verified_under_a_removed_key_is_refused_after_reload(
    live: LiveFederation,
) -> None:
    state = live.nodes[MARKET].state
    bills = {"house_bills": ["HB0001"]}
    blocks = live.attest([{"house_bill": "HB0001"}])
    assert ask(live, MARKET, blocks, "shipment_known", bills).table.row_count == 1
    assert len(state.attested) == 1  # the block is cached under the config in force
    generate_keypair(live.federation.root / "keys", "another-filer")

    def drop_filer_key(config: dict[str, object]) -> None:
        config["trusted_filers"] = {
            live.federation.filer_id: {"keys": [{"file": "keys/another-filer.pub"}]}}

    edit(state.config.path, drop_filer_key)
    assert reload_config(state) is not None
    error = refusal(live, MARKET, blocks, "shipment_known", bills)  # the same bytes
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not signed by any trusted key" in (error.details() or "")


def test_a_hit_reuses_the_verified_lines_for_that_requester_only() -> None:
    cache, trusted, (block, now) = AttestationCache(), _trusted(), _block("HB0001", "HB0002")
    first = verify_attestations([block], trusted, _OWN, now, 30, cache=cache, requester="a")
    again = verify_attestations([block], trusted, _OWN, now, 30, cache=cache, requester="a")
    assert again.blocks[0] is first.blocks[0]  # not parsed or verified again
    assert again.digest == first.digest
    other = verify_attestations([block], trusted, _OWN, now, 30, cache=cache, requester="b")
    assert other.blocks[0] is not first.blocks[0]
    assert len(cache) == 2
    # a new trusted mapping (a reloaded config) empties the cache
    verify_attestations([block], _trusted(), _OWN, now, 30, cache=cache, requester="a")
    assert len(cache) == 1


def test_a_tampered_block_never_hits_the_cache() -> None:
    cache, trusted, (block, now) = AttestationCache(), _trusted(), _block("HB0001")
    verify_attestations([block], trusted, _OWN, now, 30, cache=cache, requester="a")
    signature = bytearray(block.signatures[0].sig)
    signature[0] ^= 1
    forged = Envelope(block.payload_type, block.payload,
                      (Signature(block.signatures[0].key_id, bytes(signature)),))
    tampered = Envelope(block.payload_type, block.payload.replace(b"610910", b"610911"),
                        block.signatures)
    doubled = Envelope(block.payload_type, block.payload,
                       (*block.signatures, Signature(block.signatures[0].key_id, bytes(signature))))
    retyped = Envelope("application/other", block.payload, block.signatures)
    for bad in (forged, tampered, doubled, retyped):
        with pytest.raises(AttestationError):
            verify_attestations([bad], trusted, _OWN, now, 30, cache=cache, requester="a")
    assert len(cache) == 1  # only the genuine block was stored


def test_time_is_checked_again_on_every_hit() -> None:
    cache, (block, now) = AttestationCache(), _block("HB0001")
    expires = datetime.fromtimestamp(now, UTC) + timedelta(minutes=5)
    trusted = _trusted(not_after=expires)
    verify_attestations([block], trusted, _OWN, now, 30, cache=cache, requester="a")
    with pytest.raises(AttestationError, match="not signed by any trusted key"):
        # the filer key expired since: the cached block is not trusted from memory
        verify_attestations([block], trusted, _OWN, now + 600, 30, cache=cache, requester="a")
    forever = _trusted()
    verify_attestations([block], forever, _OWN, now, 30, cache=cache, requester="a")
    with pytest.raises(AttestationError, match="expired at"):  # the block's own window
        verify_attestations([block], forever, _OWN, now + 7200, 30, cache=cache,
                            requester="a")


def test_the_cache_is_bounded_by_lines() -> None:
    cache, trusted = AttestationCache(max_lines=5), _trusted()
    blocks = [_block(f"HB{i:04d}", f"HB{i:04d}X")[0] for i in range(4)]
    now = datetime.now(UTC).timestamp()
    for block in blocks:
        verify_attestations([block], trusted, _OWN, now, 30, cache=cache, requester="a")
    assert len(cache) == 2  # the two most recent blocks, four lines
    big, now = _block(*(f"HB{i:04d}" for i in range(6)))
    verify_attestations([big], trusted, _OWN, now, 30, cache=cache, requester="a")
    assert len(cache) == 2  # a block over the bound is verified but not kept


def test_a_batch_s_blocks_are_looked_up_once_for_its_questions() -> None:
    """The same blocks again (a batch's consignee-totals question after its indicator one)
    find the attestation made for the first question, for that requester only, and every
    check that depends on the moment still runs."""
    cache, trusted = AttestationCache(), _trusted()
    (first, _), (second, now) = _block("HB0001", "HB0002"), _block("HB0003")

    def verify(blocks: list[Envelope], requester: str = "a", at: float = now,
               keys: dict[str, tuple[str, RequesterKey]] = trusted) -> Attestation:
        return verify_attestations(blocks, keys, _OWN, at, 30, cache=cache, requester=requester)

    made = verify([first, second])
    assert verify([first, second]) is made
    assert made.lines.keys() == {"HB0001", "HB0002", "HB0003"}
    assert verify([first, second], requester="b") is not made
    swapped = verify([second, first])  # another order: other places among the lines
    assert swapped is not made
    assert list(swapped.located) == ["HB0003", "HB0001", "HB0002"]
    assert verify([first]) is not made
    with pytest.raises(AttestationError, match="expired at"):  # the window, on every question
        verify([first, second], at=now + 7200)
    assert verify([first, second], keys=_trusted()) is not made  # a reloaded config


def test_a_set_of_blocks_with_a_house_bill_twice_is_refused_every_time() -> None:
    cache, trusted = AttestationCache(), _trusted()
    (first, _), (again, now) = _block("HB0001"), _block("HB0001", "HB0002")
    for _ in range(2):
        with pytest.raises(AttestationError, match="house bill HB0001 is attested twice"):
            verify_attestations([first, again], trusted, _OWN, now, 30, cache=cache,
                                requester="a")


def test_reference_columns_are_each_caller_s_own() -> None:
    """A query may set values in the columns it is given: the next question of the batch
    still gets the attested values."""
    cache, trusted, (block, now) = AttestationCache(), _trusted(), _block("HB0001", "HB0002")
    rates = {"USD": 1.0}
    for _ in range(2):
        attestation = verify_attestations([block], trusted, _OWN, now, 30, cache=cache,
                                          requester="a")
        for bills in (["HB0001", "HB0002"], ["HB0002"]):
            declared, hs6 = attestation.reference(bills, rates)
            expected = [attestation.lines[b] for b in bills]
            assert declared == [line.declared_value for line in expected]
            assert hs6 == [line.hs6 for line in expected]
            declared[0], hs6[0] = None, None


def test_the_sets_of_blocks_remembered_are_bounded_by_lines() -> None:
    cache, trusted = AttestationCache(recent_lines=3), _trusted()
    (one, _), (two, _), (big, now) = _block("HB0001", "HB0002"), _block("HB0003"), \
        _block("HB0004", "HB0005", "HB0006", "HB0007")

    def verify(*blocks: Envelope) -> Attestation:
        return verify_attestations(list(blocks), trusted, _OWN, now, 30, cache=cache,
                                   requester="a")

    first = verify(one)
    assert verify(one) is first
    assert verify(big) is not verify(big)  # over the bound: looked up for each question
    assert verify(one) is first
    verify(one, two)  # three lines with the first set's two: the first set is let go
    assert verify(one) is not first
