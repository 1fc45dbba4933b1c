"""The fixed catalogue of questions a node can answer, by name: the declarations.

Node and coordinator both read these: a node binds its SQL to each query by
name (``fedtrade.node.catalogue``), a coordinator checks its parameters and
risk rules against them. A node tells each requester the part it may use
through ``Describe``.
"""

from __future__ import annotations

from collections.abc import Mapping

from fedtrade.protocol.limits import (
    CONSIGNEE_TOTALS_MAX_DAYS,
    CONSIGNEE_WINDOW_MAX_DAYS,
    HOUSE_BILL,
    HS_CHAPTER,
    ORIGIN_COUNTRY,
    STATISTICS_MAX_DAYS,
)
from fedtrade.protocol.spec import ParamSpec, QuerySpec
from fedtrade.trust.ids import ROLES

__all__ = [
    "CATALOGUE",
    "DESCRIBE",
    "INDICATOR_ROLES",
    "INTERVAL_SUFFIX",
    "PRIVACY_COLUMNS",
    "STATISTICS_GROUPS",
    "TOTAL",
]

# The name of the signed query answered by the Describe call (it is not in CATALOGUE).
DESCRIBE = "describe"
STATISTICS_GROUPS = ("hs_chapter", "origin", "week")
# Key value of trade_statistics' grand total row in every key column; no chapter, country
# or week looks like it.
TOTAL = "*"
# Last columns of every trade_statistics row (differential privacy: mechanism, epsilon and
# delta spent, the requester's budget left at this node), and the suffix of the column that
# holds each noisy measure's 95 % interval half-width.
PRIVACY_COLUMNS = ("mechanism", "epsilon", "delta", "budget_remaining")
INTERVAL_SUFFIX = "_pm95"

_MARKETPLACE, _CARRIER, _BROKER = "marketplace", "carrier", "broker"
# Which roles compute each per-shipment indicator, in the order answers list them.
INDICATOR_ROLES: Mapping[str, tuple[str, ...]] = {
    "kyc_verified": (_MARKETPLACE,),
    "high_volume_seller": (_MARKETPLACE,),
    "account_age_band": (_MARKETPLACE,),
    "linked_suspended_band": (_MARKETPLACE,),
    "seller_country": (_MARKETPLACE,),
    "seller_status": (_MARKETPLACE,),
    "declared_paid_ratio_band": (_MARKETPLACE,),
    "hs_match_depth": ROLES,
    "known_shipper": (_CARRIER,),
    "screened": (_CARRIER,),
    "preload_status": (_CARRIER,),
    "entry_type": (_BROKER,),
    "release_status": (_BROKER,),
    "certificate_on_file": (_BROKER,),
    "importer_of_record_present": (_BROKER,),
    "entry_declared_ratio_band": (_BROKER,),
    "recall_hit": (_MARKETPLACE,),
    "entity_list_hit": ROLES,
    # the best party-name match strength (0..1) against the entity list; a broker
    # compares the entry line's maker ID instead
    "entity_name_strength": (_MARKETPLACE, _CARRIER),
}

_SHIPMENTS = ParamSpec(
    "shipments",
    "shipments",
    "the batch: a table with a house_bill column; every house bill must be in an attested "
    "manifest block the question carries, whose declared value and HS6 are the reference",
    batch=True,
)


def _per_shipment(name: str, description: str, fields: tuple[str, ...]) -> QuerySpec:
    roles = frozenset(role for f in fields for role in INDICATOR_ROLES[f])
    return QuerySpec(
        name=name,
        description=description,
        roles=roles,
        params=(_SHIPMENTS,),
        key_columns=("house_bill", "known"),
        output_fields=fields,
        disclosure="per_shipment",
        role_fields={
            role: tuple(f for f in fields if role in INDICATOR_ROLES[f]) for role in roles
        },
    )


