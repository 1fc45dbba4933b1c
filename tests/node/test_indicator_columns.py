"""Indicators converted a column at a time equal the per-value reference, cell by cell.

``node.queries.columns`` (pyarrow, numpy) is what answers a batch; each field's
per-row ``convert`` in ``node.queries.shipments`` is the reference. Hypothesis
draws raw evidence of every kind a store returns (and some it never should:
negative counts, codes that are not digits, non-ASCII text, NaN) and node
settings (band edges, exchange rates, match threshold); the column path must
give the reference's answer or decline (None) so that the reference runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.queries import columns
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.shipments import _FIELDS, count_band
from fedtrade.node.queries.spec import band
from fedtrade.protocol.tables import ColumnRows, PyValue, encode_rows

ROWS = st.integers(min_value=0, max_value=40)
_CURRENCIES = ("USD", "EUR", "CNY", "XXX")  # XXX: no rate at the node


def _edges(kind: st.SearchStrategy[float] | st.SearchStrategy[int],
           ) -> st.SearchStrategy[tuple[float, ...]]:
    return st.lists(kind, min_size=1, max_size=4, unique=True).map(lambda e: tuple(sorted(e)))


SETTINGS = st.builds(
    QuerySettings,
    currency_per_usd=st.fixed_dictionaries({
        "USD": st.just(1.0), "EUR": st.floats(0.5, 2.0), "CNY": st.floats(1.0, 10.0)}),
    value_ratio_bands=_edges(st.floats(0.01, 5.0)),
    account_age_days=_edges(st.integers(1, 2000)),
    linked_suspended=_edges(st.integers(1, 20)),
    name_match_threshold=st.floats(0.0, 1.0),
)
_NUMBER = st.one_of(st.none(), st.integers(-10, 3000), st.floats(allow_nan=True),
                    st.floats(-1e6, 1e6))
_COUNT = st.one_of(st.none(), st.integers(0, 30))
_FLAG = st.one_of(st.none(), st.integers(0, 1))
# flags a store never holds: other integers, floats (NaN too) take the per-value path
_ODD_FLAG = st.one_of(st.integers(-2, 3), st.sampled_from([0.0, -0.0, 1.0, 0.5, float("nan")]))
_CODE = st.one_of(st.none(), st.text("0123456789", max_size=8),
                  st.sampled_from(["950300", "9503", "95", "é95030", ""]))
_TEXT = st.one_of(st.none(), st.text(max_size=5))
_STRENGTH = st.one_of(st.none(), st.floats(0.0, 1.0))
_HIT = st.one_of(st.none(), st.integers(0, 1))
# what each raw value of a field's SQL can hold, by field and role
_RAW: dict[str, tuple[st.SearchStrategy[PyValue], ...]] = {
    "account_age_band": (_NUMBER,),
    "linked_suspended_band": (st.one_of(_COUNT, st.integers(-3, 3)),),
    "declared_paid_ratio_band": (_NUMBER, _NUMBER,
                                 st.one_of(st.none(), st.sampled_from(_CURRENCIES))),
    "hs_match_depth": (_CODE, _CODE),
    "entry_declared_ratio_band": (_NUMBER, _NUMBER),
    "entity_list_hit": (_STRENGTH, _HIT),
}


def _raw_strategy(name: str, width: int) -> st.SearchStrategy[list[PyValue]]:
    kinds = _RAW.get(name)
    if kinds is None:  # flags and plain values
        kinds = (st.one_of(_FLAG, _TEXT, _ODD_FLAG),) * width
    return st.tuples(*kinds).map(list)


def _reference(name: str, rows: Sequence[Sequence[PyValue]],
               node: QuerySettings) -> list[PyValue]:
    return [_FIELDS[name].convert(tuple(row), node) for row in rows]


_CASES = sorted((name, role) for name, field in _FIELDS.items() for role in field.sql)


@pytest.mark.parametrize(("name", "role"), _CASES)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), node=SETTINGS, count=ROWS)
def test_column_equals_the_reference(name: str, role: str, data: st.DataObject,
                                     node: QuerySettings, count: int) -> None:
    width = len(_FIELDS[name].sql[role])
    rows = [data.draw(_raw_strategy(name, width)) for _ in range(count)]
    raw = [tuple(row[i] for row in rows) for i in range(width)]
    fast = _FIELDS[name].vector(raw, node)
    if fast is not None:
        assert fast == _reference(name, rows, node)


_SOME_NUMBER = st.one_of(st.integers(-10, 3000), st.floats(allow_nan=True), st.floats(-1e6, 1e6))
_SOME_CODE = st.one_of(st.text("0123456789", max_size=8), st.sampled_from(["950300", "é95030"]))
# Raw values as most stores return them: no nulls (for the entity hit, name strengths only,
# as the marketplace and carrier have them).
_WITHOUT_NULLS: dict[str, tuple[st.SearchStrategy[PyValue], ...]] = {
    "account_age_band": (_SOME_NUMBER,),
    "linked_suspended_band": (st.integers(-3, 30),),
    "declared_paid_ratio_band": (_SOME_NUMBER, _SOME_NUMBER, st.sampled_from(_CURRENCIES)),
    "hs_match_depth": (_SOME_CODE, _SOME_CODE),
    "entry_declared_ratio_band": (_SOME_NUMBER, _SOME_NUMBER),
    "entity_list_hit": (st.floats(0.0, 1.0) | st.just(float("nan")), st.none()),
}


def _without_nulls(name: str, width: int) -> st.SearchStrategy[list[PyValue]]:
    plain = st.one_of(st.integers(0, 1), st.text(max_size=5), _ODD_FLAG)
    return st.tuples(*_WITHOUT_NULLS.get(name, (plain,) * width)).map(list)


@pytest.mark.parametrize(("name", "role"), _CASES)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), node=SETTINGS, count=ROWS)
def test_columns_without_nulls_equal_the_reference_type_for_type(
        name: str, role: str, data: st.DataObject, node: QuerySettings, count: int) -> None:
    """The shortcuts taken when a column holds no null give the reference's values and
    types (True, not 1: the answer's column type follows them)."""
    width = len(_FIELDS[name].sql[role])
    rows = [data.draw(_without_nulls(name, width)) for _ in range(count)]
    raw = [tuple(row[i] for row in rows) for i in range(width)]
    fast = _FIELDS[name].vector(raw, node)
    if fast is not None:
        assert [(type(v), v) for v in fast] == \
            [(type(v), v) for v in _reference(name, rows, node)]


def _store_rows(name: str, role: str) -> list[tuple[PyValue, ...]]:
    """Raw values of the kinds a store returns (the fast path must take them)."""
    typical: dict[str, list[tuple[PyValue, ...]]] = {
        "account_age_band": [(12,), (400,), (None,), (5000,)],
        "linked_suspended_band": [(0,), (1,), (3,), (None,), (9,)],
        "declared_paid_ratio_band": [(10.0, 20.0, "USD"), (9.99, 0.0, "EUR"),
                                     (None, 5.0, "USD"), (4.0, 5.0, "XXX"), (5.0, 4.0, None)],
        "hs_match_depth": [("950300", "950300"), ("950390", "950300"), ("951000", "950300"),
                           ("010101", "950300"), (None, "950300")],
        "entry_declared_ratio_band": [(10.0, 8.0), (10.0, 0.0), (None, 5.0), (7.5, None)],
        "entity_list_hit": [(0.95, None), (0.2, 0), (None, 1), (None, None), (None, 0)],
    }
    width = len(_FIELDS[name].sql[role])
    return typical.get(name, [(1,) * width, (0,) * width, (None,) * width])


@pytest.mark.parametrize(("name", "role"), _CASES)
def test_store_values_take_the_column_path(name: str, role: str) -> None:
    rows = _store_rows(name, role)
    raw = [tuple(row[i] for row in rows) for i in range(len(rows[0]))]
    node = QuerySettings()
    fast = _FIELDS[name].vector(raw, node)
    assert fast is not None, f"{name} ({role}) fell back to the per-row reference"
    assert fast == _reference(name, rows, node)


@settings(deadline=None)  # a loaded machine is no failure
@given(edges=_edges(st.floats(-1e3, 1e3)), value=st.floats(allow_nan=True))
def test_band_labels_equal_band(edges: tuple[float, ...], value: float) -> None:
    labelled = columns.labelled(np.array([value]), np.array([False]), edges,
                                columns.band_labels(edges, "d"))
    assert labelled == [band(value, edges, "d")]


@settings(deadline=None)  # a loaded machine is no failure
@given(edges=_edges(st.integers(1, 50)), count=st.integers(0, 100))
def test_count_band_labels_equal_count_band(edges: tuple[int, ...], count: int) -> None:
    labelled = columns.labelled(np.array([count]), np.array([False]), edges,
                                columns.count_band_labels(edges))
    assert labelled == [count_band(count, edges)]


@settings(deadline=None)  # a loaded machine is no failure
@given(st.data(), st.integers(1, 4), st.integers(0, 30))
def test_column_rows_encode_like_rows(data: st.DataObject, width: int, count: int) -> None:
    """A table handed over as columns encodes to the very bytes of the same rows, and
    slices and iterates as those rows."""
    kinds: list[st.SearchStrategy[PyValue]] = [
        data.draw(st.sampled_from([st.booleans(), st.integers(-9, 9), st.text(max_size=3),
                                   st.floats(-9, 9)])) for _ in range(width)]
    cols: list[list[PyValue]] = [[data.draw(st.one_of(st.none(), kind)) for _ in range(count)]
                                 for kind in kinds]
    rows = list(zip(*cols, strict=True)) if count else []
    held = ColumnRows(cols)
    names = [f"c{i}" for i in range(width)]
    assert encode_rows(names, held).SerializeToString(deterministic=True) == \
        encode_rows(names, rows).SerializeToString(deterministic=True)
    assert list(held) == rows
    assert len(held) == count
    assert list(held[1:3]) == rows[1:3]
    if count:
        assert held[count - 1] == rows[-1]


def test_column_rows_refuse_ragged_columns() -> None:
    with pytest.raises(ValueError, match="one length"):
        ColumnRows([[1, 2], [3]])
    with pytest.raises(ValueError, match="at least one column"):
        ColumnRows([])
