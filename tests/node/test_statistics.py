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
from fedtrade.node.queries.settings import DisclosureControls, PrivacySettings, QuerySettings
from fedtrade.node.queries.spec import Execution, ResultTable
from fedtrade.node.store import import_path
from fedtrade.protocol.catalogue import CATALOGUE, TOTAL
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.synth import generate
from fedtrade.trust.errors import MalformedRequestError

SPEC = CATALOGUE["trade_statistics"]
ROLES = ("carrier", "broker", "marketplace")
WINDOW = {"date_from": "2024-12-20", "date_to": "2025-01-20"}
BOTH = ("shipments", "value_usd")
META = ("mechanism", "epsilon", "delta")
FLOOR = 10
# Nearly noiseless (epsilon 1e7) and bounds that never bind on this world: the figures can be
# checked against independent SQL. The privacy of real settings is tested in test_disclosure.
SETTINGS = QuerySettings(
    disclosure=DisclosureControls(min_cell_shipments=FLOOR),
    privacy=PrivacySettings(unit="shipment", shipments_per_unit=1, cells_per_shipment=10,
                            value_cents_per_shipment=10**7, epsilon_per_query=1e7,
                            budget_epsilon=1e8, period_days=30, delta=1e-9))

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
        execution = Execution(conn, role, checked, fields, b"q" * 16, SETTINGS, epsilon=1e7)
        return RUNS[SPEC.name](execution)
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


def number(value: PyValue) -> float:
    assert isinstance(value, int | float)
    return float(value)


def by_key(table: ResultTable, width: int) -> dict[tuple[str, ...], dict[str, PyValue]]:
    return {tuple(str(v) for v in row[:width]): dict(zip(table.columns, row, strict=True))
            for row in table.rows}


@pytest.mark.parametrize("role", ROLES)
def test_cells_match_independent_sql(stores: Mapping[str, Path], role: str) -> None:
    groups = ["week", "hs_chapter"]
    table = run(stores[role], role, {"group_by": groups})
    assert table.columns == ("week", "hs_chapter", "shipments", "shipments_pm95", "value_usd",
                             "value_usd_pm95", "mechanism", "epsilon", "delta")
    assert table.rows[-1][:2] == (TOTAL, TOTAL)
    truth = expected(stores[role], role, groups)
    answer = by_key(table, 2)
    # 2024-12-30 and -31 are in ISO week 1 of 2025.
    assert {"2024-W52", "2025-W01", "2025-W02"} <= {k[0] for k in answer}
    # a cell is released exactly when its (here nearly noiseless) count clears the threshold
    assert set(answer) == {k for k, cell in truth.items()
                           if len(cell.shipments) >= FLOOR or k[0] == TOTAL}
    assert len(answer) < len(truth)
    for key, row in answer.items():
        assert row["shipments"] == len(truth[key].shipments), key
        # five 95 % half-widths: missed with probability 0.05 ** 5 per cell
        assert row["value_usd"] == pytest.approx(truth[key].value,
                                                 abs=5 * number(row["value_usd_pm95"]))
        assert row["mechanism"] == "discrete_laplace"


def test_small_cells_are_absent_not_zeroed(stores: Mapping[str, Path]) -> None:
    groups = ["hs_chapter", "origin"]
    answer = by_key(run(stores["broker"], "broker", {"group_by": groups}), 2)
    truth = expected(stores["broker"], "broker", groups)
    small = [k for k, cell in truth.items() if len(cell.shipments) < FLOOR]
    assert small
    assert not set(small) & set(answer)


def test_grand_total_counts_each_shipment_once(stores: Mapping[str, Path]) -> None:
    for role in ROLES:
        total = by_key(run(stores[role], role, {"group_by": ["origin"]}), 1)[(TOTAL,)]
        truth = expected(stores[role], role, ["origin"])[(TOTAL,)]
        assert total["shipments"] == len(truth.shipments)
        assert total["value_usd"] == pytest.approx(truth.value,
                                                   abs=5 * number(total["value_usd_pm95"]))


def test_only_granted_fields_are_computed(stores: Mapping[str, Path]) -> None:
    trace: list[str] = []
    table = run(stores["carrier"], "carrier", {"group_by": ["origin"]}, ("shipments",), trace)
    assert table.columns == ("origin", "shipments", "shipments_pm95", *META)
    assert trace
    assert not any("declared_value" in statement for statement in trace)

    trace.clear()
    table = run(stores["carrier"], "carrier", {"group_by": ["origin"]}, ("value_usd",), trace)
    assert table.columns == ("origin", "value_usd", "value_usd_pm95", *META)
    assert any("declared_value" in statement for statement in trace)


def test_filters_restrict_the_population(stores: Mapping[str, Path]) -> None:
    table = run(stores["broker"], "broker",
                {"group_by": ["week"], "origin": "CN", "hs_chapter": "85"})
    truth = expected(stores["broker"], "broker", ["week"], origin="CN", hs_chapter="85")
    answer = by_key(table, 1)
    assert answer[(TOTAL,)]["shipments"] == len(truth[(TOTAL,)].shipments)


def test_narrow_filters_get_a_noisy_answer_not_a_refusal(stores: Mapping[str, Path]) -> None:
    """A refusal on a true count would tell the requester that the count is small."""
    table = run(stores["broker"], "broker",
                {"group_by": ["week"], "date_from": "2030-01-01", "date_to": "2030-01-31"})
    assert [row[0] for row in table.rows] == [TOTAL]


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
