"""Per-shipment indicator queries: flags, bands and match depths for a batch of house bills.

Each batch runs as one set-based statement: the shipments travel as one JSON
array (SQLite) or as column arrays unnested ``WITH ORDINALITY`` (PostgreSQL),
joined against the parcels' evidence the store keeps up to date at import
(``parcel_indicators``, ``node.store.indicators``): one keyed lookup per house
bill, never one statement per shipment. The attested declared values and HS6
travel too only when a field's SQL needs them (a broker's parcels in a consolidated
entry: the batch is then looked up again, see ``_run``); otherwise the house bills
alone do, and the reference values are taken from the batch. Only the fields the
requester may see are put in the SELECT list, and their answers are computed a whole
column at a time (``node.queries.columns``). A
shipment the node does not hold comes back with ``known = false`` and empty
fields — "not known to this node", which is not a negative finding.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import not_
from typing import cast

from fedtrade.node.queries import columns as col
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import POSTGRESQL, SQLITE, Execution, ResultTable, Run, band
from fedtrade.protocol.tables import ColumnRows
from fedtrade.protocol.wire import PyValue

__all__ = ["SHIPMENT_RUNS"]

_BATCH: Mapping[str, str] = {
    SQLITE: """
WITH batch AS (
    SELECT CAST(j.key AS INTEGER) AS pos,
           json_extract(j.value, '$[0]') AS house_bill,
           json_extract(j.value, '$[1]') AS declared_usd,
           json_extract(j.value, '$[2]') AS ref_hs6
    FROM json_each(:batch) AS j
)
""",
    POSTGRESQL: """
WITH batch AS (
    SELECT b.pos, b.house_bill, b.declared_usd, b.ref_hs6
    FROM unnest(%(house_bills)s::text[], %(declared)s::float8[], %(hs6)s::text[])
         WITH ORDINALITY AS b (house_bill, declared_usd, ref_hs6, pos)
)
""",
}

# When no SQL expression needs the reference values, only the house bills travel.
_BILLS: Mapping[str, str] = {
    SQLITE: """
WITH batch AS (
    SELECT CAST(j.key AS INTEGER) AS pos, j.value AS house_bill FROM json_each(:bills) AS j
)
""",
    POSTGRESQL: """
