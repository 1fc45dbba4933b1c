"""The fixed catalogue of questions a node can answer.

A requester names a query and passes typed parameters; it never sends SQL or
code. Each query declares who answers it, its parameters, its output fields
and its disclosure class, and runs parameterized SQL on a read-only
connection.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from trust.errors import MalformedRequestError
from trust.wire import PyValue

__all__ = [
    "CATALOGUE",
    "DESCRIBE",
    "ParamSpec",
    "QuerySpec",
    "ResultTable",
    "validate_params",
]

DESCRIBE = "describe"

ParamType = Literal["text", "integer", "number", "flag", "text_list"]
Disclosure = Literal["per_shipment", "aggregate"]
_HOUSE_BILL = re.compile(r"^[A-Z0-9]{4,20}$")


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


Runner = Callable[[sqlite3.Connection, str, Mapping[str, PyValue]], ResultTable]


@dataclass(frozen=True)
class QuerySpec:
    name: str
    description: str
    roles: frozenset[str]
    params: tuple[ParamSpec, ...]
    output_fields: tuple[str, ...]
    disclosure: Disclosure
    run: Runner


_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "number": (int, float),
    "flag": (bool,),
}


def _check_text(spec: ParamSpec, value: str) -> None:
    if spec.pattern is not None and not spec.pattern.match(value):
        raise MalformedRequestError(
            f"parameter {spec.name!r}: {value[:40]!r} does not match {spec.pattern.pattern}"
        )


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
        if p.type == "text_list":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise MalformedRequestError(f"parameter {p.name!r} must be a list of text values")
            if not 1 <= len(value) <= p.max_items:
                raise MalformedRequestError(
                    f"parameter {p.name!r} takes 1 to {p.max_items} values, got {len(value)}"
                )
            for item in value:
                assert isinstance(item, str)
                _check_text(p, item)
        else:
            wanted = _SCALAR_TYPES[p.type]
            if not isinstance(value, wanted) or (p.type != "flag" and isinstance(value, bool)):
                raise MalformedRequestError(f"parameter {p.name!r} must be of type {p.type}")
            if isinstance(value, str):
                _check_text(p, value)
        checked[p.name] = value
    return checked


# Where each role keeps the house bills it knows about.
_HOUSE_BILL_SOURCE = {
    "marketplace": "SELECT 1 FROM fulfillments WHERE house_bill = j.value",
    "carrier": "SELECT 1 FROM house_bills WHERE house_bill = j.value",
    "broker": "SELECT 1 FROM entries WHERE house_bill = j.value",
}


def _shipment_known(conn: sqlite3.Connection, role: str, params: Mapping[str, PyValue]) -> ResultTable:
    # One set-based statement per batch: the house bills travel as one JSON array.
    house_bills = params["house_bills"]
    sql = (
        f"SELECT j.value, EXISTS({_HOUSE_BILL_SOURCE[role]}) "
        "FROM json_each(?) AS j ORDER BY j.key"
    )
    rows = [(hb, bool(known)) for hb, known in conn.execute(sql, (json.dumps(house_bills),))]
    return ResultTable(columns=("house_bill", "known"), rows=rows)


def _catalogue(specs: Sequence[QuerySpec]) -> dict[str, QuerySpec]:
    return {spec.name: spec for spec in specs}


CATALOGUE: Mapping[str, QuerySpec] = _catalogue([
    QuerySpec(
        name="shipment_known",
        description="For each house bill: whether this node holds a record of the shipment.",
        roles=frozenset(_HOUSE_BILL_SOURCE),
        params=(
            ParamSpec("house_bills", "text_list", "house bill numbers to look up",
                      pattern=_HOUSE_BILL),
        ),
        output_fields=("house_bill", "known"),
        disclosure="per_shipment",
        run=_shipment_known,
    ),
])
