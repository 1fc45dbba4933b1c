"""Aggregate trade statistics: shipments and value in USD by HS chapter, origin and ISO week.

Released under differential privacy (``node.disclosure``). One parameterized
statement per query reads the window's rows as one row per (privacy unit,
shipment, cell) with the cell's value in whole cents; Python bounds each
unit's contribution and OpenDP adds the noise. Only the output fields the
requester may see are computed: without ``value_usd`` no value expression is
in the statement and no value noise is drawn.

The population is fixed by the parameters alone, never by the fields asked
for. Rows in a currency the node has no exchange rate for are not part of it;
at a marketplace, order lines whose listing has no HS hint are not either.
Nothing is refused or hidden on a true count: a cell appears when its noisy
count clears the release threshold, and the last row, the grand total with
``TOTAL`` in every key column, is always released (noisy).

Each measure ``m`` comes with ``m_pm95``, the half-width of its 95 % interval;
every row also names the mechanism, the epsilon and delta this answer spent
and the requester's remaining budget at this node (``PRIVACY_COLUMNS``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from fedtrade.node.queries.spec import POSTGRESQL, SQLITE, Execution, ResultTable, Run
from fedtrade.node.store.iso_codes import COUNTRIES
from fedtrade.protocol.catalogue import PRIVACY_COLUMNS, TOTAL
from fedtrade.protocol.limits import STATISTICS_MAX_DAYS as MAX_DAYS
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import MalformedRequestError

if TYPE_CHECKING:
    from fedtrade.node.disclosure import Contribution, Noisy

__all__ = ["STATISTICS_RUNS", "contributions"]


@dataclass(frozen=True)
class _Source:
    """A role's rows, one per (shipment, line), with the expressions the query needs."""

    rows: str  # FROM ... WHERE ..., restricted to the day window [{start}, {stop})
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
            JOIN {rates} ON r.key = h.currency
            WHERE m.eta >= {start} AND m.eta < {stop}""",
        day="substr(m.eta, 1, 10)", hs_chapter="substr(h.hs6, 1, 2)", origin="h.origin_country",
        shipment="h.house_bill", contributor="h.shipper_name",
        value_usd="h.declared_value / r.value",
    ),
    "broker": _Source(
        rows="""FROM entries e
            JOIN entry_lines el ON el.entry_number = e.entry_number
            WHERE e.estimated_arrival >= {start} AND e.estimated_arrival < {stop}""",
        day="e.estimated_arrival", hs_chapter="substr(el.hts10, 1, 2)",
        origin="el.origin_country", shipment="e.entry_number",
        contributor="coalesce(e.importer_of_record, e.consignee_name)",
        value_usd="el.value_usd",
    ),
    # An order shipped in several fulfillments counts once, on the day of its first.
    "marketplace": _Source(
        rows="""FROM fulfillments f
            JOIN orders o ON o.order_id = f.order_id
            JOIN {rates} ON r.key = o.currency
            JOIN order_lines ol ON ol.order_id = o.order_id
            JOIN listings l ON l.listing_id = ol.listing_id
            WHERE f.shipped_at >= {start} AND f.shipped_at < {stop}
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
_WEEK: Mapping[str, str] = {
    SQLITE: f"strftime('%Y', {_THURSDAY}) || '-W' || "
            f"printf('%02d', (CAST(strftime('%j', {_THURSDAY}) AS INTEGER) - 1) / 7 + 1)",
    POSTGRESQL: """to_char(CAST(day AS date), 'IYYY-"W"IW')""",
}
# Per dialect: how a statement names a parameter, the exchange rates as a table r (key,
# value), and whole cents rounded as SQLite's round() does: add half away from zero, truncate
# (in double precision: numeric would round 72.625 * 100 = 7262.4999... up).
_PARAM: Mapping[str, str] = {SQLITE: ":{}", POSTGRESQL: "%({})s"}
_RATES: Mapping[str, str] = {
    SQLITE: "json_each(:rates) r",
    POSTGRESQL: "unnest(%(rate_codes)s::text[], %(rate_values)s::float8[]) AS r (key, value)",
}
_CENTS: Mapping[str, str] = {
    SQLITE: "CAST(round(sum(value_usd) * 100) AS INTEGER)",
    POSTGRESQL: "CAST(trunc(sum(value_usd) * 100 + CASE WHEN sum(value_usd) < 0 THEN -0.5 "
                "ELSE 0.5 END) AS bigint)",
}


def _key(group: str, dialect: str) -> str:
    """The SQL of a group_by key (validate_params allowed only these)."""
    return _WEEK[dialect] if group == "week" else {"hs_chapter": "hs_chapter",
                                                   "origin": "origin"}[group]


def _window(params: Mapping[str, PyValue]) -> tuple[str, str]:
    first = date.fromisoformat(str(params["date_from"]))
    last = date.fromisoformat(str(params["date_to"]))
    if last < first:
        raise MalformedRequestError("date_to is before date_from; swap them")
    if (last - first).days >= MAX_DAYS:
        raise MalformedRequestError(
            f"the date range may span at most {MAX_DAYS} days; split it into shorter ranges")
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


