"""Answer columns prepared from the wire (``masks.from_wire``) are those prepared from their
decoded values (``TypedColumn``): same kind, nulls, values, masks, codes and assessments,
for chunks of any column type, messy values and whatever a sender puts under a null."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.masks import TypedColumn, from_wire, wire_part
from fedtrade.coordinator.risk import Rule, assess_columns
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import PyValue
from fedtrade.protos import query_pb2
from tests.coordinator.test_risk_columns import NODES, RULES

_INT64 = st.integers(-(2**63), 2**63 - 1)
_TEXTS = st.one_of(st.sampled_from(["", "<0.5", "0", "hold", "0.8-1.2", "x|y\nz", "0\x00",
                                    "\u00e9\U0001f600", "nan", "4"]), st.text(max_size=4))
_NUMBERS = st.one_of(st.sampled_from([0.0, -0.0, float("nan"), float("inf"), 2.0, 0.5, 4.0]),
                     st.floats())
_FIELDS = {  # column type: the repeated field its values go in, and values for it
    query_pb2.COLUMN_TYPE_FLAG: ("flags", st.booleans()),
    query_pb2.COLUMN_TYPE_INTEGER: ("integers", st.one_of(st.sampled_from([0, 2, 4, 6]),
                                                          _INT64)),
    query_pb2.COLUMN_TYPE_NUMBER: ("numbers", _NUMBERS),
    query_pb2.COLUMN_TYPE_TEXT: ("texts", _TEXTS),
}


@st.composite
def chunk_columns(draw: st.DrawFn, name: str = "f") -> tuple[query_pb2.Column, int]:
    """One chunk's column as a node (or a hand-made sender) may send it, parsed from bytes:
    any type, nulls anywhere (repeated too) over any value."""
    rows = draw(st.integers(0, 8))
    column = query_pb2.Column(name=name)
    kind = draw(st.sampled_from([*_FIELDS, query_pb2.COLUMN_TYPE_TEXT_LIST]))
    column.type = kind
    if kind == query_pb2.COLUMN_TYPE_TEXT_LIST:
        lengths = draw(st.lists(st.integers(0, 2), min_size=rows, max_size=rows))
        column.list_lengths.extend(lengths)
        column.texts.extend(draw(st.lists(_TEXTS, min_size=sum(lengths),
                                          max_size=sum(lengths))))
    else:
        field, values = _FIELDS[kind]
        getattr(column, field).extend(draw(st.lists(values, min_size=rows, max_size=rows)))
    if rows:
        everywhere = st.just(list(range(rows)))
        column.nulls.extend(draw(st.one_of(everywhere, st.lists(st.integers(0, rows - 1),
                                                                max_size=rows + 2))))
    return query_pb2.Column.FromString(column.SerializeToString()), rows


def _decoded(chunks: Sequence[tuple[query_pb2.Column, int]]) -> tuple[list[PyValue],
                                                                       TypedColumn]:
    """As screening decodes a node's chunks: the values, and the column from the wire."""
    values: list[PyValue] = []
    parts = []
    for column, rows in chunks:
        table = query_pb2.Table(row_count=rows)
        table.columns.add().CopyFrom(column)
        values += decode_table(table).columns[column.name]
        parts.append(wire_part(column, rows))
    return values, from_wire(values, parts)


def _same_values(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == np.float64:  # bit for bit: NaN, -0.0
        return bool((a.view(np.int64) == b.view(np.int64)).all())
    return bool(a.tolist() == b.tolist())


_WANTED = st.lists(st.one_of(st.none(), st.booleans(), st.sampled_from([0, 2, 2**70]),
                             _NUMBERS, _TEXTS), max_size=3).map(tuple)


@settings(max_examples=400, deadline=None)
@given(st.lists(chunk_columns(), max_size=4), _WANTED, st.floats(allow_nan=True))
def test_a_column_from_the_wire_is_the_column_from_its_values(
    chunks: list[tuple[query_pb2.Column, int]], wanted: tuple[PyValue, ...], below: float,
) -> None:
    values, wire = _decoded(chunks)
    reference = TypedColumn(values)
    assert wire.column is values
    assert wire.kind is reference.kind
    assert wire.present.tolist() == reference.present.tolist()
    assert _same_values(wire.values, reference.values)
    for equals_any, equals_none_of, under in ((wanted, None, None), (None, wanted, None),
                                              (None, None, below)):
        rule = Rule("p", "violation", "any", "f", equals_any, equals_none_of, under, 1, "r")
        condition = (equals_any, equals_none_of, under, rule.matches)
        assert wire.mask(*condition).tolist() == reference.mask(*condition).tolist()
    everywhere = np.arange(len(values))
    assert wire.codes(everywhere).tolist() == reference.codes(everywhere).tolist()


def test_a_value_under_a_null_is_not_kept() -> None:
    """A sender that puts 7 under a null: the null's value is the placeholder, as decoded."""
    column = query_pb2.Column(name="f", type=query_pb2.COLUMN_TYPE_INTEGER, integers=[7, 3],
                              nulls=[0, 0])
    values, wire = _decoded([(column, 2)])
    assert values == [None, 3]
    assert wire.kind is int
    assert wire.present.tolist() == [False, True]
    assert wire.values is not None
    assert wire.values.tolist() == [0, 3]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_assessments_from_prepared_columns_are_those_from_values(data: st.DataObject) -> None:
    """Every rule field of every node, in chunks: assess_columns with the columns prepared
    from the wire gives the very Assessed it gives from the decoded values."""
    size = data.draw(st.integers(0, 12))
    answers: dict[str, tuple[str, dict[str, list[PyValue]]]] = {}
    prepared: dict[tuple[str, str], TypedColumn] = {}
    fields = sorted({rule.field for rule in RULES.rules})
    for node_id in data.draw(st.sets(st.sampled_from(sorted(NODES)))):
        columns: dict[str, list[PyValue]] = {}
        for name in data.draw(st.sets(st.sampled_from(fields))):
            chunks = data.draw(st.lists(chunk_columns(name), max_size=3))
            columns[name], prepared[node_id, name] = _decoded(chunks)
        answers[node_id] = (NODES[node_id], columns)
    splits = {i: "split a" for i in data.draw(st.sets(st.integers(0, max(size - 1, 0))))
              if i < size}
    expected = assess_columns(RULES, answers, size, splits, {})
    found = assess_columns(RULES, answers, size, splits, {}, prepared)
    assert found.distinct == expected.distinct
    assert found.code.tolist() == expected.code.tolist()


@pytest.mark.parametrize("kind", [query_pb2.COLUMN_TYPE_INTEGER, query_pb2.COLUMN_TYPE_TEXT])
def test_a_part_all_null_of_another_type_does_not_set_the_kind(kind: int) -> None:
    numbers = query_pb2.Column(name="f", type=query_pb2.COLUMN_TYPE_NUMBER, numbers=[-0.0])
    nulls = query_pb2.Column(name="f", type=kind, nulls=[0, 1])  # type: ignore[arg-type]
    nulls.integers.extend([5, 6]) if kind == query_pb2.COLUMN_TYPE_INTEGER else \
        nulls.texts.extend(["a", "b"])
    values, wire = _decoded([(numbers, 1), (nulls, 2)])
    assert values == [-0.0, None, None]
    assert wire.kind is float
    assert wire.values is not None
    assert wire.values.view(np.int64).tolist() == np.array([-0.0, 0.0, 0.0]).view(
        np.int64).tolist()
