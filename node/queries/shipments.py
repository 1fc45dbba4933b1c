"""Per-shipment indicator queries: flags, bands and match depths for a batch of house bills.

Each batch runs as one set-based statement: the shipments travel as one JSON
array joined against the role's tables (index lookups per house bill), never
one statement per shipment. Only the fields the requester may see are put in
the SELECT list. A shipment the node does not hold comes back with
``known = false`` and empty fields — "not known to this node", which is not a
negative finding.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution, ResultTable, Run, band
from fedtrade.protocol.wire import PyValue

__all__ = ["SHIPMENT_RUNS"]

_BATCH = """
WITH batch AS (
    SELECT CAST(j.key AS INTEGER) AS pos,
           json_extract(j.value, '$[0]') AS house_bill,
           json_extract(j.value, '$[1]') AS declared_usd,
           json_extract(j.value, '$[2]') AS ref_hs6
    FROM json_each(:batch) AS j
)
"""

# How each role finds its record of a shipment, and whether it holds one.
_SOURCES: Mapping[str, tuple[str, str]] = {
    "marketplace": (
        """
        LEFT JOIN fulfillments f ON f.house_bill = b.house_bill
        LEFT JOIN orders o ON o.order_id = f.order_id
        LEFT JOIN order_lines ol ON ol.order_id = o.order_id AND ol.line_no = 1
        LEFT JOIN listings l ON l.listing_id = ol.listing_id
        LEFT JOIN sellers s ON s.seller_id = l.seller_id""",
        "f.order_id IS NOT NULL",
    ),
    "carrier": (
        """
        LEFT JOIN house_bills h ON h.house_bill = b.house_bill""",
        "h.house_bill IS NOT NULL",
    ),
    "broker": (
        """
        LEFT JOIN entries e ON e.entry_number = (
            SELECT entry_number FROM entries WHERE house_bill = b.house_bill
            ORDER BY entry_number DESC LIMIT 1)""",
        "e.entry_number IS NOT NULL",
    ),
}

Convert = Callable[[tuple[PyValue, ...], QuerySettings], PyValue]


@dataclass(frozen=True)
class _Field:
    """One output field: SQL expressions per role and how to turn their values into the answer."""

    sql: Mapping[str, tuple[str, ...]]
    convert: Convert


def _flag(raw: tuple[PyValue, ...], _settings: QuerySettings) -> PyValue:
    return None if raw[0] is None else bool(raw[0])


def _plain(raw: tuple[PyValue, ...], _settings: QuerySettings) -> PyValue:
    return raw[0]


def count_band(count: PyValue, edges: tuple[int, ...]) -> PyValue:
    """0, 1, 2-4, 5+ style labels for small counts (edges (1, 2, 5))."""
    if not isinstance(count, int):
        return None
    if count < edges[0]:
        return str(count) if edges[0] == 1 else f"<{edges[0]}"
    for low, high in itertools.pairwise(edges):
        if count < high:
            return str(low) if high == low + 1 else f"{low}-{high - 1}"
    return f"{edges[-1]}+"


def _age_band(raw: tuple[PyValue, ...], settings: QuerySettings) -> PyValue:
    days = raw[0]
    return (
        band(float(days), settings.account_age_days, "d") if isinstance(days, int | float) else None
    )


def _linked_band(raw: tuple[PyValue, ...], settings: QuerySettings) -> PyValue:
    return count_band(raw[0], settings.linked_suspended)


def _usd(amount: PyValue, currency: PyValue, settings: QuerySettings) -> float | None:
    if not isinstance(amount, int | float) or not isinstance(currency, str):
        return None
    rate = settings.currency_per_usd.get(currency)
    return None if rate is None else amount / rate


def _ratio_band(declared: PyValue, actual_usd: float | None, settings: QuerySettings) -> PyValue:
    if not isinstance(declared, int | float) or not actual_usd:
        return None
    return band(declared / actual_usd, settings.value_ratio_bands)


def _declared_paid(raw: tuple[PyValue, ...], settings: QuerySettings) -> PyValue:
    declared, paid, currency = raw
    return _ratio_band(declared, _usd(paid, currency, settings), settings)


def _entry_declared(raw: tuple[PyValue, ...], settings: QuerySettings) -> PyValue:
    declared, entry_usd = raw
    return _ratio_band(
        declared, float(entry_usd) if isinstance(entry_usd, int | float) else None, settings
    )


def match_depth(code: PyValue, reference: PyValue) -> PyValue:
    """How many leading HS digits agree: 6, 4, 2 or 0; None without both codes."""
    if not isinstance(code, str) or not isinstance(reference, str):
        return None
    for depth in (6, 4, 2):
        if code[:depth] == reference[:depth]:
            return depth
    return 0


def _depth(raw: tuple[PyValue, ...], _settings: QuerySettings) -> PyValue:
    return match_depth(raw[0], raw[1])


def _if_held(record_key: str, expr: str) -> str:
    """NULL when the node holds no record, so that 'not known' never reads as 'no'."""
    return f"CASE WHEN {record_key} IS NULL THEN NULL ELSE {expr} END"


_FIRST_HTS6 = (
    "(SELECT substr(hts10, 1, 6) FROM entry_lines WHERE entry_number = e.entry_number"
    " ORDER BY line_no LIMIT 1)"
)
_LINKED_SUSPENDED = """(SELECT count(DISTINCT x.seller_id) FROM seller_links k
    JOIN sellers x ON x.seller_id = CASE WHEN k.seller_id = s.seller_id
                                         THEN k.linked_seller_id ELSE k.seller_id END
    WHERE (k.seller_id = s.seller_id OR k.linked_seller_id = s.seller_id)
      AND x.status = 'suspended')"""
_ENTITY_NAME = "EXISTS(SELECT 1 FROM entity_list x WHERE upper(trim(x.name)) = upper(trim({})))"

_FIELDS: Mapping[str, _Field] = {
    # seller_profile
    "kyc_verified": _Field({"marketplace": ("s.kyc_verified",)}, _flag),
    "high_volume_seller": _Field({"marketplace": ("s.high_volume",)}, _flag),
    "account_age_band": _Field(
        {"marketplace": ("CAST(julianday(o.ordered_at) - julianday(s.registered_at) AS INTEGER)",)},
        _age_band,
    ),
    "linked_suspended_band": _Field({"marketplace": (_LINKED_SUSPENDED,)}, _linked_band),
    "seller_country": _Field({"marketplace": ("s.country",)}, _plain),
    "seller_status": _Field({"marketplace": ("s.status",)}, _plain),
    # value_check
    "declared_paid_ratio_band": _Field(
        {"marketplace": ("b.declared_usd", "o.total_paid", "o.currency")}, _declared_paid
    ),
    # classification_check
    "hs_match_depth": _Field(
        {
            "marketplace": ("l.hs6_hint", "b.ref_hs6"),
            "carrier": ("h.hs6", "b.ref_hs6"),
            "broker": (_FIRST_HTS6, "b.ref_hs6"),
        },
        _depth,
    ),
    # security_profile
    "known_shipper": _Field({"carrier": ("h.known_shipper",)}, _flag),
    "screened": _Field({"carrier": ("h.screened",)}, _flag),
    "preload_status": _Field({"carrier": ("h.preload_status",)}, _plain),
    # entry_status
    "entry_type": _Field({"broker": ("e.entry_type",)}, _plain),
    "release_status": _Field({"broker": ("e.release_status",)}, _plain),
    "certificate_on_file": _Field(
        {
            "broker": (
                _if_held(
                    "e.entry_number",
                    "EXISTS(SELECT 1 FROM entry_lines el WHERE el.entry_number = e.entry_number "
                    "AND el.certificate_ref IS NOT NULL)",
                ),
            )
        },
        _flag,
    ),
    "importer_of_record_present": _Field(
        {"broker": (_if_held("e.entry_number", "e.importer_of_record IS NOT NULL"),)},
        _flag,
    ),
    "entry_declared_ratio_band": _Field(
        {"broker": ("b.declared_usd", "e.total_value_usd")}, _entry_declared
    ),
    # list_hits
    "recall_hit": _Field(
        {
            "marketplace": (
                _if_held(
                    "o.order_id",
                    "EXISTS(SELECT 1 FROM order_lines ol2 "
                    "JOIN listings l2 ON l2.listing_id = ol2.listing_id "
                    "JOIN recalled_products r ON r.gtin = l2.gtin WHERE ol2.order_id = o.order_id)",
                ),
            )
        },
        _flag,
    ),
    "entity_list_hit": _Field(
        {
            "marketplace": (_if_held("s.seller_id", _ENTITY_NAME.format("s.legal_name")),),
            "carrier": (_if_held("h.house_bill", _ENTITY_NAME.format("h.shipper_name")),),
            "broker": (
                _if_held(
                    "e.entry_number",
                    "EXISTS(SELECT 1 FROM entry_lines el JOIN entity_list x ON x.mid = el.mid "
                    "WHERE el.entry_number = e.entry_number)",
                ),
            ),
        },
        _flag,
    ),
}


def _batch_json(shipments: PyValue) -> str:
    """The batch as one JSON array of [house_bill, declared_value_usd, hs6] rows."""
    assert isinstance(shipments, dict)
    return json.dumps(
        list(
            zip(
                shipments["house_bill"],
                shipments["declared_value_usd"],
                shipments["hs6"],
                strict=True,
            )
        )
    )


def _run(execution: Execution) -> ResultTable:
    role = execution.role
    joins, known = _SOURCES[role]
    exprs: list[str] = []
    slices: list[tuple[str, slice]] = []
    for name in execution.fields:
        sql = _FIELDS[name].sql[role]
        slices.append((name, slice(len(exprs), len(exprs) + len(sql))))
        exprs.extend(sql)
    select = ", ".join(["b.house_bill", f"{known} AS known", *exprs])
    statement = f"{_BATCH} SELECT {select} FROM batch b {joins} ORDER BY b.pos"
    batch = _batch_json(execution.params["shipments"])
    settings = execution.settings
    rows: list[tuple[PyValue, ...]] = []
    for record in execution.conn.execute(statement, {"batch": batch}):
        known_flag = bool(record[1])
        values = record[2:]
        rows.append(
            (
                record[0],
                known_flag,
                *(
                    _FIELDS[name].convert(values[cut], settings) if known_flag else None
                    for name, cut in slices
                ),
            )
        )
    return ResultTable(columns=("house_bill", "known", *execution.fields), rows=rows)


def _known(execution: Execution) -> ResultTable:
    joins, known = _SOURCES[execution.role]
    bills = execution.params["house_bills"]
    assert isinstance(bills, list)
    batch = json.dumps([[hb, None, None] for hb in bills])
    statement = f"{_BATCH} SELECT b.house_bill, {known} FROM batch b {joins} ORDER BY b.pos"
    rows = [(hb, bool(k)) for hb, k in execution.conn.execute(statement, {"batch": batch})]
    return ResultTable(columns=("house_bill", "known"), rows=rows)


# The indicator queries differ only in their fields: one batch statement runs them all.
SHIPMENT_RUNS: Mapping[str, Run] = {
    "shipment_known": _known,
    **dict.fromkeys(
        (
            "seller_profile",
            "value_check",
            "classification_check",
            "security_profile",
            "entry_status",
            "shipment_indicators",
            "list_hits",
        ),
        _run,
    ),
}
