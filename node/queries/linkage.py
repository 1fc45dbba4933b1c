"""Consignee totals: pseudonymous tokens with shipment counts and value sums per window.

For split-shipment detection CBP needs, per consignee and window of a few days,
how many parcels arrive and what they are worth — across parties, without
learning who the consignee is. Each node normalises the consignee's name and
address at import (``protocol.matching.normalize_consignee``: honorifics, word
order, street abbreviations; kept in ``consignee_parcels``, see
``node.store.indicators``), reads per question only the consignees holding an
asked house bill, and tokenizes those it lists with a key derived from the federation
linkage secret, the query id and the digest of the question's attested blocks
(see trust.linkage), so one question's tokens match across nodes and never
across questions.

Every node counts a shipment on its arrival day: the carrier its master's ETA,
the broker the entry's estimated arrival, the marketplace (which never learns
the arrival) the ship day plus its configured ``linkage.transit_days``. A
window of ``window_days`` days starts on each day a consignee has a shipment;
only windows with at least ``min_consignee_shipments`` shipments that hold one
of the attested house bills asked about are listed, and their values are
rounded to ``consignee_value_step_usd``, so overlapping windows cannot be
chained through exact value patterns.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping
from datetime import date, timedelta

from fedtrade.node.queries.spec import POSTGRESQL, SQLITE, Execution, ResultTable, Run
from fedtrade.protocol.limits import CONSIGNEE_TOTALS_MAX_DAYS as MAX_DAYS
from fedtrade.protocol.limits import CONSIGNEE_WINDOW_MAX_DAYS as MAX_WINDOW
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import MalformedRequestError, NodeUnavailableError
from fedtrade.trust.linkage import query_token_key, token_of

__all__ = ["LINKAGE_RUNS"]

# The shipments of every consignee that holds an asked house bill and has at least
# :minimum shipments dated within [:start, :stop) (no window of one with fewer is listed):
# a keyed lookup per asked bill in the partial index of consignees with more than one
# shipment at all (most have one: their bills are not in it, and the minimum is at least
# two), and for its consignee whether the (consignee, day) index holds a :minimum-th entry
# in the range (the search stops there), so most consignees never leave SQL and the asked
# consignees need no grouping (node.store.indicators keeps ``consignee_parcels``
# normalised, and ``several`` set, at import). Ordered fully, so values add up in one order.
_GROUPS = """
WITH asked AS MATERIALIZED (
    SELECT DISTINCT c.consignee
    FROM {bills}
    JOIN consignee_parcels c ON c.house_bill = j.value AND c.several = 1
        AND c.day >= {start} AND c.day < {stop}
    WHERE EXISTS (
        SELECT 1 FROM consignee_parcels x
        WHERE x.consignee = c.consignee AND x.day >= {start} AND x.day < {stop}
        LIMIT 1 OFFSET {minimum} - 1)
)
SELECT c.consignee, c.day, c.house_bill, c.value, c.currency
FROM asked a JOIN consignee_parcels c ON c.consignee = a.consignee
WHERE c.day >= {start} AND c.day < {stop}
ORDER BY c.consignee, c.day, c.house_bill
"""
_GROUPS_SQL: Mapping[str, str] = {
    SQLITE: _GROUPS.format(bills="json_each(:bills) AS j", start=":start", stop=":stop",
                           minimum=":minimum"),
    POSTGRESQL: _GROUPS.format(bills="unnest(%(bills)s::text[]) AS j (value)",
                               start="%(start)s", stop="%(stop)s", minimum="%(minimum)s"),
}


def _window(params: Mapping[str, PyValue]) -> tuple[date, date, int]:
    first = date.fromisoformat(str(params["date_from"]))
    last = date.fromisoformat(str(params["date_to"]))
    width = params.get("window_days")
    width = 1 if width is None else width
    if last < first:
        raise MalformedRequestError("date_to is before date_from")
    if (last - first).days >= MAX_DAYS:
        raise MalformedRequestError(f"the date range may span at most {MAX_DAYS} days")
    if not isinstance(width, int) or not 1 <= width <= MAX_WINDOW:
        raise MalformedRequestError(f"window_days must be 1 to {MAX_WINDOW}")
    return first, last, width


def _run(execution: Execution) -> ResultTable:
    settings = execution.settings
    if settings.linkage_secret is None:
        raise NodeUnavailableError(
            "this node has no linkage secret configured (linkage.secret_file); it cannot "
            "answer consignee linkage queries"
        )
    first, last, width = _window(execution.params)
    # arrival day d is read from the row dated d - shift (the marketplace's ship day)
    shift = settings.transit_days if execution.role == "marketplace" else 0
    start = first - timedelta(days=shift)
    stop = last + timedelta(days=width - shift)
    bills = execution.params["house_bills"]
    assert isinstance(bills, list)
    asked = set(bills)
    rates = settings.currency_per_usd
    # normalized consignee -> its shipments (arrival day number, USD, house bill if asked)
    shipments: dict[bytes, list[tuple[int, float, str | None]]] = {}
    minimum = settings.disclosure.min_consignee_shipments
    rows = execution.conn.execute(_GROUPS_SQL[execution.dialect], {
        "bills": list(bills) if execution.dialect == POSTGRESQL else json.dumps(bills),
        "start": start.isoformat(), "stop": stop.isoformat(), "minimum": minimum})
    for material, day, house_bill, value, currency in rows:
        rate = rates.get(currency)
        arrival = date.fromisoformat(day).toordinal() + shift
        shipments.setdefault(material, []).append(
            (arrival, value / rate if rate else 0.0, house_bill if house_bill in asked else None))
    key = query_token_key(settings.linkage_secret, execution.query_id, execution.attestation)
    step = settings.disclosure.consignee_value_step_usd
    out: list[tuple[PyValue, ...]] = []
    for material, parcels in shipments.items():
        parcels.sort(key=lambda p: p[0])
        days = [p[0] for p in parcels]
        token: str | None = None
        for opening in sorted(set(days)):
            if not first.toordinal() <= opening <= last.toordinal():
                continue
            # bisect: a forwarder's address may hold thousands of parcels
            inside = parcels[bisect_left(days, opening):bisect_left(days, opening + width)]
            listed = sorted(p[2] for p in inside if p[2] is not None)
            if len(inside) < minimum or not listed:
                continue
            token = token or token_of(key, material)  # only listed consignees get one
            values: dict[str, PyValue] = {
                "shipments": len(inside),
                "value_usd": round(sum(p[1] for p in inside) / step) * step,
                "house_bills": listed,
            }
            out.append((token, date.fromordinal(opening).isoformat(),
                        *(values[f] for f in execution.fields)))
    out.sort(key=lambda row: (str(row[1]), str(row[0])))
    return ResultTable(columns=("consignee_token", "day", *execution.fields), rows=out)


LINKAGE_RUNS: Mapping[str, Run] = {"consignee_daily_totals": _run}