def _statement(source: _Source, groups: list[str], filters: list[str], value: bool,
               unit: str, dialect: str) -> str:
    """One row per (privacy unit, shipment, cell): what bounding needs, nothing more."""
    param = _PARAM[dialect].format
    where = "".join(f" AND {getattr(source, name)} = {param(name)}" for name in filters)
    owner = (source.shipment if unit == "shipment"
             else f"coalesce({source.contributor}, '#' || {source.shipment})")
    base = (f"SELECT {source.day} AS day, {source.hs_chapter} AS hs_chapter, "
            f"{source.origin} AS origin, {source.shipment} AS shipment, {owner} AS unit"
            + (f", {source.value_usd} AS value_usd " if value else " ")
            + source.rows.format(rates=_RATES[dialect], start=param("start"),
                                 stop=param("stop"))
            + where)
    keys = ", ".join(f"{_key(g, dialect)} AS k{i}" for i, g in enumerate(groups))
    cols = ", ".join(f"k{i}" for i in range(len(groups)))
    cents = _CENTS[dialect] if value else "0"
    return f"""WITH base AS ({base}),
        cells AS (SELECT unit, shipment, {keys}{", value_usd" if value else ""} FROM base)
        SELECT unit, shipment, {cols}, {cents} FROM cells GROUP BY unit, shipment, {cols}"""


def _filters(params: Mapping[str, PyValue]) -> list[str]:
    origin = params.get("origin")
    if origin is not None and origin not in COUNTRIES:
        raise MalformedRequestError(
            f"parameter 'origin': {origin!r} is not an ISO 3166-1 alpha-2 country code")
    return [name for name in ("hs_chapter", "origin") if params.get(name) is not None]


def _measures(shipments: Noisy, cents: Noisy | None, fields: tuple[str, ...]) -> list[PyValue]:
    out: list[PyValue] = []
    if "shipments" in fields:
        out += [shipments.value, shipments.plus_minus]
    if cents is not None:
        out += [cents.value / 100, cents.plus_minus / 100]
    return out


def _groups(params: Mapping[str, PyValue]) -> list[str]:
    chosen = params["group_by"]
    assert isinstance(chosen, list)  # validate_params checked it
    return [str(g) for g in chosen]


def contributions(execution: Execution) -> Iterator[Contribution]:
    """The rows of the query's window, one per (privacy unit, shipment, cell), before any
    bounding or noise (what both store backends must agree on)."""
    from fedtrade.node.disclosure import Contribution  # here, not at the top: see _run

    params, privacy = execution.params, execution.settings.privacy
    if privacy is None or execution.epsilon is None:
        raise MalformedRequestError("this node has no privacy settings for aggregate queries")
    groups = _groups(params)
    start, stop = _window(params)
    filters = _filters(params)
    value = "value_usd" in execution.fields
    statement = _statement(_SOURCES[execution.role], groups, filters, value, privacy.unit,
                           execution.dialect)
    rates = {code: rate for code, rate in execution.settings.currency_per_usd.items() if rate > 0}
    bound_params: dict[str, PyValue] = {"start": start, "stop": stop,
                                        **{name: params[name] for name in filters}}
    if execution.dialect == POSTGRESQL:
        bound_params |= {"rate_codes": list(rates), "rate_values": list(rates.values())}
    else:
        bound_params["rates"] = json.dumps(rates)
    width = len(groups)
    return (Contribution(row[0], row[1], tuple(row[2:2 + width]), row[2 + width] or 0)
            for row in execution.conn.execute(statement, bound_params))


def _run(execution: Execution) -> ResultTable:
    # Imported here: OpenDP costs every node process CPU at start, and most never answer an
    # aggregate question.
    from fedtrade.node.disclosure import MECHANISM, bound, release

    privacy = execution.settings.privacy
    rows = contributions(execution)
    assert privacy is not None  # contributions checked both
    assert execution.epsilon is not None
    groups = _groups(execution.params)
    width = len(groups)
    value = "value_usd" in execution.fields
    noisy = release(bound(rows, privacy), privacy, execution.epsilon, values=value,
                    floor=execution.settings.disclosure.min_cell_shipments)
    meta: list[PyValue] = [MECHANISM, round(noisy.epsilon, 9), noisy.delta]
    columns: list[str] = [*groups]
    for name in execution.fields:
        columns += [name, f"{name}_pm95"]
    total = ((TOTAL,) * width, *noisy.total)
    return ResultTable(
        columns=(*columns, *PRIVACY_COLUMNS[:-1]),
        rows=[(*key, *_measures(count, cents, execution.fields), *meta)
              for key, count, cents in (*noisy.cells, total)],
    )


STATISTICS_RUNS: Mapping[str, Run] = {"trade_statistics": _run}
