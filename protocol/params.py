"""What a query's typed parameters accept: the checks behind every parameter type.

A node checks every request with ``validate_params`` before it runs anything.
Patterns must match a whole value (``fullmatch``): ``$`` alone would let a
trailing newline through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import cast

from fedtrade.protocol.limits import HOUSE_BILL, MAX_TEXT_PARAM_CHARS
from fedtrade.protocol.patterns import every_fullmatch, longest_match
from fedtrade.protocol.spec import SHIPMENT_FIELDS, ParamSpec, QuerySpec
from fedtrade.protocol.tables import PyValue
from fedtrade.trust.errors import MalformedRequestError

__all__ = ["validate_params"]


def _bad(spec: ParamSpec, problem: str) -> MalformedRequestError:
    return MalformedRequestError(f"parameter {spec.name!r}: {problem}")


def _check_text(spec: ParamSpec, value: str) -> str:
    if len(value) > MAX_TEXT_PARAM_CHARS:
        raise _bad(spec, f"a text of {len(value)} characters exceeds the limit of "
                         f"{MAX_TEXT_PARAM_CHARS}")
    if spec.pattern is not None and not spec.pattern.fullmatch(value):
        raise _bad(spec, f"{value[:40]!r} does not match {spec.pattern.pattern}")
    return value


def _texts(values: list[PyValue]) -> list[str] | None:
    """``values`` if every one is a str (checked in C: a batch holds thousands), else None."""
    return cast(list[str], values) if set(map(type, values)) <= {str} else None


def _short_enough(spec: ParamSpec, texts: list[str]) -> bool:
    """Whether no text is over the limit, or the pattern fullmatches none that is (then
    ``every_fullmatch`` checks the lengths: it sees no text over the limit through)."""
    longest = None if spec.pattern is None else longest_match(spec.pattern)
    return (longest is not None and longest <= MAX_TEXT_PARAM_CHARS) or \
        max(map(len, texts), default=0) <= MAX_TEXT_PARAM_CHARS


def _check_texts(spec: ParamSpec, values: list[PyValue]) -> list[PyValue]:
    texts = _texts(values)
    if texts is not None and _short_enough(spec, texts) and (
            spec.pattern is None or every_fullmatch(spec.pattern, texts)):
        return values
    if not all(isinstance(v, str) for v in values):
        raise _bad(spec, "must be a list of text values")
    return [_check_text(spec, v) for v in values if isinstance(v, str)]  # names the first


def _check_list(spec: ParamSpec, value: PyValue) -> list[PyValue]:
    if not isinstance(value, list):
        raise _bad(spec, "must be a list")
    if not 1 <= len(value) <= spec.max_items:
        raise _bad(spec, f"takes 1 to {spec.max_items} values, got {len(value)}")
    return value


def _check_shipments(spec: ParamSpec, value: PyValue) -> dict[str, list[PyValue]]:
    """A batch arrives as a table with one column, house_bill; the declared_value_usd and
    hs6 columns are left empty for the node to fill from the attested lines."""
    if not isinstance(value, dict) or "house_bill" not in value:
        raise _bad(spec, "must be a table with a house_bill column")
    unknown = sorted(set(value) - set(SHIPMENT_FIELDS))
    if unknown:
        raise _bad(spec, f"unknown column {unknown[0]!r}; a batch has only house_bill: "
                         "reference values come from the attested manifest lines")
    bills = _check_list(spec, value["house_bill"])
    texts = _texts(bills)
    if texts is None or not every_fullmatch(HOUSE_BILL, texts):  # name the first
        for bill in bills:
            if not isinstance(bill, str) or not HOUSE_BILL.fullmatch(bill):
                raise _bad(spec, f"house_bill {str(bill)[:40]!r} must be 4-35 uppercase "
                                 "letters/digits")
    if len(set(bills)) != len(bills):
        raise _bad(spec, "lists a house bill twice")
    empty: list[PyValue] = [None] * len(bills)
    return {"house_bill": bills, "declared_value_usd": empty, "hs6": list(empty)}


def _check_one(spec: ParamSpec, value: PyValue) -> PyValue:
    match spec.type:
        case "text_list":
            return _check_texts(spec, _check_list(spec, value))
        case "choice_list":
            items = _check_list(spec, value)
            bad = [v for v in items if v not in spec.choices]
            if bad or len(set(map(str, items))) != len(items):
                raise _bad(spec, f"takes distinct values from: {', '.join(spec.choices)}")
            return items
        case "shipments":
            return _check_shipments(spec, value)
        case "date":
            if not isinstance(value, str):
                raise _bad(spec, "must be a date YYYY-MM-DD")
            try:
                date.fromisoformat(value)
            except ValueError:
                raise _bad(spec, f"{value[:20]!r} is not a date YYYY-MM-DD") from None
            return value
        case "text":
            if not isinstance(value, str):
                raise _bad(spec, "must be text")
            return _check_text(spec, value)
        case "flag":
            if not isinstance(value, bool):
                raise _bad(spec, "must be true or false")
            return value
        case "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _bad(spec, "must be an integer")
            return value
        case "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(spec, "must be a number")
            return value
    raise AssertionError(spec.type)


def validate_params(spec: QuerySpec, params: Mapping[str, PyValue]) -> dict[str, PyValue]:
    """Check parameters against the query's declaration; raise MalformedRequestError."""
    known = {p.name: p for p in spec.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise MalformedRequestError(
            f"query {spec.name!r} has no parameter {unknown[0]!r}; "
            f"it takes: {', '.join(known) or 'no parameters'}"
        )
    checked: dict[str, PyValue] = {}
    for p in spec.params:
        value = params.get(p.name)
        if value is None:
            if p.required:
                raise MalformedRequestError(f"query {spec.name!r} needs parameter {p.name!r}")
            continue
        checked[p.name] = _check_one(p, value)
    return checked
