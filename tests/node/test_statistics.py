"""trade_statistics on real stores of a synthetic world, checked against independent SQL."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution, ResultTable
from fedtrade.node.store import import_path
from fedtrade.protocol.catalogue import CATALOGUE, TOTAL
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.synth import generate
from fedtrade.trust.errors import MalformedRequestError
from tests.node.test_disclosure import slices

SPEC = CATALOGUE["trade_statistics"]
ROLES = ("carrier", "broker", "marketplace")
WINDOW = {"date_from": "2024-12-20", "date_to": "2025-01-20"}
BOTH = ("shipments", "value_usd")

# Per role, independently of the query: day, chapter, origin, shipment, amount, currency.
TRUTH_SQL = {
    "carrier": """SELECT substr(m.eta, 1, 10), substr(h.hs6, 1, 2), h.origin_country,
                         h.house_bill, h.declared_value, h.currency
                  FROM house_bills h JOIN masters m ON m.mawb = h.mawb""",
    "broker": """SELECT e.estimated_arrival, substr(l.hts10, 1, 2), l.origin_country,
                        e.entry_number, l.value_usd, 'USD'
                 FROM entry_lines l JOIN entries e ON e.entry_number = l.entry_number""",
    "marketplace": """SELECT substr(f.shipped_at, 1, 10), substr(li.hs6_hint, 1, 2),
                             li.origin_country, o.order_id, ol.amount_paid, o.currency
                      FROM fulfillments f JOIN orders o ON o.order_id = f.order_id
                      JOIN order_lines ol ON ol.order_id = o.order_id
                      JOIN listings li ON li.listing_id = ol.listing_id
                      WHERE li.hs6_hint IS NOT NULL""",
}


@dataclass
class Expected:
    shipments: set[str] = field(default_factory=set)
    value: float = 0.0


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, Path]:
    root = tmp_path_factory.mktemp("statistics")
    generate(root / "world", shipments=3000, seed=5, progress=False)
    paths = {}
    for role in ROLES:
        paths[role] = root / f"{role}.db"
        import_path(paths[role], role, None, root / "world" / role, progress=False)
    return paths


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def run(path: Path, role: str, params: Mapping[str, PyValue], fields: tuple[str, ...] = BOTH,
        trace: list[str] | None = None) -> ResultTable:
    conn = read_only(path)
    if trace is not None:
        conn.set_trace_callback(trace.append)
    try:
        checked = validate_params(SPEC, {**WINDOW, **params})
        return RUNS[SPEC.name](Execution(conn, role, checked, fields, b"q" * 16, QuerySettings()))
    finally:
        conn.close()


def expected(path: Path, role: str, groups: Sequence[str],
             **filters: str) -> dict[tuple[str, ...], Expected]:
    rates = QuerySettings().currency_per_usd
    first, last = (date.fromisoformat(WINDOW[k]) for k in ("date_from", "date_to"))
    cells: dict[tuple[str, ...], Expected] = defaultdict(Expected)
    conn = read_only(path)
    try:
        for day, chapter, origin, shipment, amount, currency in conn.execute(TRUTH_SQL[role]):
            when = date.fromisoformat(day)
            if not first <= when <= last or currency not in rates:
                continue
            year, week, _ = when.isocalendar()
            values = {"hs_chapter": chapter, "origin": origin, "week": f"{year}-W{week:02d}"}
            if any(values[name] != wanted for name, wanted in filters.items()):
                continue
            for key in (tuple(values[g] for g in groups), (TOTAL,) * len(groups)):
                cells[key].shipments.add(shipment)
                cells[key].value += amount / rates[currency]
    finally:
        conn.close()
    return cells


def by_key(table: ResultTable, width: int) -> dict[tuple[str, ...], dict[str, PyValue]]:
    return {tuple(str(v) for v in row[:width]): dict(zip(table.columns, row, strict=True))
            for row in table.rows}


@pytest.mark.parametrize("role", ROLES)
def test_cells_match_independent_sql(stores: Mapping[str, Path], role: str) -> None:
    groups = ["week", "hs_chapter"]
    table = run(stores[role], role, {"group_by": groups})
    assert table.columns == ("week", "hs_chapter", "shipments", "value_usd", "suppressed",
                             "reason")
    assert table.rows[-1][:2] == (TOTAL, TOTAL)
    truth = expected(stores[role], role, groups)
    answer = by_key(table, 2)
    assert set(answer) == set(truth)
    # 2024-12-30 and -31 are in ISO week 1 of 2025.
    assert {"2024-W52", "2025-W01", "2025-W02"} <= {k[0] for k in answer}
    visible = [k for k, row in answer.items() if not row["suppressed"]]
    assert len(visible) > 1
    assert len(visible) < len(answer)
    for key in visible:
        assert answer[key]["shipments"] == len(truth[key].shipments), key
        assert answer[key]["value_usd"] == pytest.approx(truth[key].value, abs=0.006), key
        assert answer[key]["reason"] == ""


def test_small_cells_are_suppressed_not_zeroed(stores: Mapping[str, Path]) -> None:
    groups = ["hs_chapter", "origin"]
    answer = by_key(run(stores["broker"], "broker", {"group_by": groups}), 2)
    truth = expected(stores["broker"], "broker", groups)
    small = [k for k, cell in truth.items() if len(cell.shipments) < 10]
    assert small
    for key in small:
        assert answer[key] == {"hs_chapter": key[0], "origin": key[1], "shipments": None,
                               "value_usd": None, "suppressed": True, "reason": "threshold"}
        assert truth[key].shipments


def test_grand_total_counts_each_shipment_once(stores: Mapping[str, Path]) -> None:
    for role in ROLES:
        total = by_key(run(stores[role], role, {"group_by": ["origin"]}), 1)[(TOTAL,)]
        truth = expected(stores[role], role, ["origin"])[(TOTAL,)]
        assert not total["suppressed"]
        assert total["shipments"] == len(truth.shipments)
        assert total["value_usd"] == pytest.approx(truth.value, abs=0.006)


def test_only_granted_fields_are_computed(stores: Mapping[str, Path]) -> None:
    trace: list[str] = []
    table = run(stores["carrier"], "carrier", {"group_by": ["origin"]}, ("shipments",), trace)
    assert table.columns == ("origin", "shipments", "suppressed", "reason")
    assert trace
    assert not any("declared_value" in statement for statement in trace)
    assert "dominance" not in {row[-1] for row in table.rows}

    trace.clear()
    table = run(stores["carrier"], "carrier", {"group_by": ["origin"]}, ("value_usd",), trace)
    assert table.columns == ("origin", "value_usd", "suppressed", "reason")
    assert any("declared_value" in statement for statement in trace)


def test_filters_restrict_the_population(stores: Mapping[str, Path]) -> None:
    table = run(stores["broker"], "broker",
                {"group_by": ["week"], "origin": "CN", "hs_chapter": "85"})
    truth = expected(stores["broker"], "broker", ["week"], origin="CN", hs_chapter="85")
    answer = by_key(table, 1)
    assert set(answer) == set(truth)
    assert answer[(TOTAL,)]["shipments"] == len(truth[(TOTAL,)].shipments)


def test_narrow_filters_are_refused(stores: Mapping[str, Path]) -> None:
    truth = expected(stores["carrier"], "carrier", ["hs_chapter", "origin"])
    few = next(k for k, cell in truth.items() if k[0] != TOTAL and len(cell.shipments) < 10)
    with pytest.raises(MalformedRequestError, match="too narrow"):
        run(stores["carrier"], "carrier",
            {"group_by": ["week"], "hs_chapter": few[0], "origin": few[1]})

    conn = read_only(stores["carrier"])
    try:
        one_shipper = conn.execute(
            "SELECT origin_country FROM house_bills GROUP BY origin_country "
            "HAVING count(DISTINCT shipper_name) = 1 AND count(*) >= 10").fetchone()
    finally:
        conn.close()
    assert one_shipper is not None
    with pytest.raises(MalformedRequestError, match="too narrow"):
        run(stores["carrier"], "carrier", {"group_by": ["week"], "origin": one_shipper[0]})

    with pytest.raises(MalformedRequestError, match="too narrow"):
        run(stores["broker"], "broker",
            {"group_by": ["week"], "date_from": "2030-01-01", "date_to": "2030-01-31"})


@pytest.mark.parametrize("role", ROLES)
def test_no_slice_has_exactly_one_suppressed_cell(stores: Mapping[str, Path], role: str) -> None:
    table = run(stores[role], role, {"group_by": ["hs_chapter", "origin", "week"]})
    answer = by_key(table, 3)
    total = answer.pop((TOTAL,) * 3)
    hidden = {k for k, row in answer.items() if row["suppressed"]}
    assert hidden
    assert {row["reason"] for row in answer.values()} >= {"threshold", "complementary"}
    for members in slices(list(answer)):
        assert len(members) == 1 or sum(k in hidden for k in members) != 1, members
    assert total["suppressed"] is False


@pytest.mark.parametrize(("params", "problem"), [
    ({"date_from": "2024-01-01", "date_to": "2024-04-02"}, "at most 92 days"),
    ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "before date_from"),
    ({"origin": "XX"}, "not an ISO 3166-1"),
    ({"origin": "cn"}, "does not match"),
    ({"hs_chapter": "00"}, "does not match"),
    ({"hs_chapter": "5"}, "does not match"),
    ({"group_by": ["week", "week"]}, "distinct values"),
    ({"group_by": ["consignee"]}, "distinct values"),
    ({"group_by": []}, "takes 1 to 3"),
])
def test_bad_parameters_are_refused(stores: Mapping[str, Path], params: dict[str, PyValue],
                                    problem: str) -> None:
    with pytest.raises(MalformedRequestError, match=problem):
        run(stores["carrier"], "carrier", {"group_by": ["week"], **params})


def test_longest_window_is_accepted(stores: Mapping[str, Path]) -> None:
    table = run(stores["carrier"], "carrier",
                {"group_by": ["week"], "date_from": "2024-10-20", "date_to": "2025-01-19"})
    assert table.rows[-1][0] == TOTAL