WITH batch AS (
    SELECT b.pos, b.house_bill
    FROM unnest(%(house_bills)s::text[]) WITH ORDINALITY AS b (house_bill, pos)
)
""",
}
# Reference values a field only passes on are taken from the batch as it is, not from SQL.
_FROM_BATCH: Mapping[str, str] = {"b.declared_usd": "declared_value_usd", "b.ref_hs6": "hs6"}

# Every role keeps its parcels' evidence in ``parcel_indicators`` (node.store.indicators,
# rebuilt at import): a batch is one keyed lookup per house bill.
_JOIN = "LEFT JOIN parcel_indicators p ON p.house_bill = b.house_bill"
_KNOWN = "p.house_bill IS NOT NULL"


Convert = Callable[[tuple[PyValue, ...], QuerySettings], PyValue]
# A whole column at a time (node.queries.columns); None: the values need ``Convert``.
Vector = Callable[[Sequence[col.Column], QuerySettings], list[PyValue] | None]


@dataclass(frozen=True)
class _Field:
    """One output field: SQL expressions per role and how to turn their values into the
    answer: ``convert`` per row (the reference), ``vector`` per column (what runs)."""

    sql: Mapping[str, tuple[str, ...]]
    convert: Convert
    vector: Vector


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
    if not isinstance(days, int | float):
        return None
    return band(float(days), settings.account_age_days, "d")


def _linked_band(raw: tuple[PyValue, ...], settings: QuerySettings) -> PyValue:
    return count_band(raw[0], settings.linked_suspended)


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


def _entity_hit(raw: tuple[PyValue, ...], settings: QuerySettings) -> PyValue:
    """A listed maker (MID, broker) or a party name at or above the match threshold."""
    strength, mid_hit = raw
    if mid_hit:
        return True
    if not isinstance(strength, float):
        return None if mid_hit is None else False
    return strength >= settings.name_match_threshold


# What the entry's total is compared with: the parcel's declared value; for a consolidated
# entry, the sum over every house bill it covers, known only when all are in the batch.
_COVERED = """(SELECT p.entry_house_bill AS house_bill UNION
    SELECT x.house_bill FROM entry_house_bills x WHERE x.entry_number = p.entry_number)"""
_ENTRY_DECLARED = f"""CASE
    WHEN coalesce(p.consolidated, 0) = 0 THEN b.declared_usd
    ELSE (SELECT CASE WHEN count(y.house_bill) = count(*) THEN sum(y.declared_usd) END
          FROM {_COVERED} AS c LEFT JOIN batch y ON y.house_bill = c.house_bill)
    END"""
# A consolidated entry's lines name no house bill, so a bill is compared with the line
# closest to its code (then the most valuable); any other entry with its most valuable
# line, kept at import. SQLite cannot read the outer row in a subquery's ORDER BY, hence
# max() of a sort key there; ``_ENTRY_HTS6`` in a field's SQL stands for the dialect's form.
_ENTRY_HTS6 = "ENTRY_HTS6"
_CLOSEST_LINE: Mapping[str, str] = {
    SQLITE: """(SELECT substr(max(printf('%d%015.2f', (substr(hts10, 1, 6) = b.ref_hs6)
                                    + (substr(hts10, 1, 4) = substr(b.ref_hs6, 1, 4))
                                    + (substr(hts10, 1, 2) = substr(b.ref_hs6, 1, 2)),
                                    value_usd) || substr(hts10, 1, 6)), -6)
          FROM entry_lines WHERE entry_number = p.entry_number)""",
    POSTGRESQL: """(SELECT substr(hts10, 1, 6) FROM entry_lines
          WHERE entry_number = p.entry_number
          ORDER BY coalesce((substr(hts10, 1, 6) = b.ref_hs6)::int, 0)
                   + coalesce((substr(hts10, 1, 4) = substr(b.ref_hs6, 1, 4))::int, 0)
                   + coalesce((substr(hts10, 1, 2) = substr(b.ref_hs6, 1, 2))::int, 0) DESC,
                   round(value_usd::numeric, 2) DESC, substr(hts10, 1, 6) DESC LIMIT 1)""",
}
_ENTRY_HTS6_SQL: Mapping[str, str] = {
    dialect: f"CASE WHEN coalesce(p.consolidated, 0) <> 0 THEN {closest} ELSE p.hts6 END"
    for dialect, closest in _CLOSEST_LINE.items()
}
# The broker's entry expressions for a parcel in no consolidated entry, which need nothing
# but the parcel and the batch's own reference values (see _run).
_CONSOLIDATED = "coalesce(p.consolidated, 0) <> 0"
_UNLESS_CONSOLIDATED: Mapping[str, str] = {_ENTRY_HTS6: "p.hts6", _ENTRY_DECLARED: "b.declared_usd"}
_NULL = "NULL"  # a raw value the role does not have: not selected, None for every shipment
_ENTITY_SQL: Mapping[str, tuple[str, ...]] = {
    "marketplace": ("p.name_strength", _NULL),
    "carrier": ("p.name_strength", _NULL),
    "broker": (_NULL, "p.listed_mid"),
}

_FIELDS: Mapping[str, _Field] = {
    # seller_profile
    "kyc_verified": _Field({"marketplace": ("p.kyc_verified",)}, _flag, col.flags),
    "high_volume_seller": _Field({"marketplace": ("p.high_volume",)}, _flag, col.flags),
    "account_age_band": _Field({"marketplace": ("p.age",)}, _age_band, col.age_bands),
    "linked_suspended_band": _Field({"marketplace": ("p.linked",)}, _linked_band, col.linked_bands),
    "seller_country": _Field({"marketplace": ("p.country",)}, _plain, col.plains),
    "seller_status": _Field({"marketplace": ("p.status",)}, _plain, col.plains),
    # value_check: the goods in this parcel, not the order's total with shipping and tax
    "declared_paid_ratio_band": _Field(
        {"marketplace": ("b.declared_usd", "p.paid", "p.currency")}, _declared_paid,
        col.declared_paids,
    ),
    # classification_check
    "hs_match_depth": _Field(
        {
            "marketplace": ("p.hint", "b.ref_hs6"),
            "carrier": ("p.hs6", "b.ref_hs6"),
            "broker": (_ENTRY_HTS6, "b.ref_hs6"),
        },
        _depth,
        col.depths,
    ),
    # security_profile
    "known_shipper": _Field({"carrier": ("p.known_shipper",)}, _flag, col.flags),
    "screened": _Field({"carrier": ("p.screened",)}, _flag, col.flags),
    "preload_status": _Field({"carrier": ("p.preload_status",)}, _plain, col.plains),
    # entry_status
    "entry_type": _Field({"broker": ("p.entry_type",)}, _plain, col.plains),
    "release_status": _Field({"broker": ("p.release_status",)}, _plain, col.plains),
    "certificate_on_file": _Field({"broker": ("p.certificate_on_file",)}, _flag, col.flags),
    "importer_of_record_present": _Field({"broker": ("p.importer_present",)}, _flag, col.flags),
    "entry_declared_ratio_band": _Field(
        {"broker": (_ENTRY_DECLARED, "p.total_value_usd")}, _entry_declared, col.entry_declareds
    ),
    # list_hits
    "recall_hit": _Field({"marketplace": ("p.recall_hit",)}, _flag, col.flags),
    "entity_list_hit": _Field(_ENTITY_SQL, _entity_hit, col.entity_hits),
    "entity_name_strength": _Field(
        {role: sql[:1] for role, sql in _ENTITY_SQL.items() if role != "broker"}, _plain,
        col.plains,
    ),
}


def _batch_params(
    dialect: str, bills: Sequence[PyValue], declared: Sequence[PyValue], hs6: Sequence[PyValue]
) -> dict[str, PyValue]:
    """The batch as the dialect's statement takes it: one JSON array of [house_bill,
    declared_value_usd, hs6] rows, or three arrays (declared values as floats)."""
    if dialect == POSTGRESQL:
        return {"house_bills": list(bills), "hs6": list(hs6),
                "declared": [float(v) if isinstance(v, int | float) else None for v in declared]}
    return {"batch": json.dumps(list(zip(bills, declared, hs6, strict=True)))}


def _batch(value: PyValue) -> Mapping[str, list[PyValue]]:
    """The validated batch parameter: house bills and their reference values, by column."""
    assert isinstance(value, dict)
    return value


def _lookup(execution: Execution, shipments: Mapping[str, list[PyValue]],
            exprs: Sequence[str]) -> list[Sequence[PyValue]]:
    """The columns known and ``exprs`` (distinct SQL expressions) for the batch, in its
    order; a shipment's house bill is not read back (the batch has it)."""
    bills = shipments["house_bill"]
    dialect = execution.dialect
    select = ", ".join([f"{_KNOWN} AS known", *exprs])
    select = select.replace(_ENTRY_HTS6, _ENTRY_HTS6_SQL[dialect])
    if any(name in select for name in _FROM_BATCH):
        start = _BATCH[dialect]
        batch = _batch_params(dialect, bills, shipments["declared_value_usd"], shipments["hs6"])
    else:
        start = _BILLS[dialect]
        batch = {"house_bills": bills} if dialect == POSTGRESQL else {"bills": json.dumps(bills)}
    records = execution.conn.execute(
        f"{start} SELECT {select} FROM batch b {_JOIN} ORDER BY b.pos", batch).fetchall()
    if len(records) != len(bills):  # one row per house bill: the join is on the key
        raise AssertionError(f"{len(records)} rows for a batch of {len(bills)}")
    return list(zip(*records, strict=True)) if records else [()] * (len(exprs) + 1)