_SHIPMENT_QUERIES = (
    QuerySpec(
        name="shipment_known",
        description="For each attested house bill: whether this node holds a record of the "
        "shipment.",
        roles=frozenset(ROLES),
        params=(
            ParamSpec(
                "house_bills",
                "text_list",
                "attested house bill numbers to look up",
                pattern=HOUSE_BILL,
                batch=True,
            ),
        ),
        key_columns=("house_bill", "known"),
        output_fields=(),
        disclosure="per_shipment",
    ),
    _per_shipment(
        "seller_profile",
        "Seller behind each shipment: KYC verified, high-volume seller "
        "(INFORM Act), account age band, linked suspended accounts band, country, status.",
        (
            "kyc_verified",
            "high_volume_seller",
            "account_age_band",
            "linked_suspended_band",
            "seller_country",
            "seller_status",
        ),
    ),
    _per_shipment(
        "value_check",
        "Declared value (from the manifest) over the amount paid at the "
        "marketplace, as a ratio band.",
        ("declared_paid_ratio_band",),
    ),
    _per_shipment(
        "classification_check",
        "How many leading HS digits (6/4/2/0) of this node's code agree with the manifest's HS6.",
        ("hs_match_depth",),
    ),
    _per_shipment(
        "security_profile",
        "Carrier security data: known shipper, screened, pre-load status.",
        ("known_shipper", "screened", "preload_status"),
    ),
    _per_shipment(
        "entry_status",
        "Customs entry filed by the broker: type, release status, "
        "certificate on file, importer of record present, entry value over declared value band.",
        (
            "entry_type",
            "release_status",
            "certificate_on_file",
            "importer_of_record_present",
            "entry_declared_ratio_band",
        ),
    ),
    _per_shipment(
        "shipment_indicators",
        "Every per-shipment indicator this node can compute, in one "
        "pass over the batch (what screening asks each node).",
        tuple(INDICATOR_ROLES),
    ),
    _per_shipment(
        "list_hits",
        "Whether the shipment hits a recalled-product list (GTIN, compared as GTIN-14) or the "
        "forced-labour / denied-party entity list (the entry line's MID, or a party name at "
        "or above the node's match threshold) held by this node, and the name match strength.",
        ("recall_hit", "entity_list_hit", "entity_name_strength"),
    ),
)

_CONSIGNEE_DAILY_TOTALS = QuerySpec(
    name="consignee_daily_totals",
    description="Per consignee (pseudonymous token of the normalised name and address, valid "
    "for this query and its attested blocks only) and window of window_days days starting "
    "on `day` (arrival day at every node): number of shipments and their value in USD "
    "rounded to the node's step, for consignees with several shipments in the window that "
    "hold one of the given attested house bills, and which of those belong to each.",
    roles=frozenset(ROLES),
    params=(
        ParamSpec("date_from", "date", "first day a window may start on (arrival day)"),
        ParamSpec(
            "date_to", "date", f"last day a window may start on, at most "
            f"{CONSIGNEE_TOTALS_MAX_DAYS} days after date_from"
        ),
        ParamSpec("window_days", "integer", f"days summed per window, 1 to "
                  f"{CONSIGNEE_WINDOW_MAX_DAYS} (default 1: per day)", required=False),
        # A batch: the listed bills (else the attested lines) count against max_batch and
        # the shipment rate.
        ParamSpec(
            "house_bills",
            "text_list",
            "attested house bills; only the groups holding one of them are listed "
            "(default: every line of the attested blocks the question carries)",
            pattern=HOUSE_BILL,
            batch=True,
            required=False,
        ),
    ),
    key_columns=("consignee_token", "day"),
    output_fields=("shipments", "value_usd", "house_bills"),
    disclosure="linkage",
)

_TRADE_STATISTICS = QuerySpec(
    name="trade_statistics",
    description="Shipments and value in USD grouped by HS chapter, origin country and/or "
    "ISO week (arrival day; ship day at a marketplace), under differential privacy: "
    "noisy values, each with the half-width of its 95 % interval (<field>_pm95); a cell "
    "appears when its noisy count clears the release threshold; every answer spends "
    "epsilon from the requester's budget at this node (identical repeats are free). Key "
    f"columns follow group_by; the last row is the grand total, keyed {TOTAL!r}.",
    roles=frozenset(ROLES),
    params=(
        ParamSpec("group_by", "choice_list", "1 to 3 of: " + ", ".join(STATISTICS_GROUPS),
                  max_items=len(STATISTICS_GROUPS), choices=STATISTICS_GROUPS),
        ParamSpec("date_from", "date", "first day"),
        ParamSpec("date_to", "date",
                  f"last day, at most {STATISTICS_MAX_DAYS} days after date_from"),
        ParamSpec("hs_chapter", "text", "only this HS chapter (2 digits)", required=False,
                  pattern=HS_CHAPTER),
        ParamSpec("origin", "text", "only this origin country (ISO 3166-1 alpha-2)",
                  required=False, pattern=ORIGIN_COUNTRY),
    ),
    key_columns=PRIVACY_COLUMNS,
    output_fields=("shipments", "value_usd"),
    disclosure="aggregate",
)

CATALOGUE: Mapping[str, QuerySpec] = {
    spec.name: spec
    for spec in (*_SHIPMENT_QUERIES, _CONSIGNEE_DAILY_TOTALS, _TRADE_STATISTICS)
}
