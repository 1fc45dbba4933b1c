"""Turn `--param NAME=VALUE` command-line text into typed query parameters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from node.catalogue import CATALOGUE, DESCRIBE, ParamSpec
from trust.errors import MalformedRequestError
from trust.wire import PyValue

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
        raise MalformedRequestError(f"parameter {spec.name!r} must be a {spec.type}, got {text!r}")
    if spec.type == "flag":
        if text.lower() not in _TRUE | _FALSE:
            raise MalformedRequestError(f"parameter {spec.name!r} must be true or false")
        return text.lower() in _TRUE
    if spec.type == "text_list":
        return _list(text)
    return text


def parse_params(query_name: str, items: Sequence[str]) -> dict[str, PyValue]:
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
    params: dict[str, PyValue] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in known:
            raise MalformedRequestError(
                f"--param {item!r}: expected NAME=VALUE with NAME one of: {', '.join(known)}"
            )
        params[name] = _convert(known[name], text)
    return params
