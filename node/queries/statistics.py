"""Aggregate trade statistics: shipments and value in USD by HS chapter, origin and ISO week.

One parameterized statement per query groups the node's rows in SQL at two
levels — per cell and contributor (for the dominance rule) and per cell (for
distinct shipment counts) — plus the population total. SQLite groups the
rows of the window in its temporary store; Python folds the streamed groups,
so its memory grows with cells x contributors, never with the table. Only
the output fields the requester may see are computed: without ``value_usd``
no value expression is in the statement, and the dominance rule (which
protects magnitudes) has nothing to protect.

The population is fixed by the parameters alone, never by the fields asked
for, so that answers to different groupings and fields stay consistent with
each other. Rows in a currency the node has no exchange rate for are not part
of it; at a marketplace, order lines whose listing has no HS hint are not
either. A query whose population has fewer than ``min_cell_shipments``
shipments or a single contributor is refused. Cells are protected by
``node.disclosure``: suppressed cells are marked and carry no values. The last
row is the grand total, with ``TOTAL`` in every key column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from fedtrade.node.disclosure import Cell, ProtectedCell, grand_total, protect
from fedtrade.node.queries.spec import Execution, ResultTable, Run
from fedtrade.node.store.iso_codes import COUNTRIES
from fedtrade.protocol.catalogue import TOTAL
from fedtrade.protocol.limits import STATISTICS_MAX_DAYS as MAX_DAYS
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import MalformedRequestError

__all__ = ["STATISTICS_RUNS"]


@dataclass(frozen=True)
class _Source:
    """A role's rows, one per (shipment, line), with the expressions the query needs."""

    rows: str  # FROM ... WHERE ..., restricted to the day window [:start, :stop)
    day: str
    hs_chapter: str
    origin: str
    shipment: str
    contributor: str
    value_usd: str


_SOURCES: Mapping[str, _Source] = {
    "carrier": _Source(
        rows="""FROM masters m
            JOIN house_bills h ON h.mawb = m.mawb
            JOIN json_each(:rates) r ON r.key = h.currency
            WHERE m.eta >= :start AND m.eta < :stop""",
        day="substr(m.eta, 1, 10)", hs_chapter="substr(h.hs6, 1, 2)", origin="h.origin_country",
        shipment="h.house_bill", contributor="h.shipper_name",
        value_usd="h.declared_value / r.value",
    ),
    "broker": _Source(
        rows="""FROM entries e
            JOIN entry_lines el ON el.entry_number = e.entry_number
            WHERE e.estimated_arrival >= :start AND e.estimated_arrival < :stop""",
        day="e.estimated_arrival", hs_chapter="substr(el.hts10, 1, 2)",
        origin="el.origin_country", shipment="e.entry_number",
        contributor="coalesce(e.importer_of_record, e.consignee_name)",
        value_usd="el.value_usd",
    ),
    # An order shipped in several fulfillments counts once, on the day of its first.
    "marketplace": _Source(
        rows="""FROM fulfillments f
            JOIN orders o ON o.order_id = f.order_id
            JOIN json_each(:rates) r ON r.key = o.currency
            JOIN order_lines ol ON ol.order_id = o.order_id
            JOIN listings l ON l.listing_id = ol.listing_id
            WHERE f.shipped_at >= :start AND f.shipped_at < :stop
              AND l.hs6_hint IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM fulfillments g WHERE g.order_id = f.order_id
                  AND (g.shipped_at, g.fulfillment_id) < (f.shipped_at, f.fulfillment_id))""",
        day="substr(f.shipped_at, 1, 10)", hs_chapter="substr(l.hs6_hint, 1, 2)",
        origin="l.origin_country", shipment="o.order_id", contributor="l.seller_id",
        value_usd="ol.amount_paid / r.value",
    ),
}

# ISO 8601 week of ``day``: the week's Thursday decides its year; weeks are numbered from 1.
_THURSDAY = ("date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days', "
             "'+3 days')")
_KEYS: Mapping[str, str] = {
    "hs_chapter": "hs_chapter",
    "origin": "origin",
    "week": f"strftime('%Y', {_THURSDAY}) || '-W' || "
            f"printf('%02d', (CAST(strftime('%j', {_THURSDAY}) AS INTEGER) - 1) / 7 + 1)",
}
_CELL, _CONTRIBUTOR, _POPULATION = 0, 1, 2


def _window(params: Mapping[str, PyValue]) -> tuple[str, str]:
    first = date.fromisoformat(str(params["date_from"]))
    last = date.fromisoformat(str(params["date_to"]))
    if last < first:
        raise MalformedRequestError("date_to is before date_from; swap them")
    if (last - first).days >= MAX_DAYS:
        raise MalformedRequestError(
            f"the date range may span at most {MAX_DAYS} days; split it into shorter ranges")
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


