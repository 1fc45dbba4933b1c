"""Rule conditions over whole answer columns: one boolean mask per rule and node.

A column arrives from the wire typed (flags, integers, numbers or texts) with
nulls; it is compared as one numpy array, with the same meaning as comparing
value by value in Python (``Rule.matches``): a null never matches, a flag
equals only a flag (false is not 0), an integer equals a number of the same
value. A column that mixes kinds (only a hand-made one can) is compared value
by value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import count, repeat

import numpy as np
import numpy.typing as npt

from fedtrade.protocol.wire import PyValue

__all__ = ["TypedColumn"]

Flags = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
_NUMERIC = (int, float)


class TypedColumn:
    """One answer column prepared once for all the rules that read it: the one kind of its
    values, the values as one numpy array (or None: compared value by value) and where
    they are not null."""

    def __init__(self, column: Sequence[PyValue]) -> None:
        self.column = column
        kinds = set(map(type, column))
        nulls = type(None) in kinds
        kinds.discard(type(None))
        kind = next(iter(kinds)) if len(kinds) == 1 else None
        self.kind = kind if kind in (bool, int, float, str) else None
        self.present: Flags = np.fromiter(map(operator.is_not, column, repeat(None)), bool,
                                          len(column)) if nulls else np.ones(len(column), bool)
        self.values = None if self.kind is None else \
            _as_array(column, self.kind, fill=nulls)

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


_PLACEHOLDERS: dict[type, PyValue] = {bool: False, int: 0, float: 0.0, str: ""}
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
