"""A request kept without its attested blocks comes back byte for byte, or is kept whole."""

from __future__ import annotations

from fedtrade.coordinator.request_blocks import cut_blocks, splice_blocks
from fedtrade.protocol.wire import envelope_to_proto
from fedtrade.trust.keys import SigningKey
from tests.conftest import attest, signed_query

_BILLS = [f"HB{i:06d}" for i in range(2_500)]


def test_a_request_without_its_blocks_is_spliced_back_byte_for_byte() -> None:
    filer, requester = SigningKey.generate(), SigningKey.generate()
    blocks = attest(filer, "carrier-1", [{"house_bill": bill} for bill in _BILLS])
    assert len(blocks) == 3
    request = signed_query(requester, audience="broker-1", params={"house_bills": _BILLS},
                           attestations=blocks)
    whole = envelope_to_proto(request).SerializeToString()
    stored, cut = cut_blocks(request, blocks)
    assert cut is not None
    assert cut_blocks(request, blocks, whole) == (stored, cut)  # serialized by the caller
    assert len(stored) < len(whole) - sum(len(block.payload) for block in blocks)
    assert splice_blocks(stored, cut.position, [entry for _, entry in cut.entries]) == whole
    assert cut.digests == b"".join(digest for digest, _ in cut.entries)
    assert len(cut.digests) == 3 * 32


def test_blocks_a_request_does_not_carry_as_one_run_leave_it_whole() -> None:
    filer, requester = SigningKey.generate(), SigningKey.generate()
    blocks = attest(filer, "carrier-1", [{"house_bill": bill} for bill in _BILLS])
    request = signed_query(requester, audience="broker-1", params={"house_bills": _BILLS},
                           attestations=blocks)
    whole = envelope_to_proto(request).SerializeToString()
    other = attest(filer, "carrier-1", [{"house_bill": "HB999999"}])
    for named in (other, blocks[:2], [blocks[1], blocks[0], blocks[2]], []):
        assert cut_blocks(request, named) == (whole, None)
    # the last blocks alone are a run where the query ends: cut, and back byte for byte
    stored, cut = cut_blocks(request, blocks[1:])
    assert cut is not None
    assert splice_blocks(stored, cut.position, [entry for _, entry in cut.entries]) == whole