@dataclass(frozen=True)
class _Plan:
    """Where each raw value of the fields comes from: a batch column (str), none (None) or
    its place among the SQL columns (int: each distinct expression selected once, the list
    fields share some); ``consolidated``: the SQL column saying a parcel needs the full plan."""

    sources: list[str | int | None]
    exprs: list[str]
    consolidated: int | None


def _plan(execution: Execution, *, plain: bool) -> _Plan:
    selected: dict[str, int] = {}
    sources: list[str | int | None] = []
    consolidated = None
    for name in execution.fields:
        for expr in _FIELDS[name].sql[execution.role]:
            if plain and expr in _UNLESS_CONSOLIDATED:
                expr = _UNLESS_CONSOLIDATED[expr]
                consolidated = selected.setdefault(_CONSOLIDATED, len(selected) + 1)
            if expr in _FROM_BATCH:
                sources.append(_FROM_BATCH[expr])
            elif expr == _NULL:
                sources.append(None)
            else:
                sources.append(selected.setdefault(expr, len(selected) + 1))
    return _Plan(sources, list(selected), consolidated)


def _run(execution: Execution) -> ResultTable:
    shipments = _batch(execution.params["shipments"])
    # First as if no parcel of the batch were in a consolidated entry (then only the house
    # bills travel); when one is, again with every expression as it is.
    plan = _plan(execution, plain=True)
    raw = _lookup(execution, shipments, plan.exprs)
    if plan.consolidated is not None and any(raw[plan.consolidated]):
        plan = _plan(execution, plain=False)
        raw = _lookup(execution, shipments, plan.exprs)
    nulls: list[PyValue] = [None] * len(shipments["house_bill"])
    values = [shipments[s] if isinstance(s, str) else nulls if s is None else raw[s]
              for s in plan.sources]
    known = list(map(bool, raw[0]))
    unknown = list(itertools.compress(itertools.count(), map(not_, known)))
    out: list[list[PyValue]] = [list(shipments["house_bill"]), cast(list[PyValue], known)]
    start = 0
    for name in execution.fields:
        field = _FIELDS[name]
        width = len(field.sql[execution.role])
        out.append(_convert(field, values[start:start + width], unknown, execution.settings))
        start += width
    return ResultTable(columns=("house_bill", "known", *execution.fields), rows=ColumnRows(out))


def _convert(field: _Field, raw: Sequence[col.Column], unknown: list[int],
             settings: QuerySettings) -> list[PyValue]:
    """One answer column; a shipment the node does not hold (rows ``unknown``) has no value."""
    values = field.vector(raw, settings)
    if values is None:
        values = [field.convert(row, settings) for row in zip(*raw, strict=True)]
    for row in unknown:  # a new list either way, so set in place
        values[row] = None
    return values


def _known(execution: Execution) -> ResultTable:
    bills = execution.params["house_bills"]
    assert isinstance(bills, list)
    (known,) = _lookup(execution, {"house_bill": bills}, ())
    return ResultTable(columns=("house_bill", "known"),
                       rows=ColumnRows([list(bills), list(map(bool, known))]))


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
