"""Block bytes written a column at a time are the bytes protobuf writes: the lines'
records against ``SerializeToString`` of one-line blocks, and a signed block's payload
against the whole block serialized at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.attestation import sign_block, sign_blocks
from fedtrade.protocol.manifest_lines import line_records
from fedtrade.protos import attestation_pb2
from fedtrade.trust.keys import SigningKey

_FIELDS = ("house_bill", "master_bill", "declared_value", "currency", "hs6", "consignee_ref",
           "arrival_date")
# empty (proto3 leaves it out), short, non-ASCII, and up to 127 bytes (lines over 127
# bytes take a two-byte length)
_VALUE = st.one_of(st.just(""), st.text(max_size=12),
                   st.text(st.characters(max_codepoint=127), min_size=100, max_size=127))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(*[_VALUE] * len(_FIELDS)), min_size=1, max_size=20))
def test_records_are_what_protobuf_writes(rows: list[tuple[str, ...]]) -> None:
    rows = [tuple(v if len(v.encode()) < 128 else v[:30] for v in row) for row in rows]
    columns = [pa.array(list(values), pa.string()) for values in zip(*rows, strict=True)]
    lines = [attestation_pb2.ManifestLine(**dict(zip(_FIELDS, row, strict=True)))
             for row in rows]
    expected = [attestation_pb2.ManifestBlock(lines=[line]).SerializeToString(deterministic=True)
                for line in lines]
    assert line_records(columns).to_pylist() == expected
    # sliced columns (an offset into shared buffers) give the same
    assert line_records([c.slice(1) for c in columns]).to_pylist() == expected[1:]


def test_a_signed_block_is_the_whole_block_serialized() -> None:
    key = SigningKey.generate()
    start = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    lines = [attestation_pb2.ManifestLine(house_bill=f"HB{n:04d}", master_bill="",
                                          declared_value="1.5", currency="USD", hs6="851830",
                                          consignee_ref="ab" * 16, arrival_date="2025-01-06")
             for n in range(5)]
    records = attestation_pb2.ManifestBlock(lines=lines).SerializeToString(deterministic=True)
    signed = [sign_block(key, "carrier-1", records, valid_from=start,
                         valid_until=start + timedelta(hours=2))]
    signed += sign_blocks(key, "carrier-1", lines, block_lines=3, valid_from=start,
                          valid_until=start + timedelta(hours=2))
    for envelope, count in zip(signed, [5, 3, 2], strict=True):
        block = attestation_pb2.ManifestBlock.FromString(envelope.payload)
        assert len(block.block_id) == 16
        assert block.filer_id == "carrier-1"
        assert block.valid_from.ToDatetime(tzinfo=UTC) == start
        assert len(block.lines) == count
        assert block.SerializeToString(deterministic=True) == envelope.payload
