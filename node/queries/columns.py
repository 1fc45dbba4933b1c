"""Indicator conversions a whole column at a time (numpy, in C).

A batch answer turns the raw evidence of thousands of parcels into bands,
flags and match depths. Calling a Python function per cell cost more than the
SQL that found the parcels, so each conversion here takes the raw columns and
returns the answer's column. Each equals the per-value reference in
``node.queries.shipments`` (tests/node/test_indicator_columns.py holds them to
it); a column whose values are not of the kind the fast path handles (for
example a negative count) returns None and the caller uses the reference.
Each returns a new list, which the caller may change.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import is_
from typing import cast

import numpy as np

from fedtrade.node.queries.settings import QuerySettings
from fedtrade.protocol.tables import PyValue

__all__ = [
    "Column",
    "age_bands",
    "band_labels",
    "count_band_labels",
    "declared_paids",
    "depths",
    "entity_hits",
    "entry_declareds",
    "flags",
    "labelled",
    "linked_bands",
    "numbers",
    "plains",
]

Column = Sequence[PyValue]


# Not cached: 0.0 and -0.0 are one cache key but two labels ("0" and "-0").
def band_labels(edges: tuple[float, ...], unit: str = "") -> tuple[str, ...]:
    """The label of each band, by the number of edges at or below the value."""
    return (f"<{edges[0]:g}{unit}",
            *(f"{low:g}-{high:g}{unit}" for low, high in itertools.pairwise(edges)),
            f">={edges[-1]:g}{unit}")


@functools.lru_cache(maxsize=64)
def count_band_labels(edges: tuple[int, ...]) -> tuple[str, ...]:
    """Labels for counts >= 0: '0' (or '<n'), '1', '2-4', '5+' for edges (1, 2, 5)."""
    return ("0" if edges[0] == 1 else f"<{edges[0]}",
            *(str(low) if high == low + 1 else f"{low}-{high - 1}"
              for low, high in itertools.pairwise(edges)),
            f"{edges[-1]}+")


_NUMBERS = frozenset({int, bool, float})
_EXACT = 2**53  # integers up to this convert to float64 exactly, as Python's float() does


def numbers(column: Column, *, integers: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """The column as float64 values and a mask of its nulls; None when it holds anything but
    numbers (integers only, with ``integers``) and nulls, or integers float64 cannot hold
    exactly (booleans count as numbers, as isinstance says)."""
    kinds = set(map(type, column))
    if not kinds - {type(None)} <= (_NUMBERS - {float} if integers else _NUMBERS):
        return None
    values = np.array(column, dtype=np.float64)  # None becomes NaN, masked by ``nulls``
    if type(None) in kinds:
        nulls = np.fromiter(map(is_, column, repeat(None)), dtype=bool, count=len(column))
        values = np.where(nulls, 0.0, values)
    else:  # most columns: no mask to apply
        nulls = np.zeros(len(column), dtype=bool)
    if int in kinds and len(column) and np.abs(values).max() >= _EXACT:
        return None
    return values, nulls


def labelled(values: np.ndarray, missing: np.ndarray, edges: Sequence[float],
             labels: Sequence[str]) -> list[PyValue]:
    """The label of each value's band (None where missing); edges strictly increasing."""
    index = np.searchsorted(np.asarray(edges, dtype=values.dtype), values, side="right")
    out = np.asarray(labels, dtype=object)[index]
    out[missing] = None
    result: list[PyValue] = out.tolist()
    return result


def _usd(amounts: Column, currencies: Column,
         rates: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray] | None:
    """Amounts in USD (amount / the currency's rate) and where there is none (no amount,
    no currency, or a currency without a rate); None if the amounts are not numbers."""
    parsed = numbers(amounts)
    if parsed is None:
        return None
    values, missing = parsed
    try:  # a store's currencies are text or null: every one is a dict key, found or not
        per_usd = np.fromiter(map(rates.get, cast(Sequence[str], currencies), repeat(np.nan)),
                              dtype=np.float64, count=len(currencies))
    except TypeError:  # an unhashable value has no rate
        per_usd = np.array([rates.get(c, np.nan) if isinstance(c, str) else np.nan
                            for c in currencies], dtype=np.float64)
    missing = missing | np.isnan(per_usd)
    with np.errstate(all="ignore"):
        return values / np.where(missing, 1.0, per_usd), missing


