"""Per-shipment indicator queries: flags, bands and match depths for a batch of house bills.

Each batch runs as one set-based statement: the shipments travel as one JSON
array joined against the role's tables (index lookups per house bill), never
one statement per shipment. Only the fields the requester may see are put in
the SELECT list. A shipment the node does not hold comes back with
``known = false`` and empty fields — "not known to this node", which is not a
negative finding.
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution, ResultTable, Run, band
from fedtrade.protocol.matching import best_match, gtin14, normalize_name
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

# The marketplace's evidence comes from the order lines the parcel itself carries
# (parcel_lines; or every line of the order when the parcel is its order's only
# fulfillment). Values are the goods in the parcel (line amounts paid, shipping and tax
# excluded, prorated by the pieces in the parcel); a parcel mixing currencies has no
# value. Seller flags take the riskiest seller of the parcel's lines (multi-seller carts);
# country and status are those of the seller of the most valuable line.
_PARCEL = """,
parcel AS (
    SELECT b.house_bill, pl.order_id, pl.line_no, pl.quantity
    FROM batch b JOIN parcel_lines pl ON pl.house_bill = b.house_bill
    UNION ALL
    SELECT b.house_bill, ol.order_id, ol.line_no, ol.quantity
    FROM batch b JOIN fulfillments f ON f.house_bill = b.house_bill
    JOIN order_lines ol ON ol.order_id = f.order_id
    WHERE NOT EXISTS (SELECT 1 FROM parcel_lines x WHERE x.house_bill = b.house_bill)
      AND NOT EXISTS (SELECT 1 FROM fulfillments y
                      WHERE y.order_id = f.order_id AND y.house_bill <> f.house_bill)
),
goods AS (
    SELECT p.house_bill, max(ol.amount_paid * p.quantity / ol.quantity) AS top_amount{columns}
    FROM parcel p
    JOIN order_lines ol ON ol.order_id = p.order_id AND ol.line_no = p.line_no
    JOIN orders o ON o.order_id = p.order_id
    JOIN listings l ON l.listing_id = ol.listing_id
    JOIN sellers s ON s.seller_id = l.seller_id
    GROUP BY p.house_bill
)
"""

# How each role finds its record of a shipment, and whether it holds one:
# (whether it reads the parcel's goods, joins, "known" expression).
_SOURCES: Mapping[str, tuple[bool, str, str]] = {
    "marketplace": (
        True,
        """
        LEFT JOIN fulfillments f ON f.house_bill = b.house_bill
        LEFT JOIN goods g ON g.house_bill = b.house_bill""",
        "f.order_id IS NOT NULL",
    ),
    "carrier": (
        False,
        """
        LEFT JOIN house_bills h ON h.house_bill = b.house_bill""",
        "h.house_bill IS NOT NULL",
    ),
    "broker": (
        False,
        """
        LEFT JOIN entries e ON e.entry_number = coalesce(
            (SELECT entry_number FROM entries WHERE house_bill = b.house_bill
             ORDER BY entry_number DESC LIMIT 1),
            (SELECT entry_number FROM entry_house_bills WHERE house_bill = b.house_bill
             ORDER BY entry_number DESC LIMIT 1))""",
        "e.entry_number IS NOT NULL",
    ),
}


class _Context:
    """Settings, and the reference lists a batch is checked against (read once per batch)."""

    def __init__(self, conn: sqlite3.Connection, settings: QuerySettings) -> None:
        self.conn = conn
        self.settings = settings

    @functools.cached_property
    def recalled(self) -> frozenset[str]:
        rows = self.conn.execute("SELECT gtin FROM recalled_products")
        return frozenset(code for (raw,) in rows if (code := gtin14(raw)) is not None)

    @functools.cached_property
    def listed_names(self) -> tuple[str, ...]:
        rows = self.conn.execute("SELECT DISTINCT name FROM entity_list")
        return tuple(sorted({name for (raw,) in rows if (name := normalize_name(raw))}))

    def name_strength(self, names: PyValue) -> float | None:
        """Best match strength of any of the (char 31 separated) names against the list."""
        if not isinstance(names, str):
            return None
        return best_match(names.split("\x1f"), self.listed_names)


Convert = Callable[[tuple[PyValue, ...], _Context], PyValue]


@dataclass(frozen=True)
class _Field:
    """One output field: SQL expressions per role and how to turn their values into the answer."""

    sql: Mapping[str, tuple[str, ...]]
    convert: Convert


def _flag(raw: tuple[PyValue, ...], _ctx: _Context) -> PyValue:
    return None if raw[0] is None else bool(raw[0])


def _plain(raw: tuple[PyValue, ...], _ctx: _Context) -> PyValue:
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


def _age_band(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    days = raw[0]
    if not isinstance(days, int | float):
        return None
    return band(float(days), ctx.settings.account_age_days, "d")


def _linked_band(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    return count_band(raw[0], ctx.settings.linked_suspended)


def _usd(amount: PyValue, currency: PyValue, settings: QuerySettings) -> float | None:
    if not isinstance(amount, int | float) or not isinstance(currency, str):
        return None
    rate = settings.currency_per_usd.get(currency)
    return None if rate is None else amount / rate


def _ratio_band(
    declared: PyValue, actual_usd: float | None, settings: QuerySettings
) -> PyValue:
    if not isinstance(declared, int | float) or not actual_usd:
        return None
    return band(declared / actual_usd, settings.value_ratio_bands)


def _declared_paid(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    declared, paid, currency = raw
    return _ratio_band(declared, _usd(paid, currency, ctx.settings), ctx.settings)


def _entry_declared(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    declared, entry_usd = raw
    return _ratio_band(
        declared, float(entry_usd) if isinstance(entry_usd, int | float) else None, ctx.settings
    )


def match_depth(code: PyValue, reference: PyValue) -> PyValue:
    """How many leading HS digits agree: 6, 4, 2 or 0; None without both codes."""
    if not isinstance(code, str) or not isinstance(reference, str):
        return None
    for depth in (6, 4, 2):
        if code[:depth] == reference[:depth]:
            return depth
    return 0


def _depth(raw: tuple[PyValue, ...], _ctx: _Context) -> PyValue:
    return match_depth(raw[0], raw[1])


def _recall(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    """Whether any GTIN of the parcel's lines is recalled, compared as GTIN-14."""
    gtins = raw[0]
    if not isinstance(gtins, str):
        return False if raw[1] else None  # lines known, none with a GTIN: no hit
    return any(gtin14(g) in ctx.recalled for g in gtins.split())


