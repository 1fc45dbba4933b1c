"""Consignee daily totals: pseudonymous tokens with shipment counts and value sums.

For split-shipment detection CBP needs, per consignee and day, how many parcels
arrive and what they are worth — across parties, without learning who the
consignee is. Each node tokenizes normalized name + address with a key derived
from the federation linkage secret, the query id and the digest of the
question's attested blocks (see trust.linkage), so one question's tokens match
across nodes and never across questions. Only consignees with at least
``min_consignee_shipments`` shipments on a day that hold one of the attested
house bills asked about are listed, and their values are rounded to
``consignee_value_step_usd``, so overlapping windows cannot be chained through
exact value patterns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from fedtrade.node.queries.spec import Execution, ResultTable, Run
from fedtrade.protocol.limits import CONSIGNEE_TOTALS_MAX_DAYS as MAX_DAYS
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import MalformedRequestError, NodeUnavailableError
from fedtrade.trust.linkage import consignee_material, query_token_key, token_of

__all__ = ["LINKAGE_RUNS"]

# Per role: house bill, consignee name, address, day, value, currency within [:start, :stop),
# in day order (along an index), so that only one day's groups are held at a time.
_ROWS: Mapping[str, str] = {
    "carrier": """
        SELECT h.house_bill, h.consignee_name, h.consignee_address, substr(m.eta, 1, 10),
               h.declared_value, h.currency
        FROM masters m JOIN house_bills h ON h.mawb = m.mawb
        WHERE m.eta >= :start AND m.eta < :stop
        ORDER BY m.eta""",
    "broker": """
        SELECT e.house_bill, e.consignee_name, e.consignee_address, e.estimated_arrival,
               e.total_value_usd, 'USD'
        FROM entries e
        WHERE e.estimated_arrival >= :start AND e.estimated_arrival < :stop
        ORDER BY e.estimated_arrival""",
    "marketplace": """
        SELECT f.house_bill, o.buyer_name, o.buyer_address, substr(f.shipped_at, 1, 10),
               o.total_paid, o.currency
        FROM fulfillments f JOIN orders o ON o.order_id = f.order_id
        WHERE f.shipped_at >= :start AND f.shipped_at < :stop
        ORDER BY f.shipped_at""",
}


def _window(params: Mapping[str, PyValue]) -> tuple[str, str]:
    first = date.fromisoformat(str(params["date_from"]))
    last = date.fromisoformat(str(params["date_to"]))
    if last < first:
        raise MalformedRequestError("date_to is before date_from")
    if (last - first).days >= MAX_DAYS:
        raise MalformedRequestError(f"the date range may span at most {MAX_DAYS} days")
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


def _run(execution: Execution) -> ResultTable:
    settings = execution.settings
    if settings.linkage_secret is None:
        raise NodeUnavailableError(
            "this node has no linkage secret configured (linkage.secret_file); it cannot "
            "answer consignee linkage queries"
        )
    start, stop = _window(execution.params)
    asked = set(execution.params["house_bills"])  # type: ignore[arg-type]
    key = query_token_key(settings.linkage_secret, execution.query_id, execution.attestation)
    rates = settings.currency_per_usd
    minimum = settings.disclosure.min_consignee_shipments
    step = settings.disclosure.consignee_value_step_usd
    out: list[tuple[PyValue, ...]] = []

    def flush(day: str, groups: dict[bytes, list[Any]]) -> None:
        listed = sorted(
            (token_of(key, material), group)
            for material, group in groups.items() if group[0] >= minimum and group[2]
        )
        for token, (shipments, value_usd, bills) in listed:
            values: dict[str, PyValue] = {
                "shipments": shipments,
                "value_usd": round(value_usd / step) * step,
                "house_bills": sorted(bills),
            }
            out.append((token, day, *(values[f] for f in execution.fields)))

    # normalized consignee -> [shipments, value in USD, house bills asked about or None],
    # for the current day only; lists, not objects, as there is one per consignee and day.
    # Only groups that are listed in the answer get a token.
    groups: dict[bytes, list[Any]] = {}
    current = ""
    rows = execution.conn.execute(_ROWS[execution.role], {"start": start, "stop": stop})
    for house_bill, name, address, day, value, currency in rows:
        if day != current:
            flush(current, groups)
            groups, current = {}, day
        rate = rates.get(currency)
        material = consignee_material(name, address)
        group = groups.get(material)
        if group is None:
            group = groups[material] = [0, 0.0, None]
        group[0] += 1
        group[1] += value / rate if rate else 0.0
        if house_bill in asked:
            group[2] = [*(group[2] or ()), house_bill]
    flush(current, groups)
    return ResultTable(columns=("consignee_token", "day", *execution.fields), rows=out)


LINKAGE_RUNS: Mapping[str, Run] = {"consignee_daily_totals": _run}