def _ratio(declared: Column, actual: tuple[np.ndarray, np.ndarray] | None,
           edges: Sequence[float]) -> list[PyValue] | None:
    """The band of declared / actual; None where either is missing or actual is 0."""
    parsed = numbers(declared)
    if parsed is None or actual is None:
        return None
    (values, no_value), (usd, no_usd) = parsed, actual
    missing = no_value | no_usd | (usd == 0)
    with np.errstate(all="ignore"):
        ratio = values / np.where(missing, 1.0, usd)
    return labelled(ratio, missing, edges, band_labels(tuple(edges)))


def _depth(codes: Column, references: Column) -> list[PyValue] | None:
    """How many leading HS digits agree (6, 4, 2 or 0), None without both codes."""
    if not set(map(type, codes)) | set(map(type, references)) <= {str, type(None)}:
        return None
    pairs = zip(cast(Sequence[str | None], codes), cast(Sequence[str | None], references),
                strict=True)
    # Most codes equal their reference: one comparison, no slices.
    return [None if code is None or ref is None
            else 6 if code == ref or code[:6] == ref[:6] else 4 if code[:4] == ref[:4]
            else 2 if code[:2] == ref[:2] else 0
            for code, ref in pairs]


# Per field kind: the raw columns of its SQL (node.queries.shipments) to the answer's column.
def flags(raw: Sequence[Column], _settings: QuerySettings) -> list[PyValue]:
    values = raw[0]
    if values.count(None) == 0:
        return list(map(bool, values))
    return [None if value is None else bool(value) for value in values]


def plains(raw: Sequence[Column], _settings: QuerySettings) -> list[PyValue]:
    return list(raw[0])


def age_bands(raw: Sequence[Column], settings: QuerySettings) -> list[PyValue] | None:
    parsed = numbers(raw[0])
    if parsed is None:
        return None
    edges = tuple(float(e) for e in settings.account_age_days)
    return labelled(*parsed, edges, band_labels(edges, "d"))


def linked_bands(raw: Sequence[Column], settings: QuerySettings) -> list[PyValue] | None:
    parsed = numbers(raw[0], integers=True)
    if parsed is None or (parsed[0] < 0).any():  # the reference labels a negative count by itself
        return None
    edges = settings.linked_suspended
    return labelled(*parsed, edges, count_band_labels(edges))


def declared_paids(raw: Sequence[Column], settings: QuerySettings) -> list[PyValue] | None:
    declared, paid, currency = raw
    return _ratio(declared, _usd(paid, currency, settings.currency_per_usd),
                  settings.value_ratio_bands)


def entry_declareds(raw: Sequence[Column], settings: QuerySettings) -> list[PyValue] | None:
    declared, entry_usd = raw
    return _ratio(declared, numbers(entry_usd), settings.value_ratio_bands)


def depths(raw: Sequence[Column], _settings: QuerySettings) -> list[PyValue] | None:
    return _depth(raw[0], raw[1])


def entity_hits(raw: Sequence[Column], settings: QuerySettings) -> list[PyValue]:
    strengths, hits = raw
    threshold = settings.name_match_threshold
    if strengths.count(None) == len(strengths):  # only listed makers (the broker): a flag
        return flags([hits], settings)
    if hits.count(None) == len(hits) and set(map(type, strengths)) <= {float, type(None)}:
        # only name strengths (marketplace, carrier): at or above the threshold
        with np.errstate(invalid="ignore"):
            above = np.array(strengths, dtype=np.float64) >= threshold
        if strengths.count(None) == 0:
            flags_above: list[PyValue] = above.tolist()
            return flags_above
        nulls = np.fromiter(map(is_, strengths, repeat(None)), dtype=bool, count=len(strengths))
        out = np.array(above.tolist(), dtype=object)
        out[nulls] = None
        result: list[PyValue] = out.tolist()
        return result
    return [True if hit else (strength >= threshold if isinstance(strength, float)
                              else None if hit is None else False)
            for strength, hit in zip(strengths, hits, strict=True)]