def _name_strength(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    return ctx.name_strength(raw[0])


def _entity_hit(raw: tuple[PyValue, ...], ctx: _Context) -> PyValue:
    """A listed maker (MID, broker) or a party name at or above the match threshold."""
    names, mid_hit = raw
    if mid_hit:
        return True
    strength = ctx.name_strength(names)
    if strength is None:
        return None if mid_hit is None else False
    return strength >= ctx.settings.name_match_threshold


def _if_held(record_key: str, expr: str) -> str:
    """NULL when the node holds no record, so that 'not known' never reads as 'no'."""
    return f"CASE WHEN {record_key} IS NULL THEN NULL ELSE {expr} END"


# The code of the parcel's main (most valuable) item at each node.
# A consolidated entry's lines name no house bill: its line closest to the bill's code
# (SQLite cannot read the outer row in a subquery's ORDER BY, hence max() of a sort key).
_ENTRY_HTS6 = """CASE WHEN EXISTS (SELECT 1 FROM entry_house_bills x
                           WHERE x.entry_number = e.entry_number)
    THEN (SELECT substr(max(printf('%d%015.2f', (substr(hts10, 1, 6) = b.ref_hs6)
                                    + (substr(hts10, 1, 4) = substr(b.ref_hs6, 1, 4))
                                    + (substr(hts10, 1, 2) = substr(b.ref_hs6, 1, 2)),
                                    value_usd) || substr(hts10, 1, 6)), -6)
          FROM entry_lines WHERE entry_number = e.entry_number)
    ELSE (SELECT substr(hts10, 1, 6) FROM entry_lines WHERE entry_number = e.entry_number
          ORDER BY value_usd DESC, line_no LIMIT 1)
    END"""
_ITEM_HS6 = (
    "(SELECT hs6 FROM house_bill_items WHERE house_bill = h.house_bill"
    " ORDER BY value DESC, item_no LIMIT 1)"
)
# What the entry's total is compared with: the parcel's declared value; for a consolidated
# entry, the sum over every house bill it covers, known only when all are in the batch.
_COVERED = """(SELECT e.house_bill AS house_bill UNION
    SELECT x.house_bill FROM entry_house_bills x WHERE x.entry_number = e.entry_number)"""
_ENTRY_DECLARED = f"""CASE
    WHEN NOT EXISTS (SELECT 1 FROM entry_house_bills x WHERE x.entry_number = e.entry_number)
        THEN b.declared_usd
    ELSE (SELECT CASE WHEN count(y.house_bill) = count(*) THEN sum(y.declared_usd) END
          FROM {_COVERED} c LEFT JOIN batch y ON y.house_bill = c.house_bill)
    END"""
_LINKED_SUSPENDED = """(SELECT count(DISTINCT x.seller_id) FROM seller_links k
    JOIN sellers x ON x.seller_id = CASE WHEN k.seller_id = s.seller_id
                                         THEN k.linked_seller_id ELSE k.seller_id END
    WHERE (k.seller_id = s.seller_id OR k.linked_seller_id = s.seller_id)
      AND x.status = 'suspended')"""
# The parcel's aggregates; only those the asked fields read are computed.
_GOODS: Mapping[str, str] = {
    "paid": "sum(ol.amount_paid * p.quantity / ol.quantity)",
    "currency": "CASE WHEN count(DISTINCT o.currency) = 1 THEN min(o.currency) END",
    "kyc_verified": "min(s.kyc_verified)",
    "high_volume": "max(s.high_volume)",
    "age": "min(CAST(julianday(o.ordered_at) - julianday(s.registered_at) AS INTEGER))",
    "linked": f"max({_LINKED_SUSPENDED})",
    # bare columns: of the parcel's most valuable line (SQLite's rule for max())
    "country": "s.country",
    "status": "s.status",
    "hint": "l.hs6_hint",
    "gtins": "group_concat(l.gtin, ' ')",
    "names": "group_concat(s.legal_name, char(31))",
}


def _ctes(parcel: bool, exprs: list[str]) -> str:
    """The parcel CTEs with only the goods columns ``exprs`` read ("" without a parcel)."""
    if not parcel:
        return ""
    text = " ".join(exprs)
    columns = "".join(f",\n           {sql} AS {col}" for col, sql in _GOODS.items()
                      if f"g.{col}" in text)
    return _PARCEL.replace("{columns}", columns)
# MIDs compared on the maker of each entry line (never the seller's name).
_LISTED_MID = _if_held(
    "e.entry_number",
    "EXISTS(SELECT 1 FROM entry_lines el JOIN entity_list x ON x.mid = el.mid "
    "WHERE el.entry_number = e.entry_number)",
)
_ENTITY_SQL: Mapping[str, tuple[str, ...]] = {
    "marketplace": ("g.names", "NULL"),
    "carrier": ("h.shipper_name", "NULL"),
    "broker": ("NULL", _LISTED_MID),
}

_FIELDS: Mapping[str, _Field] = {
    # seller_profile
    "kyc_verified": _Field({"marketplace": ("g.kyc_verified",)}, _flag),
    "high_volume_seller": _Field({"marketplace": ("g.high_volume",)}, _flag),
    "account_age_band": _Field({"marketplace": ("g.age",)}, _age_band),
    "linked_suspended_band": _Field({"marketplace": ("g.linked",)}, _linked_band),
    "seller_country": _Field({"marketplace": ("g.country",)}, _plain),
    "seller_status": _Field({"marketplace": ("g.status",)}, _plain),
    # value_check: the goods in this parcel, not the order's total with shipping and tax
    "declared_paid_ratio_band": _Field(
        {"marketplace": ("b.declared_usd", "g.paid", "g.currency")}, _declared_paid
    ),
    # classification_check
    "hs_match_depth": _Field(
        {
            "marketplace": ("g.hint", "b.ref_hs6"),
            "carrier": (f"coalesce({_ITEM_HS6}, h.hs6)", "b.ref_hs6"),
            "broker": (_ENTRY_HTS6, "b.ref_hs6"),
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
        {"broker": (_ENTRY_DECLARED, "e.total_value_usd")}, _entry_declared
    ),
    # list_hits
    "recall_hit": _Field({"marketplace": ("g.gtins", "g.house_bill")}, _recall),
    "entity_list_hit": _Field(_ENTITY_SQL, _entity_hit),
    "entity_name_strength": _Field(
        {role: sql[:1] for role, sql in _ENTITY_SQL.items() if role != "broker"}, _name_strength
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
    parcel, joins, known = _SOURCES[role]
    exprs: list[str] = []
    slices: list[tuple[str, slice]] = []
    for name in execution.fields:
        sql = _FIELDS[name].sql[role]
        slices.append((name, slice(len(exprs), len(exprs) + len(sql))))
        exprs.extend(sql)
    select = ", ".join(["b.house_bill", f"{known} AS known", *exprs])
    statement = (f"{_BATCH}{_ctes(parcel, exprs)} "
                 f"SELECT {select} FROM batch b {joins} ORDER BY b.pos")
    batch = _batch_json(execution.params["shipments"])
    ctx = _Context(execution.conn, execution.settings)
    rows: list[tuple[PyValue, ...]] = []
    for record in execution.conn.execute(statement, {"batch": batch}):
        known_flag = bool(record[1])
        values = record[2:]
        rows.append(
            (
                record[0],
                known_flag,
                *(
                    _FIELDS[name].convert(values[cut], ctx) if known_flag else None
                    for name, cut in slices
                ),
            )
        )
    return ResultTable(columns=("house_bill", "known", *execution.fields), rows=rows)


def _known(execution: Execution) -> ResultTable:
    parcel, joins, known = _SOURCES[execution.role]
    bills = execution.params["house_bills"]
    assert isinstance(bills, list)
    batch = json.dumps([[hb, None, None] for hb in bills])
    select = f"SELECT b.house_bill, {known} FROM batch b {joins} ORDER BY b.pos"
    statement = f"{_BATCH}{_ctes(parcel, [])} {select}"
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
