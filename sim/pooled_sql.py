"""The pooled hub's screening as one SQL statement, shared by every pooled engine.

One definition of each indicator and of the split totals, written once in the
SQL that SQLite and DuckDB both run; the few functions the two spell
differently (day numbers, dates, integer division) come from
a ``Dialect``. Whatever needs Python (consignee normalisation, GTIN-14, name
similarity) was computed into the ``px_`` tables when the pooled database was
built, as a hub would at ingest, and so was what the nodes keep per parcel from
their imports (``ingest_statements``): the hub is given the same head start.

What it mirrors, so that the benchmark can check ``federated = pooled`` cell by
cell:

- ``shipment_indicators`` as each node answers it (``node.queries.shipments``),
  with the parcel's goods, the broker's consolidated entries (their total is
  compared with the batch's declared values only when every bill they cover is
  in the same screening batch; each bill's code with the entry line closest to
  the manifest's code: most leading HS6, HS4 and HS2 matches, then the larger
  value in cents, then the larger code, as the node's sort key) and the bands of
  ``QuerySettings``;
- split detection as ``coordinator.screening`` combines ``consignee_daily_totals``
  (``node.queries.linkage``): every node counts a parcel on its arrival day (the
  marketplace: ship day plus ``transit_days``); a window of ``window_days`` opens
  on each day a consignee has a parcel, from ``window_days - 1`` days before the
  manifest's first day to its last; a node lists a window with at least
  ``min_consignee_shipments`` parcels that holds a house bill of the question's
  batch, its value rounded (half to even) to ``consignee_value_step_usd``; per
  (consignee, opening, batch) the largest of the listing roles' totals and the
  manifest's own total (over the manifest consignees of the bills listed) is
  compared with the threshold, unless a listed bill's consignee is at a
  forwarding address; a bill takes its earliest flagged window (same day: the
  one listed by the first node in node-id order, i.e. role order in
  ``sim.federation``). One node per role, as in ``sim.federation``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fedtrade.node.queries.settings import QuerySettings
from fedtrade.trust.ids import ROLES

__all__ = [
    "DIALECTS",
    "MANIFEST_TABLE",
    "POOLED_COLUMNS",
    "PREFIXES",
    "SPLIT_COLUMNS",
    "Dialect",
    "PooledSettings",
    "band_sql",
    "count_band_sql",
    "ingest_statements",
    "statement",
]

MANIFEST_TABLE = "cbp_manifest"


@dataclass(frozen=True)
class Dialect:
    """SQL templates an engine spells its own way ({x}: an expression; {a}, {b}: operands)."""

    day: str  # ISO date or timestamp text -> day number since 1970-01-01 (integer)
    iso: str  # day number -> 'YYYY-MM-DD'
    idiv: str  # integer division of non-negative integers


DIALECTS: Mapping[str, Dialect] = {
    "sqlite": Dialect(
        day="CAST(julianday(substr({x}, 1, 10)) - 2440587.5 AS INTEGER)",
        iso="date(({x}) * 86400, 'unixepoch')",
        idiv="(({a}) / ({b}))",
    ),
    "duckdb": Dialect(
        day="(CAST(substr({x}, 1, 10) AS DATE) - DATE '1970-01-01')",
        iso="CAST(DATE '1970-01-01' + CAST({x} AS INTEGER) AS VARCHAR)",
        idiv="(({a}) // ({b}))",
    ),
}


@dataclass(frozen=True)
class PooledSettings:
    """What the nodes and the coordinator are configured with, for the hub to compute alike."""

    query: QuerySettings = field(default_factory=QuerySettings)
    threshold_usd: float = 800.0  # 0: no split detection
    window_days: int = 3
    batch_size: int = 5_000  # the coordinator's screening batch (questions are per batch)
    forwarding_addresses: frozenset[str] = frozenset()  # normalised, as the coordinator's


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def band_sql(expr: str, edges: Sequence[float], unit: str = "") -> str:
    """SQL for node.queries.spec.band: the same labels for the same edges."""
    whens = [f"WHEN {expr} < {edges[0]!r} THEN '<{edges[0]:g}{unit}'"]
    whens += [f"WHEN {expr} < {high!r} THEN '{low:g}-{high:g}{unit}'"
              for low, high in itertools.pairwise(edges)]
    return (f"CASE WHEN {expr} IS NULL THEN NULL {' '.join(whens)} "
            f"ELSE '>={edges[-1]:g}{unit}' END")


def count_band_sql(expr: str, edges: Sequence[int]) -> str:
    """SQL for node.queries.shipments.count_band."""
    first = f"CAST({expr} AS VARCHAR)" if edges[0] == 1 else f"'<{edges[0]}'"
    whens = [f"WHEN {expr} < {edges[0]} THEN {first}"]
    whens += [f"WHEN {expr} < {high} THEN '{low if high == low + 1 else f'{low}-{high - 1}'}'"
              for low, high in itertools.pairwise(edges)]
    return f"CASE WHEN {expr} IS NULL THEN NULL {' '.join(whens)} ELSE '{edges[-1]}+' END"


def _ratio(declared: str, actual: str, edges: Sequence[float]) -> str:
    ratio = f"({declared} / {actual})"
    return (f"CASE WHEN {declared} IS NULL OR {actual} IS NULL OR {actual} = 0 THEN NULL "
            f"ELSE {band_sql(ratio, edges)} END")


def _depth(code: str) -> str:
    """SQL for node.queries.shipments.match_depth against the manifest's HS6."""
    return (f"CASE WHEN {code} IS NULL OR ref_hs6 IS NULL THEN NULL "
            + " ".join(f"WHEN substr({code}, 1, {d}) = substr(ref_hs6, 1, {d}) THEN {d}"
                       for d in (6, 4, 2))
            + " ELSE 0 END")


