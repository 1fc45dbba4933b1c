"""How a catalogue query is declared, and how its parameters are checked.

A requester names a query and passes typed parameters; it never sends SQL or
code. Each query declares who answers it, its parameters, its output fields
and its disclosure class, and runs parameterized SQL on a read-only
connection, computing only the output fields the requester may see.
"""

from __future__ import annotations

import itertools
import math
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from fedtrade.node.queries.settings import QuerySettings
from fedtrade.trust.errors import MalformedRequestError
from fedtrade.trust.wire import PyValue

__all__ = [
    "HOUSE_BILL",
    "SHIPMENT_FIELDS",
    "Disclosure",
    "Execution",
    "ParamSpec",
    "QuerySpec",
    "ResultTable",
    "band",
    "validate_params",
]

ParamType = Literal[
    "text", "integer", "number", "flag", "date", "text_list", "choice_list", "shipments"
]
Disclosure = Literal["per_shipment", "aggregate", "linkage"]
HOUSE_BILL = re.compile(r"^[A-Z0-9]{4,20}$")
_HS6 = re.compile(r"^[0-9]{6}$")
# What CBP already holds from the manifest, sent as reference values with each shipment.
SHIPMENT_FIELDS: Mapping[str, str] = {
    "house_bill": "text",
    "declared_value_usd": "number",
    "hs6": "text",
}


@dataclass(frozen=True)
class ResultTable:
    columns: tuple[str, ...]
    rows: Sequence[tuple[PyValue, ...]]


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType
    description: str
    required: bool = True
    max_items: int = 10_000
    pattern: re.Pattern[str] | None = None
    choices: tuple[str, ...] = ()
    # Whether its items count as shipments for max_batch and the shipment rate limit.
    batch: bool = False


@dataclass(frozen=True)
class Execution:
    """Everything a query needs to run: validated input, the fields to compute, settings."""

    conn: sqlite3.Connection
    role: str
    params: Mapping[str, PyValue]
    fields: tuple[str, ...]
    query_id: bytes
    settings: QuerySettings
    # Privacy loss an aggregate answer may spend (from the requester's grant); None otherwise.
    epsilon: float | None = None


@dataclass(frozen=True)
class QuerySpec:
    name: str
    description: str
    roles: frozenset[str]
    params: tuple[ParamSpec, ...]
    # Always in the answer (e.g. the house bill asked about and whether it is known).
    key_columns: tuple[str, ...]
    # Grantable output fields; a requester sees only those its grant lists.
    output_fields: tuple[str, ...]
    disclosure: Disclosure
    run: Callable[[Execution], ResultTable]
    # Output fields only some roles can compute; others are absent from the answer.
    role_fields: Mapping[str, tuple[str, ...]] | None = None

    def fields_for(self, role: str) -> tuple[str, ...]:
        if self.role_fields is None:
            return self.output_fields
        return self.role_fields.get(role, ())

    def batch_size(self, params: Mapping[str, PyValue]) -> int:
        """Shipments in this request: the length of its batch parameter, 0 if it has none."""
        for p in self.params:
            value = params.get(p.name)
            if p.batch and isinstance(value, dict):
                return len(value["house_bill"])
            if p.batch and isinstance(value, list):
                return len(value)
        return 0

    def max_batch(self) -> int:
        return max((p.max_items for p in self.params if p.batch), default=0)


def band(value: float | None, edges: Sequence[float], unit: str = "") -> str | None:
    """Label ``value`` with the band it falls in, e.g. edges (1, 2) -> '<1', '1-2', '>=2'."""
    if value is None:
        return None
    if value < edges[0]:
        return f"<{edges[0]:g}{unit}"
    for low, high in itertools.pairwise(edges):
        if value < high:
            return f"{low:g}-{high:g}{unit}"
    return f">={edges[-1]:g}{unit}"


def _bad(spec: ParamSpec, problem: str) -> MalformedRequestError:
    return MalformedRequestError(f"parameter {spec.name!r}: {problem}")


def _check_text(spec: ParamSpec, value: str) -> str:
    if spec.pattern is not None and not spec.pattern.match(value):
        raise _bad(spec, f"{value[:40]!r} does not match {spec.pattern.pattern}")
    return value


def _check_list(spec: ParamSpec, value: PyValue) -> list[PyValue]:
    if not isinstance(value, list):
        raise _bad(spec, "must be a list")
    if not 1 <= len(value) <= spec.max_items:
        raise _bad(spec, f"takes 1 to {spec.max_items} values, got {len(value)}")
    return value


def _check_shipments(spec: ParamSpec, value: PyValue) -> dict[str, list[PyValue]]:
    """A batch arrives as a table: equal-length columns house_bill, declared_value_usd, hs6."""
    if not isinstance(value, dict) or "house_bill" not in value:
        raise _bad(
            spec,
            "must be a table with a house_bill column (and optional "
            "declared_value_usd and hs6 columns)",
        )
    unknown = sorted(set(value) - set(SHIPMENT_FIELDS))
    if unknown:
        raise _bad(spec, f"unknown column {unknown[0]!r}; columns: {', '.join(SHIPMENT_FIELDS)}")
    bills = _check_list(spec, value["house_bill"])
    rows = len(bills)
    columns: dict[str, list[PyValue]] = {"house_bill": bills}
    for bill in bills:
        if not isinstance(bill, str) or not HOUSE_BILL.match(bill):
            raise _bad(spec, f"house_bill {str(bill)[:40]!r} must be 4-20 uppercase letters/digits")
    if len(set(bills)) != rows:
        raise _bad(spec, "lists a house bill twice")
    for name in ("declared_value_usd", "hs6"):
        column = value.get(name)
        if column is None:
            columns[name] = [None] * rows
            continue
        if not isinstance(column, list) or len(column) != rows:
            raise _bad(spec, f"column {name!r} must have one value per house bill")
        columns[name] = column
    for bill, amount in zip(bills, columns["declared_value_usd"], strict=True):
        if amount is not None and (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not math.isfinite(amount)
            or amount < 0
        ):
            raise _bad(spec, f"declared_value_usd of {bill} must be a number >= 0")
    for bill, hs6 in zip(bills, columns["hs6"], strict=True):
        if hs6 is not None and (not isinstance(hs6, str) or not _HS6.match(hs6)):
            raise _bad(spec, f"hs6 of {bill} must be 6 digits")
    return columns


def _check_one(spec: ParamSpec, value: PyValue) -> PyValue:
    match spec.type:
        case "text_list":
            items = _check_list(spec, value)
            if not all(isinstance(v, str) for v in items):
                raise _bad(spec, "must be a list of text values")
            return [_check_text(spec, v) for v in items if isinstance(v, str)]
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
