"""Rule conditions over whole answer columns: one boolean mask per rule and node.

A column arrives from the wire typed (flags, integers, numbers or texts) with
nulls; it is compared as one numpy array, with the same meaning as comparing
value by value in Python (``Rule.matches``): a null never matches, a flag
equals only a flag (false is not 0), an integer equals a number of the same
value. A column that mixes kinds (only a hand-made one can) is compared value
by value.

Answers arrive from the wire typed: ``wire_part`` takes each chunk's numbers and
flags as numpy arrays straight from its message, and ``from_wire`` puts the chunks
of a column together as ``TypedColumn`` would prepare its decoded values, without
a Python object per value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count, repeat

import numpy as np
import numpy.typing as npt

from fedtrade.protocol.wire import PyValue
from fedtrade.protos import query_pb2

__all__ = ["TypedColumn", "WirePart", "from_wire", "wire_part"]

Flags = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Values = npt.NDArray[np.generic]
# the one kind, where there is one; where they are not null; the values as one array
Typed = tuple[type | None, Flags, Values | None]
_NUMERIC = (int, float)


class TypedColumn:
    """One answer column prepared once for all the rules that read it: the one kind of its
    values, the values as one numpy array (or None: compared value by value) and where
    they are not null."""

    def __init__(self, column: Sequence[PyValue], typed: Typed | None = None) -> None:
        """``typed``: what preparing ``column`` gives, already known (``from_wire``)."""
        self.column = column
        self.kind, self.present, self.values = typed or _prepare(column)

    def mask(self, equals_any: Sequence[PyValue] | None,
             equals_none_of: Sequence[PyValue] | None, below: float | None,
             matches: Callable[[PyValue], bool]) -> Flags:
        """Per value: does it meet the condition? ``matches`` is the same test for one
        value, used for a column numpy cannot hold as one kind."""
        column, kind, values, present = self.column, self.kind, self.values, self.present
        if kind is None or values is None:
            return np.fromiter((matches(v) for v in column), bool, len(column))
        if below is not None:
            if kind not in _NUMERIC or kind is bool:
                return np.zeros(len(column), bool)
            below_mask: Flags = present & (values.astype(np.float64) < below)
            return below_mask
        equal = np.zeros(len(column), bool)
        for wanted in equals_any if equals_any is not None else equals_none_of or ():
            value = _comparable(kind, wanted)
            if value is not None:
                equal |= values == value
        return present & (equal if equals_any is not None else ~equal)

    def codes(self, positions: Ints) -> Ints:
        """One integer per value at ``positions`` such that values with the same code have
        the same text (``str``): what a reason shows of them."""
        kind, values = self.kind, self.values
        if kind is float and values is not None:
            return values[positions].view(np.int64)  # the same bits print the same
        if kind in (bool, int) and values is not None:
            return values[positions].astype(np.int64)
        # a number per distinct value (texts) or text (others), in order of appearance
        seen: dict[PyValue, int] = {}
        found = map(self.column.__getitem__, positions.tolist())
        return np.fromiter(map(seen.setdefault, found if kind is str else map(str, found),
                               count()), np.int64, len(positions))


def _prepare(column: Sequence[PyValue]) -> Typed:
    kinds = set(map(type, column))
    nulls = type(None) in kinds
    kinds.discard(type(None))
    kind = next(iter(kinds)) if len(kinds) == 1 else None
    kind = kind if kind in (bool, int, float, str) else None
    present: Flags = np.fromiter(map(operator.is_not, column, repeat(None)), bool,
                                 len(column)) if nulls else np.ones(len(column), bool)
    return kind, present, None if kind is None else _as_array(column, kind, fill=nulls)


@dataclass(frozen=True)
class WirePart:
    """One chunk's part of an answer column: the kind of its values (None: all null), its
    numbers or flags as sent (a null holds whatever the sender put there), and its nulls."""

    rows: int
    kind: type | None
    values: Values | None
    nulls: Ints


_NO_NULLS: Ints = np.zeros(0, np.int64)
_WIRE_KINDS: dict[int, type] = {
    query_pb2.COLUMN_TYPE_FLAG: bool, query_pb2.COLUMN_TYPE_INTEGER: int,
    query_pb2.COLUMN_TYPE_NUMBER: float, query_pb2.COLUMN_TYPE_TEXT: str,
    query_pb2.COLUMN_TYPE_TEXT_LIST: list,
}


def wire_part(column: query_pb2.Column, rows: int) -> WirePart:
    """``column`` of a chunk of ``rows`` rows that ``decode_table`` accepted."""
    nulls = np.unique(np.array(column.nulls, np.int64)) if column.nulls else _NO_NULLS
    kind = _WIRE_KINDS[column.type] if len(nulls) < rows else None
    values: Values | None = None
    if kind is bool:
        values = np.array(column.flags, bool)
    elif kind is int:
        values = np.array(column.integers, np.int64)
    elif kind is float:
        values = np.array(column.numbers, np.float64)
    return WirePart(rows, kind, values, nulls)


def from_wire(column: Sequence[PyValue], parts: Sequence[WirePart]) -> TypedColumn:
    """The TypedColumn of ``column``, the values decoded from ``parts`` in order, prepared
    from the parts: the same kind, values and nulls as preparing the values one by one."""
    kinds = {part.kind for part in parts} - {None}
    kind = kinds.pop() if len(kinds) == 1 else None
    present = np.ones(len(column), bool)
    start = 0
    for part in parts:
        present[start + part.nulls] = False
        start += part.rows
    if kind is None or kind not in _PLACEHOLDERS:  # no values, or lists: value by value
        return TypedColumn(column, (None, present, None))
    values: Values
    if kind is str:  # texts stay the Python objects decoded
        values = np.array(column, object)
    else:  # a part all null may have been sent as another kind: its values are not used
        values = np.concatenate([
            part.values if part.kind is kind and part.values is not None
            else np.zeros(part.rows, _DTYPES[kind]) for part in parts])
    values[~present] = _PLACEHOLDERS[kind]
    return TypedColumn(column, (kind, present, values))


_PLACEHOLDERS: dict[type, bool | int | float | str] = {bool: False, int: 0, float: 0.0, str: ""}
# texts stay Python objects: numpy's fixed-width text would drop trailing NULs
_DTYPES: dict[type, type] = {bool: bool, int: np.int64, float: np.float64, str: object}


def _as_array(column: Sequence[PyValue], kind: type, *, fill: bool
              ) -> npt.NDArray[np.generic] | None:
    if fill:  # nulls become a placeholder; ``present`` keeps them from matching
        placeholder = _PLACEHOLDERS[kind]
        column = [placeholder if v is None else v for v in column]
    try:
        return np.array(column, dtype=_DTYPES[kind])
    except OverflowError:  # an integer beyond 64 bits
        return None


def _comparable(kind: type, value: PyValue) -> PyValue | None:
    """``value`` as the column compares it, or None where no value of ``kind`` equals it."""
    if kind is bool or isinstance(value, bool):
        return value if kind is bool and isinstance(value, bool) else None
    if kind is str:
        return value if isinstance(value, str) else None
    if not isinstance(value, _NUMERIC):
        return None
    if kind is int:  # an integer equals a number only of an integral value
        if isinstance(value, float) and not value.is_integer():
            return None
        number = int(value)
        return number if -(2**63) <= number < 2**63 else None
    exact = float(value)  # a number equals an integer only where the integer is exact
    return exact if isinstance(value, float) or int(exact) == value else None