def _hit(strength: str, threshold: float) -> str:
    return (f"CASE WHEN {strength} IS NULL THEN NULL "
            f"WHEN {strength} >= {threshold!r} THEN 1 ELSE 0 END")


def _fields(settings: QuerySettings) -> dict[str, dict[str, str]]:
    """Per role, each shipment_indicators field as SQL over the raw row."""
    threshold = settings.name_match_threshold
    return {
        "marketplace": {
            "kyc_verified": "mp_kyc",
            "high_volume_seller": "mp_high_volume",
            "account_age_band": band_sql("mp_age", settings.account_age_days, "d"),
            "linked_suspended_band": count_band_sql("mp_linked", settings.linked_suspended),
            "seller_country": "mp_country",
            "seller_status": "mp_status",
            "declared_paid_ratio_band": _ratio("declared", "mp_paid_usd",
                                               settings.value_ratio_bands),
            "hs_match_depth": _depth("mp_hs6"),
            "recall_hit": "mp_recall",
            "entity_list_hit": _hit("mp_strength", threshold),
            "entity_name_strength": "mp_strength",
        },
        "carrier": {
            "hs_match_depth": _depth("cr_hs6"),
            "known_shipper": "cr_known_shipper",
            "screened": "cr_screened",
            "preload_status": "cr_preload",
            "entity_list_hit": _hit("cr_strength", threshold),
            "entity_name_strength": "cr_strength",
        },
        "broker": {
            "hs_match_depth": _depth("bk_hs6"),
            "entry_type": "bk_type",
            "release_status": "bk_release",
            "certificate_on_file": "bk_certificate",
            "importer_of_record_present": "bk_importer",
            "entry_declared_ratio_band": _ratio("bk_declared", "bk_entry_usd",
                                                settings.value_ratio_bands),
            "entity_list_hit": "bk_entity",
        },
    }


PREFIXES: Mapping[str, str] = {"marketplace": "mp_", "carrier": "cr_", "broker": "bk_"}
_FIELD_NAMES = {role: tuple(fields) for role, fields in _fields(QuerySettings()).items()}
SPLIT_COLUMNS = ("split_day", "split_sources", "split_role", "split_parcels", "split_value_usd")
POOLED_COLUMNS: tuple[str, ...] = (
    "house_bill",
    *(f"{role}.{name}" for role in ROLES for name in ("known", *_FIELD_NAMES[role])),
    *SPLIT_COLUMNS,
)
"""The columns of a pooled result: flags are 0/1, fields of a role that does not hold the
shipment NULL; split_sources names the listing roles ("broker+carrier"), split_role the
largest total's role (or "manifest"); split columns are NULL for a shipment not flagged."""


