"""Answer tables are encoded to the same bytes as by the column-by-column encoder before.

``protocol.tables`` now writes a flag column as the packed bytes protobuf writes (parsed
in C) and puts placeholders in place of nulls by index. The reference below is the
encoder as it was (each value through the repeated field's ``extend``, placeholders
by a comprehension). Hypothesis draws columns of every type with nulls, NaN, -0.0,
infinities, empty and non-ASCII texts, the largest 64-bit integers, integers mixed into
number columns, text lists, and columns of thousands of rows (flag counts past one
varint byte): the serialized tables must be identical, and a column mixing kinds is
refused with the same TypeError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import compress, repeat
from operator import is_

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.tables import (
    _PLACEHOLDER,
    PyValue,
    _column_type,
    decode_table,
    encode_columns,
)
from fedtrade.protos import query_pb2


def _encode_before(column: query_pb2.Column, name: str, values: Sequence[PyValue]) -> None:
    kinds = set(map(type, values))
    kind = _column_type(kinds)
    column.name = name
    column.type = kind  # type: ignore[assignment]
    if type(None) in kinds:
        column.nulls.extend(compress(range(len(values)), map(is_, values, repeat(None))))
        placeholder = _PLACEHOLDER[kind]
        values = [placeholder if v is None else v for v in values]
    if kind == query_pb2.COLUMN_TYPE_TEXT:
        column.texts.extend(values)  # type: ignore[arg-type]
    elif kind == query_pb2.COLUMN_TYPE_INTEGER:
        column.integers.extend(values)  # type: ignore[arg-type]
    elif kind == query_pb2.COLUMN_TYPE_NUMBER:
        column.numbers.extend(values if int not in kinds else map(float, values))  # type: ignore[arg-type]
    elif kind == query_pb2.COLUMN_TYPE_FLAG:
        column.flags.extend(values)  # type: ignore[arg-type]
    else:
        column.list_lengths.extend(map(len, values))  # type: ignore[arg-type]
        column.texts.extend(str(item) for v in values for item in v)  # type: ignore[union-attr]


def _table_before(columns: Mapping[str, Sequence[PyValue]]) -> query_pb2.Table:
    table = query_pb2.Table(row_count=len(next(iter(columns.values()), ())))
    for name, values in columns.items():
        _encode_before(table.columns.add(), name, values)
    return table


def _with_nulls(values: st.SearchStrategy[PyValue]) -> st.SearchStrategy[list[PyValue]]:
    return st.lists(st.one_of(st.none(), values, values, values), max_size=40)


_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_COLUMN = st.one_of(
    _with_nulls(st.booleans()),
    _with_nulls(st.one_of(st.text(), st.sampled_from(["", "é", "\U0001f4e6", "a\x00b"]))),
    _with_nulls(st.one_of(_INT64, st.sampled_from([0, 2**63 - 1, -(2**63)]))),
    _with_nulls(st.one_of(st.floats(), st.sampled_from([-0.0, float("nan"), float("inf")]))),
    _with_nulls(st.one_of(st.floats(), st.integers(-(2**53), 2**53))),  # numbers with ints
    _with_nulls(st.lists(st.text(max_size=5), max_size=4)),
    st.lists(st.none(), max_size=5),  # only nulls: a text column of placeholders
)


@st.composite
def _tables(draw: st.DrawFn) -> dict[str, list[PyValue]]:
    rows = draw(st.integers(0, 40))
    names = draw(st.lists(st.text(max_size=8), min_size=1, max_size=5, unique=True))
    table = {}
    for name in names:
        values = draw(_COLUMN)
        table[name] = (values * (rows // max(len(values), 1) + 1))[:rows] if values else \
            [None] * rows
    return table


@settings(max_examples=400, deadline=None)
@given(_tables())
def test_tables_encode_to_the_bytes_they_did(table: dict[str, list[PyValue]]) -> None:
    encoded = encode_columns(table)
    assert encoded.SerializeToString(deterministic=True) == \
        _table_before(table).SerializeToString(deterministic=True)
    assert encoded == _table_before(table)
    decoded = decode_table(encoded).columns
    assert list(decoded) == list(table)


@pytest.mark.parametrize("rows", [0, 1, 127, 128, 129, 2_000, 16_383, 16_384, 20_000])
def test_flag_columns_of_any_length_encode_as_before(rows: int) -> None:
    """Lengths around the varint's byte boundaries, as a chunk and a whole batch have."""
    flags: list[PyValue] = [index % 3 == 0 for index in range(rows)]
    with_nulls: list[PyValue] = [None if index % 7 == 0 else f for index, f in enumerate(flags)]
    table = {"known": flags, "hit": with_nulls}
    assert encode_columns(table).SerializeToString(deterministic=True) == \
        _table_before(table).SerializeToString(deterministic=True)
    assert decode_table(encode_columns(table)).columns["hit"] == with_nulls


@pytest.mark.parametrize("mixed", [[True, 1], [True, None, "x"], [1, "1"], [[], 1.0],
                                   [False, 0.0]])
def test_a_column_mixing_kinds_is_refused_as_before(mixed: list[PyValue]) -> None:
    with pytest.raises(TypeError) as before:
        _table_before({"c": mixed})
    with pytest.raises(TypeError) as now:
        encode_columns({"c": mixed})
    assert str(now.value) == str(before.value)