def _statement(source: _Source, groups: list[str], filters: list[str], value: bool) -> str:
    """Levels: per cell and contributor, per cell, and the whole population."""
    where = "".join(f" AND {getattr(source, name)} = :{name}" for name in filters)
    base = (f"SELECT {source.day} AS day, {source.hs_chapter} AS hs_chapter, "
            f"{source.origin} AS origin, {source.shipment} AS shipment, "
            f"{source.contributor} AS contributor"
            + (f", {source.value_usd} AS value_usd " if value else " ")
            + source.rows + where)
    keys = ", ".join(f"{_KEYS[g]} AS k{i}" for i, g in enumerate(groups))
    cols = ", ".join(f"k{i}" for i in range(len(groups)))
    nulls = ", ".join("NULL" for _ in groups)
    measures = "count(DISTINCT shipment)" + (", sum(value_usd)" if value else "")
    return f"""WITH base AS ({base}),
        cells AS (SELECT {keys}, shipment, contributor{", value_usd" if value else ""} FROM base)
        SELECT {_CONTRIBUTOR}, {cols}, contributor, {measures} FROM cells
            GROUP BY {cols}, contributor
        UNION ALL
        SELECT {_CELL}, {cols}, NULL, {measures} FROM cells GROUP BY {cols}
        UNION ALL
        SELECT {_POPULATION}, {nulls}, NULL, {measures} FROM cells"""


@dataclass
class _Fold:
    """The streamed groups, folded into cells and the population total."""

    shipments: dict[tuple[str, ...], int] = field(default_factory=dict)
    contributions: dict[tuple[str, ...], dict[str, float]] = field(default_factory=dict)
    total_contributions: dict[str, float] = field(default_factory=dict)
    total_shipments: int = 0
    total_value: float = 0.0

    def add(self, level: int, key: tuple[str, ...], contributor: str | None, shipments: int,
            value: float) -> None:
        if level == _CONTRIBUTOR:
            assert contributor is not None
            self.contributions.setdefault(key, {})[contributor] = value
            self.total_contributions[contributor] = (
                self.total_contributions.get(contributor, 0.0) + value)
        elif level == _CELL:
            self.shipments[key] = shipments
        else:
            self.total_shipments, self.total_value = shipments, value

    def cells(self) -> list[Cell]:
        return [Cell(key, self.shipments[key], sum(parts.values()), parts)
                for key, parts in sorted(self.contributions.items())]


def _filters(params: Mapping[str, PyValue]) -> list[str]:
    origin = params.get("origin")
    if origin is not None and origin not in COUNTRIES:
        raise MalformedRequestError(
            f"parameter 'origin': {origin!r} is not an ISO 3166-1 alpha-2 country code")
    return [name for name in ("hs_chapter", "origin") if params.get(name) is not None]


def _row(cell: ProtectedCell, fields: tuple[str, ...]) -> tuple[PyValue, ...]:
    measures: dict[str, PyValue] = {
        "shipments": cell.shipments,
        "value_usd": None if cell.value is None else round(cell.value, 2),
    }
    return (*cell.key, *(measures[f] for f in fields), cell.suppressed, cell.reason)


def _run(execution: Execution) -> ResultTable:
    params = execution.params
    chosen = params["group_by"]
    assert isinstance(chosen, list)  # validate_params checked it
    groups = [str(g) for g in chosen]
    start, stop = _window(params)
    filters = _filters(params)
    value = "value_usd" in execution.fields
    statement = _statement(_SOURCES[execution.role], groups, filters, value)
    rates = {code: rate for code, rate in execution.settings.currency_per_usd.items() if rate > 0}
    bound: dict[str, PyValue] = {"start": start, "stop": stop, "rates": json.dumps(rates),
                                 **{name: params[name] for name in filters}}
    width = len(groups)
    fold = _Fold()
    for row in execution.conn.execute(statement, bound):
        fold.add(row[0], tuple(row[1:1 + width]), row[1 + width], row[2 + width],
                 float(row[3 + width] or 0.0) if value else 0.0)
    controls = execution.settings.disclosure
    if fold.total_shipments < controls.min_cell_shipments or len(fold.total_contributions) < 2:
        raise MalformedRequestError(
            f"the filters are too narrow: they select fewer than {controls.min_cell_shipments} "
            "shipments or a single shipper, importer or seller; widen the date range or drop "
            "the hs_chapter / origin filter")
    protected = protect(fold.cells(), controls)
    total = grand_total(
        Cell((TOTAL,) * len(groups), fold.total_shipments, fold.total_value,
             fold.total_contributions),
        protected, controls)
    return ResultTable(
        columns=(*groups, *execution.fields, "suppressed", "reason"),
        rows=[_row(cell, execution.fields) for cell in (*protected, total)],
    )


STATISTICS_RUNS: Mapping[str, Run] = {"trade_statistics": _run}
