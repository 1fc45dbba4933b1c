"""Turn `--param NAME=VALUE` command-line text into typed query parameters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fedtrade.coordinator.client import ParamValue
from fedtrade.protocol.catalogue import CATALOGUE, DESCRIBE
from fedtrade.protocol.spec import ParamSpec
from fedtrade.protocol.wire import PyValue, table_value
from fedtrade.protos import query_pb2
from fedtrade.trust.errors import MalformedRequestError

__all__ = ["parse_params"]

_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no"}


def _list(text: str) -> list[str]:
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise MalformedRequestError(f"cannot read {path}: {exc.strerror}") from None
        return [line.strip() for line in lines if line.strip()]
    return [item.strip() for item in text.split(",") if item.strip()]


def _convert(spec: ParamSpec, text: str) -> PyValue:
    try:
        if spec.type == "integer":
            return int(text)
        if spec.type == "number":
            return float(text)
    except ValueError:
        raise MalformedRequestError(
            f"parameter {spec.name!r} must be a {spec.type}, got {text!r}"
        ) from None
    if spec.type == "flag":
        if text.lower() not in _TRUE | _FALSE:
            raise MalformedRequestError(f"parameter {spec.name!r} must be true or false")
        return text.lower() in _TRUE
    if spec.type in ("text_list", "choice_list"):
        return _list(text)
    return text


def _shipments(text: str) -> query_pb2.Value:
    """HOUSE_BILL,HOUSE_BILL,...: reference values come from the attested lines."""
    bills = _list(text)
    typed = [bill for bill in bills if ":" in bill]
    if typed:
        raise MalformedRequestError(
            f"shipment {typed[0]!r}: give house bills only; a node compares against the "
            "declared value and HS6 the filer attested (--attestations FILE)")
    return table_value({"house_bill": bills})


def parse_params(query_name: str, items: Sequence[str]) -> dict[str, ParamValue]:
    """Parse NAME=VALUE items using the catalogue's parameter types."""
    if query_name == DESCRIBE:
        if items:
            raise MalformedRequestError("'describe' takes no parameters")
        return {}
    spec = CATALOGUE.get(query_name)
    if spec is None:
        raise MalformedRequestError(
            f"unknown query {query_name!r}; known: {', '.join(sorted(CATALOGUE))}, describe"
        )
    known = {p.name: p for p in spec.params}
    params: dict[str, ParamValue] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in known:
            raise MalformedRequestError(
                f"--param {item!r}: expected NAME=VALUE with NAME one of: {', '.join(known)}"
            )
        param = known[name]
        params[name] = _shipments(text) if param.type == "shipments" else _convert(param, text)
    return params
