"""Values and tables survive the wire unchanged, and a malformed table is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedtrade.protocol.tables import PyValue, decode_table, encode_columns, encode_rows
from fedtrade.protocol.wire import (
    envelope_from_proto,
    envelope_to_proto,
    from_value,
    table_value,
    to_value,
)
from fedtrade.protos import node_pb2, query_pb2
from fedtrade.trust.envelope import Envelope, Signature
from fedtrade.trust.errors import MalformedRequestError

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
)
VALUES: st.SearchStrategy[PyValue] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


def over_the_wire(value: query_pb2.Value) -> query_pb2.Value:
    """What a receiver parses: the bytes of a signed payload, not the sender's object."""
    return query_pb2.Value.FromString(value.SerializeToString(deterministic=True))


@given(VALUES)
def test_any_plain_value_round_trips(value: PyValue) -> None:
    assert from_value(over_the_wire(to_value(value))) == value


def same_kinds(a: PyValue, b: PyValue) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_kinds(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same_kinds, a, b))
    return type(a) is type(b)


@given(VALUES)
def test_values_keep_their_kind(value: PyValue) -> None:
    """true is not 1 and 1 is not 1.0 after the trip (risk rules compare kinds)."""
    assert same_kinds(from_value(over_the_wire(to_value(value))), value)


def columns(rows: int) -> st.SearchStrategy[list[PyValue]]:
    """One column of ``rows`` values of a single kind, with nulls."""
    kinds: list[st.SearchStrategy[PyValue]] = [
        st.text(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.booleans(),
        st.lists(st.text(), max_size=3),
    ]
    return st.sampled_from(kinds).flatmap(
        lambda kind: st.lists(st.none() | kind, min_size=rows, max_size=rows))


TABLES = st.integers(min_value=0, max_value=6).flatmap(
    lambda rows: st.dictionaries(st.text(min_size=1, max_size=8), columns(rows), max_size=4)
)


@given(TABLES)
def test_a_table_round_trips_column_by_column(table: dict[str, list[PyValue]]) -> None:
    back = from_value(over_the_wire(table_value(table)))
    assert back == table


@given(TABLES)
def test_rows_round_trip(table: dict[str, list[PyValue]]) -> None:
    names = tuple(table)
    rows = list(zip(*table.values(), strict=True)) if table else []
    decoded = decode_table(encode_rows(names, rows))
    assert decoded.names == names
    assert list(decoded.rows()) == rows


@given(TABLES)
def test_a_table_encoded_in_its_message_has_the_same_bytes(
        table: dict[str, list[PyValue]]) -> None:
    """Filled where it travels (``into``) or built and copied in: the signed bytes agree."""
    names = tuple(table)
    rows = list(zip(*table.values(), strict=True)) if table else []
    copied = query_pb2.AnswerChunk(sequence=1, table=encode_rows(names, rows))
    filled = query_pb2.AnswerChunk(sequence=1)
    encode_rows(names, rows, into=filled.table)
    assert filled.SerializeToString(deterministic=True) == \
        copied.SerializeToString(deterministic=True)


def test_a_column_cannot_mix_kinds() -> None:
    with pytest.raises(TypeError, match="cannot mix"):
        encode_columns({"mixed": [True, "yes"]})


def _table(**columns: list[PyValue]) -> query_pb2.Table:
    return encode_columns(columns)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda t: setattr(t, "row_count", t.row_count + 1), "has 2 values for 3 rows"),
        (lambda t: t.columns.append(t.columns[0]), "names a column twice"),
        (lambda t: t.columns[0].nulls.append(7), "null at row 7 of 2"),
        (lambda t: t.columns[1].list_lengths.append(1), "list lengths do not add up"),
        (lambda t: setattr(t.columns[0], "type", 99), "unknown column type 99"),
    ],
)
def test_a_malformed_table_from_the_network_is_refused(tamper: object, reason: str) -> None:
    table = _table(bill=["HB0001", "HB0002"], tags=[["a"], ["b", "c"]])
    assert callable(tamper)
    tamper(table)
    with pytest.raises(MalformedRequestError, match=reason):
        decode_table(query_pb2.Table.FromString(table.SerializeToString()))


@given(st.text(max_size=40), st.binary(max_size=200),
       st.lists(st.tuples(st.text(max_size=64), st.binary(max_size=64)), max_size=3))
def test_an_envelope_filled_into_a_response_is_the_envelope_message(
    payload_type: str, payload: bytes, signatures: list[tuple[str, bytes]]
) -> None:
    """The node fills its answer into the response's own field: the same bytes as a new
    message, present even when every field is empty, and read back unchanged."""
    envelope = Envelope(payload_type, payload, tuple(Signature(k, s) for k, s in signatures))
    response = node_pb2.QueryResponse()
    envelope_to_proto(envelope, response.envelope)
    assert response.HasField("envelope")
    fresh = envelope_to_proto(envelope).SerializeToString(deterministic=True)
    assert response.envelope.SerializeToString(deterministic=True) == fresh
    parsed = node_pb2.QueryResponse.FromString(response.SerializeToString())
    assert parsed.HasField("envelope")
    assert envelope_from_proto(parsed.envelope) == envelope