def _inputs(settings: PooledSettings) -> str:
    """The exchange rates and forwarding addresses, as constant tables."""
    rates = ", ".join(f"({_literal(c)}, {float(r)!r})"
                      for c, r in sorted(settings.query.currency_per_usd.items()))
    fx = f"fx(currency, per_usd) AS (VALUES {rates})" if rates else \
        "fx(currency, per_usd) AS (SELECT 'USD', 1.0 WHERE 1 = 0)"
    addresses = ", ".join(f"({_literal(a)})" for a in sorted(settings.forwarding_addresses))
    fwd = f"fwd(address) AS (VALUES {addresses})" if addresses else \
        "fwd(address) AS (SELECT 'none' WHERE 1 = 0)"
    return f"{fx},\n{fwd}"


def _split(d: Dialect, settings: PooledSettings) -> str:
    """CTEs ending in ``split``: per flagged house bill its window and largest total."""
    query = settings.query
    width = settings.window_days
    step = float(query.disclosure.consignee_value_step_usd)
    day = d.day.format
    enabled = 1 if settings.threshold_usd > 0 else 0
    return f"""
bounds AS (
    SELECT min({day(x="arrival_date")}) AS first, max({day(x="arrival_date")}) AS last
    FROM {MANIFEST_TABLE}
),
man AS MATERIALIZED (
    SELECT m.pos, m.house_bill, {d.idiv.format(a="m.pos - 1", b=settings.batch_size)} AS batch,
           p.consignee, p.address_key, {day(x="m.arrival_date")} AS day,
           m.declared_usd, m.declared_value_usd
    FROM {MANIFEST_TABLE} m
    JOIN px_party p ON p.name = m.consignee_name AND p.address = m.consignee_address
),
np AS (
    SELECT n.role, n.house_bill, n.party,
           n.day + CASE WHEN n.role = 'marketplace' THEN {query.transit_days} ELSE 0 END AS day,
           coalesce(n.value / fx.per_usd, 0.0) AS usd
    FROM px_parcels n LEFT JOIN fx ON fx.currency = n.currency
),
near AS MATERIALIZED (
    SELECT np.role, np.house_bill, np.party, np.day, np.usd FROM np, bounds
    WHERE np.day >= bounds.first - {width - 1} AND np.day <= bounds.last + {width - 1}
),
openings AS (
    SELECT DISTINCT near.role, near.party, near.day AS d FROM near, bounds
    WHERE near.day <= bounds.last
),
inside AS MATERIALIZED (
    SELECT o.role, o.party, o.d, p.house_bill, p.usd
    FROM openings o JOIN near p ON p.role = o.role AND p.party = o.party
     AND p.day >= o.d AND p.day < o.d + {width}
),
win_sum AS (
    SELECT role, party, d, count(*) AS parcels, sum(usd) / {step!r} AS steps
    FROM inside GROUP BY role, party, d
    HAVING count(*) >= {query.disclosure.min_consignee_shipments}
),
win AS MATERIALIZED (
    SELECT role, party, d, parcels,
           CASE WHEN round(steps) - steps = 0.5 THEN 2 * round(steps / 2)
                ELSE round(steps) END * {step!r} AS usd
    FROM win_sum
),
hits AS MATERIALIZED (
    SELECT i.role, i.party, i.d, man.batch, man.house_bill
    FROM inside i JOIN man ON man.house_bill = i.house_bill
    WHERE EXISTS (SELECT 1 FROM win w WHERE w.role = i.role AND w.party = i.party AND w.d = i.d)
),
listing AS MATERIALIZED (SELECT DISTINCT role, party, d, batch FROM hits),
gbills AS MATERIALIZED (SELECT DISTINCT party, d, batch, house_bill FROM hits),
gcons AS (
    SELECT DISTINCT g.party, g.d, g.batch, man.consignee
    FROM gbills g JOIN man ON man.house_bill = g.house_bill
),
gman AS (
    SELECT c.party, c.d, c.batch, count(x.pos) AS parcels,
           coalesce(sum(x.declared_usd), 0.0) AS usd
    FROM gcons c LEFT JOIN man x ON x.consignee = c.consignee
     AND x.day >= c.d AND x.day < c.d + {width}
    GROUP BY c.party, c.d, c.batch
),
forwarded AS (
    SELECT DISTINCT g.party, g.d, g.batch
    FROM gbills g JOIN man ON man.house_bill = g.house_bill
    JOIN fwd ON fwd.address = man.address_key
),
candidates AS (
    SELECT l.party, l.d, l.batch, l.role, w.parcels, w.usd
    FROM listing l JOIN win w ON w.role = l.role AND w.party = l.party AND w.d = l.d
    UNION ALL
    SELECT party, d, batch, 'manifest', parcels, usd FROM gman
),
best AS (
    SELECT party, d, batch, role, parcels, usd,
           row_number() OVER (PARTITION BY party, d, batch
                              ORDER BY usd DESC, parcels DESC, role DESC) AS r
    FROM candidates
),
sources AS (
    SELECT party, d, batch, min(role) AS creator, rtrim(
        CASE WHEN max(CASE WHEN role = 'broker' THEN 1 ELSE 0 END) = 1
             THEN 'broker+' ELSE '' END ||
        CASE WHEN max(CASE WHEN role = 'carrier' THEN 1 ELSE 0 END) = 1
             THEN 'carrier+' ELSE '' END ||
        CASE WHEN max(CASE WHEN role = 'marketplace' THEN 1 ELSE 0 END) = 1
             THEN 'marketplace+' ELSE '' END, '+') AS roles
    FROM listing GROUP BY party, d, batch
),
flagged AS (
    SELECT b.party, b.d, b.batch, b.role, b.parcels, b.usd, s.creator, s.roles
    FROM best b JOIN sources s ON s.party = b.party AND s.d = b.d AND s.batch = b.batch
    WHERE b.r = 1 AND b.usd > {float(settings.threshold_usd)!r} AND {enabled} = 1
      AND NOT EXISTS (SELECT 1 FROM forwarded x
                      WHERE x.party = b.party AND x.d = b.d AND x.batch = b.batch)
),
split AS (
    SELECT house_bill, {d.iso.format(x="d")} AS day, roles, role, parcels, usd FROM (
        SELECT g.house_bill, f.d, f.roles, f.role, f.parcels, f.usd,
               row_number() OVER (PARTITION BY g.house_bill
                                  ORDER BY f.d, f.creator, f.party) AS r
        FROM flagged f JOIN gbills g ON g.party = f.party AND g.d = f.d AND g.batch = f.batch
    ) first_window WHERE r = 1
)"""


