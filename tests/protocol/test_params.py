"""What a coordinator encodes, a node decodes and accepts unchanged; bad parameters are refused."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.limits import HOUSE_BILL, MAX_TEXT_PARAM_CHARS
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.spec import ParamSpec, QuerySpec
from fedtrade.protocol.tables import PyValue
from fedtrade.protocol.wire import from_value, table_value, to_value
from fedtrade.protos import query_pb2
from fedtrade.trust.errors import MalformedRequestError

DAYS = st.dates().map(lambda d: d.isoformat())


def matching(spec: ParamSpec) -> st.SearchStrategy[str]:
    return st.text() if spec.pattern is None else st.from_regex(spec.pattern, fullmatch=True)


def shipments(max_size: int = 20) -> st.SearchStrategy[dict[str, list[PyValue]]]:
    bills = st.lists(st.from_regex(HOUSE_BILL, fullmatch=True), min_size=1, max_size=max_size,
                     unique=True)

    # on the wire a batch is house bills only: reference values come from attested lines
    return bills.map(lambda house_bills: {"house_bill": list[PyValue](house_bills)})


def valid(spec: ParamSpec) -> st.SearchStrategy[PyValue]:
    match spec.type:
        case "shipments":
            return shipments()
        case "date":
            return DAYS
        case "text":
            return matching(spec)
        case "text_list":
            return st.lists(matching(spec), min_size=1, max_size=min(spec.max_items, 20))
        case "choice_list":
            return st.lists(st.sampled_from(spec.choices), min_size=1, unique=True)
        case "flag":
            return st.booleans()
        case "integer":
            return st.integers(min_value=-(2**63), max_value=2**63 - 1)
        case "number":
            return st.floats(allow_nan=False, allow_infinity=False)
    raise AssertionError(spec.type)


@st.composite
def requests(draw: st.DrawFn) -> tuple[QuerySpec, dict[str, PyValue]]:
    spec = draw(st.sampled_from(list(CATALOGUE.values())))
    params = {p.name: draw(valid(p)) for p in spec.params if p.required or draw(st.booleans())}
    return spec, params


def over_the_wire(params: Mapping[str, PyValue]) -> dict[str, PyValue]:
    """Encode as the coordinator does (batches as tables), sign-ready bytes, decode as a node."""
    query = query_pb2.Query(params={
        name: table_value(value) if isinstance(value, dict) else to_value(value)
        for name, value in params.items()
    })
    received = query_pb2.Query.FromString(query.SerializeToString(deterministic=True))
    return {name: from_value(value) for name, value in received.params.items()}


@given(requests())
def test_every_valid_request_crosses_the_wire_and_is_accepted_unchanged(
    request: tuple[QuerySpec, dict[str, PyValue]],
) -> None:
    spec, params = request
    checked = validate_params(spec, over_the_wire(params))
    # the node fills a batch's reference columns from the attestation: validation leaves
    # them empty
    assert checked == {
        name: {**value, "declared_value_usd": [None] * len(value["house_bill"]),
               "hs6": [None] * len(value["house_bill"])} if isinstance(value, dict) else value
        for name, value in params.items()
    }
    batch = next((params.get(p.name, []) for p in spec.params if p.batch), [])  # optional
    if isinstance(batch, dict):
        batch = batch["house_bill"]
    assert isinstance(batch, list)
    assert spec.batch_size(checked) == len(batch)


def refused(spec: QuerySpec, params: Mapping[str, PyValue], reason: str) -> None:
    with pytest.raises(MalformedRequestError, match=reason):
        validate_params(spec, over_the_wire(params))


INDICATORS = CATALOGUE["shipment_indicators"]
KNOWN = CATALOGUE["shipment_known"]
STATISTICS = CATALOGUE["trade_statistics"]
WINDOW: dict[str, PyValue] = {"date_from": "2025-01-01", "date_to": "2025-01-31"}


@pytest.mark.parametrize(
    ("spec", "params", "reason"),
    [
        (KNOWN, {"house_bills": ["HB0001"], "extra": 1}, "has no parameter 'extra'"),
        (KNOWN, {}, "needs parameter 'house_bills'"),
        (KNOWN, {"house_bills": ["HB0001\n"]}, "does not match"),
        (KNOWN, {"house_bills": ["hb0001"]}, "does not match"),
        (KNOWN, {"house_bills": [str(n).zfill(6) for n in range(10_001)]}, "takes 1 to 10000"),
        (KNOWN, {"house_bills": "HB0001"}, "must be a list"),
        (INDICATORS, {"shipments": {"house_bill": ["HB0001", "HB0001"]}}, "house bill twice"),
        (INDICATORS, {"shipments": {"house_bill": ["HB0001\n"]}}, "4-35 uppercase"),
        # typed reference values are refused: nodes compare against attested lines only
        (INDICATORS, {"shipments": {"house_bill": ["HB0001"], "hs6": ["610910"]}},
         "unknown column 'hs6'"),
        (INDICATORS, {"shipments": {"house_bill": ["HB0001"], "declared_value_usd": [1.0]}},
         "unknown column 'declared_value_usd'"),
        (INDICATORS, {"shipments": {"house_bill": ["HB0001"], "paid": [1.0]}},
         "unknown column 'paid'"),
        (INDICATORS, {"shipments": ["HB0001"]}, "must be a table"),
        (STATISTICS, {**WINDOW, "group_by": ["week", "week"]}, "takes distinct values"),
        (STATISTICS, {**WINDOW, "group_by": ["seller"]}, "takes distinct values"),
        (STATISTICS, {"group_by": ["week"], "date_from": "2025-02-30", "date_to": "2025-03-01"},
         "not a date"),
        (STATISTICS, {**WINDOW, "group_by": ["week"], "origin": "CN\n"}, "does not match"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(
    spec: QuerySpec, params: dict[str, PyValue], reason: str
) -> None:
    refused(spec, params, reason)


SCALARS = QuerySpec(
    name="scalars", description="", roles=frozenset({"carrier"}), key_columns=(),
    output_fields=(), disclosure="aggregate",
    params=(ParamSpec("n", "integer", ""), ParamSpec("x", "number", ""),
            ParamSpec("f", "flag", "")),
)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"n": True, "x": 1.0, "f": True}, "'n': must be an integer"),
        ({"n": 1.5, "x": 1.0, "f": True}, "'n': must be an integer"),
        ({"n": 1, "x": False, "f": True}, "'x': must be a number"),
        ({"n": 1, "x": "1", "f": True}, "'x': must be a number"),
        ({"n": 1, "x": 1, "f": 1}, "'f': must be true or false"),
    ],
)
def test_scalars_keep_their_kind(params: dict[str, PyValue], reason: str) -> None:
    refused(SCALARS, params, reason)


def _one_by_one(spec: ParamSpec, items: list[PyValue]) -> list[PyValue] | str:
    """The text list check item by item (before it ran in C), as a value or a refusal."""
    if not all(isinstance(v, str) for v in items):
        return f"parameter {spec.name!r}: must be a list of text values"
    for v in items:
        assert isinstance(v, str)
        if len(v) > MAX_TEXT_PARAM_CHARS:
            return (f"parameter {spec.name!r}: a text of {len(v)} characters exceeds the limit "
                    f"of {MAX_TEXT_PARAM_CHARS}")
        if spec.pattern is not None and not spec.pattern.fullmatch(v):
            return f"parameter {spec.name!r}: {v[:40]!r} does not match {spec.pattern.pattern}"
    return items


_ITEMS = st.one_of(st.from_regex(HOUSE_BILL, fullmatch=True),
                   st.sampled_from(["hb0001", "HB0001\n", "HB1", "X" * 600, "", "\n",
                                    "HB0001\nHB0002", "\nHB0003", "HB000\uff14", "X" * 36]),
                   st.integers(0, 9), st.none())


@settings(deadline=None)
@given(st.lists(_ITEMS, min_size=1, max_size=8))
def test_text_lists_are_checked_as_one_by_one(items: list[PyValue]) -> None:
    spec = CATALOGUE["shipment_known"]
    got: PyValue
    try:
        got = validate_params(spec, {"house_bills": items})["house_bills"]
    except MalformedRequestError as exc:
        got = str(exc)
    assert got == _one_by_one(spec.params[0], items)


# text lists with no pattern, one bounding a text's length within the limit (checked by
# the pattern alone), one whose texts may be longer than the limit, one of another kind
_TEXT_LISTS = [ParamSpec("texts", "text_list", "", pattern=pattern) for pattern in (
    None, HOUSE_BILL, re.compile(r"^[A-Z0-9]{1,300}$"), re.compile(r"^(?:X|HB)[0-9A-Z]*$"))]


@settings(deadline=None)
@given(st.sampled_from(_TEXT_LISTS),
       st.lists(st.one_of(_ITEMS, st.sampled_from(["X" * 256, "X" * 257, "X" * 300])),
                min_size=1, max_size=8))
def test_text_lists_of_any_pattern_are_checked_as_one_by_one(spec: ParamSpec,
                                                            items: list[PyValue]) -> None:
    query = QuerySpec(name="texts", description="", roles=frozenset({"carrier"}), key_columns=(),
                      output_fields=(), disclosure="aggregate", params=(spec,))
    got: PyValue
    try:
        got = validate_params(query, {"texts": items})["texts"]
    except MalformedRequestError as exc:
        got = str(exc)
    assert got == _one_by_one(spec, items)


@settings(deadline=None)
@given(st.lists(_ITEMS, min_size=1, max_size=8, unique_by=str))
def test_batches_name_the_first_bad_house_bill(items: list[PyValue]) -> None:
    bad = [v for v in items if not isinstance(v, str) or not HOUSE_BILL.fullmatch(v)]
    spec = CATALOGUE["shipment_indicators"]
    batch = {"shipments": {"house_bill": items}}
    if not bad:
        checked = validate_params(spec, batch)["shipments"]
        assert isinstance(checked, dict)
        assert checked["house_bill"] == items
        return
    with pytest.raises(MalformedRequestError) as caught:
        validate_params(spec, batch)
    assert f"house_bill {str(bad[0])[:40]!r} must be" in str(caught.value)
