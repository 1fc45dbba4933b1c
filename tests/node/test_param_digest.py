"""The audit entry's parameter digest is the same bytes hashed as before.

``_param_digest`` hashes ``Query(params=..., attestations=...)`` serialized
deterministically, now as the two fields' serializations one after the other. The
reference below is the digest as it was computed (one message holding both fields).
Hypothesis draws messy parameters (nulls, unicode, NaN, -0.0, infinities, empty texts,
the largest and smallest 64-bit integers, nested lists and records, tables with nulls)
and blocks with any payload bytes and signatures, including fields a newer sender
adds (unknown to this node, kept by protobuf and so hashed): the digests must agree,
and differ when a parameter or a block's byte changes.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.pipeline import _param_digest
from fedtrade.protocol.wire import PyValue, table_value, to_value
from fedtrade.protos import envelope_pb2, query_pb2

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_TEXT = st.text(max_size=12)
_SCALAR: st.SearchStrategy[PyValue] = st.one_of(
    st.none(), st.booleans(), _INT64, _TEXT,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 0.0, float("nan"), "", "é\u0301", "\U0001f4e6", 2**63 - 1]),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=12,
)


@st.composite
def _table(draw: st.DrawFn) -> query_pb2.Value:
    rows = draw(st.integers(0, 6))
    column = st.one_of(
        st.lists(st.one_of(st.none(), _TEXT), min_size=rows, max_size=rows),
        st.lists(st.one_of(st.none(), st.floats()), min_size=rows, max_size=rows),
        st.lists(st.one_of(st.none(), _INT64), min_size=rows, max_size=rows),
    )
    names = draw(st.lists(_TEXT, min_size=1, max_size=3, unique=True))
    return table_value({name: draw(column) for name in names})


@st.composite
def _block(draw: st.DrawFn) -> envelope_pb2.Envelope:
    block = envelope_pb2.Envelope(
        payload_type=draw(_TEXT), payload=draw(st.binary(max_size=300)),
        signatures=[envelope_pb2.Signature(key_id=draw(_TEXT), sig=draw(st.binary(max_size=64)))
                    for _ in range(draw(st.integers(0, 2)))])
    if draw(st.booleans()):  # a field this node's schema does not know (number 15, bytes)
        extra = draw(st.binary(max_size=20))
        block.MergeFromString(b"\x7a" + bytes([len(extra)]) + extra)
    return block


@st.composite
def _query(draw: st.DrawFn) -> query_pb2.Query:
    names = draw(st.lists(_TEXT, max_size=4, unique=True))
    params = {name: draw(st.one_of(_VALUE.map(to_value), _table())) for name in names}
    query = query_pb2.Query(
        query_id=draw(st.binary(min_size=16, max_size=16)), requester_id=draw(_TEXT),
        audience=draw(_TEXT), purpose=draw(_TEXT), query_name=draw(_TEXT), params=params,
        attestations=draw(st.lists(_block(), max_size=3)))
    # as a node has it: parsed from the bytes that were signed
    return query_pb2.Query.FromString(query.SerializeToString())


def _as_before(query: query_pb2.Query) -> str:
    return hashlib.sha256(
        query_pb2.Query(params=query.params, attestations=query.attestations)
        .SerializeToString(deterministic=True)
    ).hexdigest()


@settings(max_examples=300, deadline=None)
@given(_query())
def test_param_digest_is_the_digest_of_both_fields_serialized_together(
        query: query_pb2.Query) -> None:
    assert _param_digest(query) == _as_before(query)


def test_param_digest_of_a_screening_question_with_thousands_of_house_bills() -> None:
    bills = [f"HB{n:010d}" for n in range(5_000)]
    block = envelope_pb2.Envelope(payload_type="application/x", payload=bytes(range(256)) * 400,
                                  signatures=[envelope_pb2.Signature(key_id="k", sig=b"s" * 64)])
    query = query_pb2.Query(params={"shipments": table_value({"house_bill": bills})},
                            attestations=[block, block])
    assert _param_digest(query) == _as_before(query)


def test_param_digest_changes_with_a_parameter_or_a_block_byte() -> None:
    block = envelope_pb2.Envelope(payload_type="t", payload=b"lines",
                                  signatures=[envelope_pb2.Signature(key_id="k", sig=b"s")])
    query = query_pb2.Query(params={"a": to_value(["X1", "X2"])}, attestations=[block])
    other_param = query_pb2.Query(params={"a": to_value(["X1", "X3"])}, attestations=[block])
    other_block = query_pb2.Query(params={"a": to_value(["X1", "X2"])}, attestations=[
        envelope_pb2.Envelope(payload_type="t", payload=b"lineS", signatures=block.signatures)])
    without_block = query_pb2.Query(params={"a": to_value(["X1", "X2"])})
    digests = {_param_digest(q) for q in (query, other_param, other_block, without_block)}
    assert len(digests) == 4