def _indicators() -> str:
    """CTEs ending in ``raw``: one row per manifest shipment with each party's raw values."""
    return f""",
entry_near AS (
    SELECT pos, hs6 FROM (
        SELECT m.pos, substr(x.hts10, 1, 6) AS hs6, row_number() OVER (
            PARTITION BY m.pos
            ORDER BY CASE WHEN substr(x.hts10, 1, 6) = m.hs6 THEN 1 ELSE 0 END
                     + CASE WHEN substr(x.hts10, 1, 4) = substr(m.hs6, 1, 4) THEN 1 ELSE 0 END
                     + CASE WHEN substr(x.hts10, 1, 2) = substr(m.hs6, 1, 2) THEN 1 ELSE 0 END
                     DESC, round(x.value_usd, 2) DESC, substr(x.hts10, 1, 6) DESC) AS r
        FROM {MANIFEST_TABLE} m JOIN px_entry_of eo ON eo.house_bill = m.house_bill
        JOIN px_cover_size cs ON cs.entry_number = eo.entry_number
        JOIN bk_entry_lines x ON x.entry_number = eo.entry_number
    ) ranked WHERE r = 1
),
cover_batch AS (
    SELECT c.entry_number, man.batch, count(*) AS n, sum(man.declared_value_usd) AS usd
    FROM px_covered c JOIN man ON man.house_bill = c.house_bill
    GROUP BY c.entry_number, man.batch
),
raw AS (
    SELECT man.pos, man.house_bill, man.declared_value_usd AS declared, m.hs6 AS ref_hs6,
        CASE WHEN f.order_id IS NOT NULL THEN 1 ELSE 0 END AS mp_known,
        g.kyc AS mp_kyc, g.high_volume AS mp_high_volume, g.age AS mp_age,
        g.linked AS mp_linked, g.country AS mp_country, g.status AS mp_status,
        g.paid / fxo.per_usd AS mp_paid_usd, g.hint AS mp_hs6,
        CASE WHEN g.house_bill IS NOT NULL THEN g.recall END AS mp_recall,
        g.strength AS mp_strength,
        CASE WHEN h.house_bill IS NOT NULL THEN 1 ELSE 0 END AS cr_known,
        coalesce(it.hs6, h.hs6) AS cr_hs6,
        h.known_shipper AS cr_known_shipper, h.screened AS cr_screened,
        h.preload_status AS cr_preload, crn.strength AS cr_strength,
        CASE WHEN e.entry_number IS NOT NULL THEN 1 ELSE 0 END AS bk_known,
        CASE WHEN cs.n IS NULL THEN el.hs6 ELSE en.hs6 END AS bk_hs6,
        e.entry_type AS bk_type, e.release_status AS bk_release,
        CASE WHEN e.entry_number IS NOT NULL THEN coalesce(el.certificate, 0) END
            AS bk_certificate,
        CASE WHEN e.entry_number IS NULL THEN NULL
             WHEN e.importer_of_record IS NOT NULL THEN 1 ELSE 0 END AS bk_importer,
        CASE WHEN cs.n IS NULL THEN man.declared_value_usd
             WHEN cb.n = cs.n THEN cb.usd END AS bk_declared,
        e.total_value_usd AS bk_entry_usd,
        CASE WHEN e.entry_number IS NOT NULL THEN coalesce(el.listed, 0) END AS bk_entity,
        split.day AS split_day, split.roles AS split_sources, split.role AS split_role,
        split.parcels AS split_parcels, split.usd AS split_value_usd
    FROM man JOIN {MANIFEST_TABLE} m ON m.pos = man.pos
    LEFT JOIN mp_fulfillments f ON f.house_bill = man.house_bill
    LEFT JOIN px_goods g ON g.house_bill = man.house_bill
    LEFT JOIN fx fxo ON fxo.currency = g.currency
    LEFT JOIN cr_house_bills h ON h.house_bill = man.house_bill
    LEFT JOIN px_item_top it ON it.house_bill = man.house_bill
    LEFT JOIN px_name crn ON crn.role = 'carrier' AND crn.name = h.shipper_name
    LEFT JOIN px_entry_of eo ON eo.house_bill = man.house_bill
    LEFT JOIN bk_entries e ON e.entry_number = eo.entry_number
    LEFT JOIN px_entry_lines el ON el.entry_number = e.entry_number
    LEFT JOIN px_cover_size cs ON cs.entry_number = e.entry_number
    LEFT JOIN entry_near en ON en.pos = man.pos
    LEFT JOIN cover_batch cb ON cb.entry_number = e.entry_number AND cb.batch = man.batch
    LEFT JOIN split ON split.house_bill = man.house_bill
)"""


def ingest_statements() -> tuple[str, ...]:
    """What the hub computes once at ingest, in SQLite, as each node keeps per-parcel tables
    at import (``parcel_indicators``, ``consignee_parcels``): every held house bill's
    evidence and every parcel's consignee, day and value, whatever the manifest; rates,
    bands and the manifest's own values are applied by ``statement`` per screening."""
    day = DIALECTS["sqlite"].day.format
    age = "CAST(julianday(o.ordered_at) - julianday(s.registered_at) AS INTEGER)"
    return (
        """CREATE TABLE px_goods (house_bill TEXT PRIMARY KEY, paid REAL, currency TEXT,
    kyc INTEGER, high_volume INTEGER, age INTEGER, linked INTEGER, recall INTEGER,
    strength REAL, country TEXT, status TEXT, hint TEXT)""",
        f"""INSERT INTO px_goods
WITH parcel AS (
    SELECT pl.house_bill, pl.order_id, pl.line_no, pl.quantity FROM mp_parcel_lines pl
    UNION ALL
    SELECT f.house_bill, ol.order_id, ol.line_no, ol.quantity
    FROM mp_fulfillments f JOIN mp_order_lines ol ON ol.order_id = f.order_id
    WHERE NOT EXISTS (SELECT 1 FROM mp_parcel_lines x WHERE x.house_bill = f.house_bill)
      AND NOT EXISTS (SELECT 1 FROM mp_fulfillments y
                      WHERE y.order_id = f.order_id AND y.house_bill <> f.house_bill)
),
pline AS (
    SELECT p.house_bill, ol.amount_paid * p.quantity / ol.quantity AS amount, o.currency,
           s.seller_id, s.kyc_verified, s.high_volume, s.country, s.status, s.legal_name,
           {age} AS age, l.hs6_hint, l.gtin,
           row_number() OVER (PARTITION BY p.house_bill
                              ORDER BY ol.amount_paid * p.quantity / ol.quantity DESC NULLS LAST,
                                       p.order_id, p.line_no) AS rank
    FROM parcel p
    JOIN mp_order_lines ol ON ol.order_id = p.order_id AND ol.line_no = p.line_no
    JOIN mp_orders o ON o.order_id = p.order_id
    JOIN mp_listings l ON l.listing_id = ol.listing_id
    JOIN mp_sellers s ON s.seller_id = l.seller_id
),
linked AS (
    SELECT a.seller_id, count(DISTINCT a.other) AS n FROM (
        SELECT seller_id, linked_seller_id AS other FROM mp_seller_links
        UNION ALL SELECT linked_seller_id, seller_id FROM mp_seller_links
    ) a JOIN mp_sellers x ON x.seller_id = a.other
    WHERE x.status = 'suspended' GROUP BY a.seller_id
)
SELECT pl.house_bill, sum(pl.amount),
       CASE WHEN count(DISTINCT pl.currency) = 1 THEN min(pl.currency) END,
       min(pl.kyc_verified), max(pl.high_volume), min(pl.age),
       max(coalesce(lk.n, 0)), max(coalesce(g.recalled, 0)), max(nm.strength),
       max(CASE WHEN pl.rank = 1 THEN pl.country END),
       max(CASE WHEN pl.rank = 1 THEN pl.status END),
       max(CASE WHEN pl.rank = 1 THEN pl.hs6_hint END)
FROM pline pl LEFT JOIN linked lk ON lk.seller_id = pl.seller_id
LEFT JOIN px_gtin g ON g.gtin = pl.gtin
LEFT JOIN px_name nm ON nm.role = 'marketplace' AND nm.name = pl.legal_name
GROUP BY pl.house_bill""",
        "CREATE TABLE px_item_top (house_bill TEXT PRIMARY KEY, hs6 TEXT)",
        """INSERT INTO px_item_top
SELECT house_bill, hs6 FROM (
    SELECT house_bill, hs6, row_number() OVER (
        PARTITION BY house_bill ORDER BY value DESC NULLS LAST, item_no) AS r
    FROM cr_house_bill_items
) ranked WHERE r = 1""",
        "CREATE TABLE px_entry_of (house_bill TEXT PRIMARY KEY, entry_number TEXT)",
        """INSERT INTO px_entry_of
SELECT b.house_bill, coalesce(
    (SELECT max(x.entry_number) FROM bk_entries x WHERE x.house_bill = b.house_bill),
    (SELECT max(x.entry_number) FROM bk_entry_house_bills x WHERE x.house_bill = b.house_bill))
FROM (SELECT house_bill FROM bk_entries UNION SELECT house_bill FROM bk_entry_house_bills) b
WHERE b.house_bill IS NOT NULL""",
        """CREATE TABLE px_entry_lines (entry_number TEXT PRIMARY KEY, certificate INTEGER,
    listed INTEGER, hs6 TEXT)""",
        """INSERT INTO px_entry_lines
SELECT el.entry_number,
       max(CASE WHEN el.certificate_ref IS NOT NULL THEN 1 ELSE 0 END),
       max(CASE WHEN el.mid IN (SELECT mid FROM bk_entity_list) THEN 1 ELSE 0 END),
       max(CASE WHEN el.rank = 1 THEN substr(el.hts10, 1, 6) END)
FROM (SELECT x.*, row_number() OVER (PARTITION BY x.entry_number
                                     ORDER BY x.value_usd DESC NULLS LAST, x.line_no) AS rank
      FROM bk_entry_lines x) el
GROUP BY el.entry_number""",
        """CREATE TABLE px_covered (entry_number TEXT NOT NULL, house_bill TEXT NOT NULL,
    PRIMARY KEY (entry_number, house_bill))""",
        """INSERT INTO px_covered
SELECT entry_number, house_bill FROM bk_entries
WHERE entry_number IN (SELECT entry_number FROM bk_entry_house_bills)
UNION
SELECT entry_number, house_bill FROM bk_entry_house_bills""",
        "CREATE INDEX px_covered_house_bill ON px_covered (house_bill)",
        "CREATE TABLE px_cover_size (entry_number TEXT PRIMARY KEY, n INTEGER)",
        """INSERT INTO px_cover_size
SELECT entry_number, count(*) FROM px_covered GROUP BY entry_number""",
        # every parcel's consignee (token material), day (the marketplace's: ship day) and
        # value in its currency, as ``consignee_parcels`` keeps them
        """CREATE TABLE px_parcels (role TEXT NOT NULL, house_bill TEXT, party TEXT NOT NULL,
    day INTEGER, value REAL, currency TEXT)""",
        f"""INSERT INTO px_parcels
SELECT 'carrier', h.house_bill, p.party, {day(x="m.eta")}, h.declared_value, h.currency
FROM cr_masters m JOIN cr_house_bills h ON h.mawb = m.mawb
JOIN px_party p ON p.name = h.consignee_name AND p.address = h.consignee_address
UNION ALL
SELECT 'broker', e.house_bill, p.party, {day(x="e.estimated_arrival")}, e.total_value_usd,
       'USD'
FROM bk_entries e
JOIN px_party p ON p.name = e.consignee_name AND p.address = e.consignee_address
UNION ALL
SELECT 'marketplace', f.house_bill, p.party, {day(x="f.shipped_at")}, coalesce(
           (SELECT sum(ol.amount_paid * pl.quantity / ol.quantity)
            FROM mp_parcel_lines pl JOIN mp_order_lines ol
              ON ol.order_id = pl.order_id AND ol.line_no = pl.line_no
            WHERE pl.house_bill = f.house_bill),
           (SELECT sum(ol.amount_paid) FROM mp_order_lines ol WHERE ol.order_id = f.order_id)
           / (SELECT count(*) FROM mp_fulfillments f2 WHERE f2.order_id = f.order_id),
           0.0), o.currency
FROM mp_fulfillments f JOIN mp_orders o ON o.order_id = f.order_id
JOIN px_party p ON p.name = o.buyer_name AND p.address = o.buyer_address""",
        "CREATE INDEX px_parcels_day ON px_parcels (day)",
    )


def statement(engine: str, settings: PooledSettings) -> str:
    """The whole screening as one SELECT in ``engine``'s dialect: ``POOLED_COLUMNS``, one
    row per manifest shipment, in manifest order."""
    d = DIALECTS[engine]
    select = ["house_bill"]
    for role, fields in _fields(settings.query).items():
        known = f"{PREFIXES[role]}known"
        select.append(known)
        select += [f"CASE WHEN {known} = 1 THEN {sql} END" for sql in fields.values()]
    select += list(SPLIT_COLUMNS)
    return (f"WITH {_inputs(settings)},{_split(d, settings)}{_indicators()}\n"
            f"SELECT {', '.join(select)} FROM raw ORDER BY pos")
