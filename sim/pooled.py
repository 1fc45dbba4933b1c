"""The centralized-hub baseline: every party's records in one database, screened by one join.

This is what a federation replaces and what the screening benchmark compares
against. ``build_pooled`` copies the marketplace, carrier and broker stores
into one SQLite file (tables prefixed ``mp_``, ``cr_``, ``bk_``, with the
nodes' own schemas and indexes) plus the manifest; ``pooled_indicators`` then
computes, in a single SQL statement, every per-shipment indicator the nodes
answer to ``shipment_indicators`` and the cross-party consignee totals of
split-shipment detection, streaming one row per manifest shipment.
"""

from __future__ import annotations

import csv
import itertools
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from fedtrade.coordinator.manifest import MANIFEST_COLUMNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.store.schema import table_specs
from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD
from fedtrade.protocol.matching import best_match, gtin14, normalize_consignee, normalize_name
from fedtrade.trust.errors import DataError
from fedtrade.trust.ids import ROLES

__all__ = ["MANIFEST_TABLE", "POOLED_COLUMNS", "PREFIXES", "build_pooled", "pooled_indicators"]

PREFIXES: Mapping[str, str] = {"marketplace": "mp_", "carrier": "cr_", "broker": "bk_"}
MANIFEST_TABLE = "cbp_manifest"
FETCH_ROWS = 2_000

SqlValue = str | int | float | None


def _prefixed(sql: str, prefix: str, tables: Sequence[str]) -> str:
    """A store's CREATE TABLE / CREATE INDEX statement, renamed into the pooled namespace."""
    names = "|".join(re.escape(t) for t in sorted(tables, key=len, reverse=True))
    sql = re.sub(rf"\b(TABLE|REFERENCES|ON)\s+\"?({names})\"?(?=[\s(])",
                 lambda m: f"{m[1]} {prefix}{m[2]}", sql)
    return re.sub(r"^CREATE (UNIQUE )?INDEX (\w+)",
                  lambda m: f"CREATE {m[1] or ''}INDEX {prefix}{m[2]}", sql)


def _copy_store(conn: sqlite3.Connection, role: str, store: Path) -> None:
    if not store.is_file():
        raise DataError(f"{store}: no {role} store there; import the {role} data first "
                        "(fedtrade-node import)")
    prefix = PREFIXES[role]
    tables = [spec.name for spec in table_specs(role)]
    conn.execute("ATTACH DATABASE ? AS src", (f"{store.resolve().as_uri()}?mode=ro",))
    try:
        marks = ", ".join("?" * len(tables))
        schema = {
            (kind, name): sql for kind, name, sql in conn.execute(
                "SELECT type, name, sql FROM src.sqlite_master "
                f"WHERE tbl_name IN ({marks}) AND sql IS NOT NULL", tables)
        }
        missing = [t for t in tables if ("table", t) not in schema]
        if missing:
            raise DataError(f"{store}: not a {role} store (it lacks {', '.join(missing)}); "
                            f"give the {role} node's database file")
        with conn:
            for table in tables:
                conn.execute(_prefixed(schema["table", table], prefix, tables))
                conn.execute(f"INSERT INTO {prefix}{table} SELECT * FROM src.{table}")
            # Secondary indexes after the data: one sort each instead of per-row upkeep.
            for (kind, _), sql in schema.items():
                if kind == "index":
                    conn.execute(_prefixed(sql, prefix, tables))
    finally:
        conn.execute("DETACH DATABASE src")


def _manifest_rows(
    manifest: Path, rates: Mapping[str, float]
) -> Iterator[tuple[SqlValue, ...]]:
    try:
        handle = manifest.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{manifest}: cannot read the manifest: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{manifest}:1: the header lacks {', '.join(missing)}; a manifest "
                            f"has the columns {', '.join(MANIFEST_COLUMNS)}")
        for row in reader:
            rate = rates.get(row["currency"])
            if rate is None:
                raise DataError(f"{manifest}:{reader.line_num}: currency {row['currency']!r} "
                                "has no exchange rate; give it in currency_per_usd")
            try:
                value = float(row["declared_value"])
            except ValueError:
                raise DataError(f"{manifest}:{reader.line_num}: declared_value "
                                f"{row['declared_value']!r} is not a number") from None
            # Rounded like the coordinator rounds what it sends to the nodes.
            yield (*(row[c] for c in MANIFEST_COLUMNS), round(value / rate, 2))


def _load_manifest(conn: sqlite3.Connection, manifest: Path, rates: Mapping[str, float]) -> None:
    columns = ", ".join(f"{c} TEXT NOT NULL" for c in MANIFEST_COLUMNS)
    with conn:
        conn.execute(f"CREATE TABLE {MANIFEST_TABLE} (pos INTEGER PRIMARY KEY, {columns}, "
                     "declared_value_usd REAL NOT NULL) STRICT")
        marks = ", ".join("?" * (len(MANIFEST_COLUMNS) + 1))
        names = ", ".join((*MANIFEST_COLUMNS, "declared_value_usd"))
        try:
            conn.executemany(f"INSERT INTO {MANIFEST_TABLE} ({names}) VALUES ({marks})",
                             _manifest_rows(manifest, rates))
        except sqlite3.IntegrityError as exc:
            raise DataError(f"{manifest}: not a valid manifest ({exc})") from None
        conn.execute(f"CREATE UNIQUE INDEX {MANIFEST_TABLE}_house_bill "
                     f"ON {MANIFEST_TABLE} (house_bill)")


def build_pooled(
    stores: Mapping[str, Path],
    manifest: Path,
    out: Path,
    *,
    currency_per_usd: Mapping[str, float] = DEFAULT_CURRENCY_PER_USD,
) -> Path:
    """Create ``out`` holding the three stores (role -> store file) and the manifest.

    ``currency_per_usd`` converts the manifest's declared values to USD, as the
    coordinator does. Raises DataError when a store is missing or of the wrong
    kind, the manifest is unreadable, or ``out`` already exists.
    """
    missing = [role for role in ROLES if role not in stores]
    if missing:
        raise DataError(f"the pooled database needs a store of every role; missing: "
                        f"{', '.join(missing)}")
    if out.exists():
        raise DataError(f"{out} already exists; give a new file for the pooled database")
    conn = sqlite3.connect(out)
    try:
        # A scratch copy: a crash mid-build leaves a file to delete, never a store.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-200000")
        for role in ROLES:
            _copy_store(conn, role, stores[role])
        _load_manifest(conn, manifest, currency_per_usd)
    except BaseException:
        conn.close()
        out.unlink(missing_ok=True)
        raise
    conn.close()
    return out


# Split shipments as the federation computed them with window_days 1 (its sliding
# windows, the marketplace's transit estimate, the manifest's own totals and forwarding
# addresses are not mirrored yet): per role, consignee (normalized name and address)
# and day, the parcels and their USD value within the manifest's days; groups of fewer
# than :min_shipments parcels are not listed (the nodes' disclosure control); a
# consignee-day is over when its largest listed role total is, and every manifest
# shipment in a listed group of it is flagged.
_SPLIT = f"""
bounds AS (
    SELECT min(arrival_date) AS first, date(max(arrival_date), '+1 day') AS stop
    FROM {MANIFEST_TABLE}
),
parcels AS (
    SELECT 'carrier' AS role, h.house_bill, party_key(h.consignee_name, h.consignee_address)
               AS party, substr(m.eta, 1, 10) AS day, coalesce(h.declared_value / fx.per_usd, 0)
               AS usd
    FROM bounds, cr_masters m JOIN cr_house_bills h ON h.mawb = m.mawb
    LEFT JOIN temp.fx fx ON fx.currency = h.currency
    WHERE m.eta >= bounds.first AND m.eta < bounds.stop
    UNION ALL
    SELECT 'broker', e.house_bill, party_key(e.consignee_name, e.consignee_address),
           e.estimated_arrival, coalesce(e.total_value_usd / fx.per_usd, 0)
    FROM bounds, bk_entries e LEFT JOIN temp.fx fx ON fx.currency = 'USD'
    WHERE e.estimated_arrival >= bounds.first AND e.estimated_arrival < bounds.stop
    UNION ALL
    SELECT 'marketplace', f.house_bill, party_key(o.buyer_name, o.buyer_address),
           substr(f.shipped_at, 1, 10), coalesce(coalesce(
               (SELECT sum(ol.amount_paid * pl.quantity / ol.quantity)
                FROM mp_parcel_lines pl JOIN mp_order_lines ol
                  ON ol.order_id = pl.order_id AND ol.line_no = pl.line_no
                WHERE pl.house_bill = f.house_bill),
               (SELECT sum(ol.amount_paid) FROM mp_order_lines ol WHERE ol.order_id = f.order_id)
               / (SELECT count(*) FROM mp_fulfillments f2 WHERE f2.order_id = f.order_id),
               0.0) / fx.per_usd, 0)
    FROM bounds, mp_fulfillments f JOIN mp_orders o ON o.order_id = f.order_id
    LEFT JOIN temp.fx fx ON fx.currency = o.currency
    WHERE f.shipped_at >= bounds.first AND f.shipped_at < bounds.stop
),
role_days AS (
    SELECT house_bill, party, day,
           count(*) OVER (PARTITION BY role, party, day) AS parcels,
           round(sum(usd) OVER (PARTITION BY role, party, day), 2) AS usd
    FROM parcels
),
listed AS (
    SELECT house_bill, day,
           max(usd) OVER (PARTITION BY party, day) AS top
    FROM role_days WHERE parcels >= :min_shipments
),
split AS (
    SELECT house_bill, min(day) AS day, max(top) AS usd
    FROM listed WHERE top > :threshold GROUP BY house_bill
)"""

# The parcel's own order lines, as the marketplace node finds them (node.queries.shipments).
_PARCEL = f"""
parcel AS (
    SELECT m.house_bill, pl.order_id, pl.line_no, pl.quantity
    FROM {MANIFEST_TABLE} m JOIN mp_parcel_lines pl ON pl.house_bill = m.house_bill
    UNION ALL
    SELECT m.house_bill, ol.order_id, ol.line_no, ol.quantity
    FROM {MANIFEST_TABLE} m JOIN mp_fulfillments f ON f.house_bill = m.house_bill
    JOIN mp_order_lines ol ON ol.order_id = f.order_id
    WHERE NOT EXISTS (SELECT 1 FROM mp_parcel_lines x WHERE x.house_bill = m.house_bill)
      AND NOT EXISTS (SELECT 1 FROM mp_fulfillments y
                      WHERE y.order_id = f.order_id AND y.house_bill <> f.house_bill)
),
goods AS (
    SELECT p.house_bill, max(ol.amount_paid * p.quantity / ol.quantity) AS top_amount,
           sum(ol.amount_paid * p.quantity / ol.quantity) AS paid,
           CASE WHEN count(DISTINCT o.currency) = 1 THEN min(o.currency) END AS currency,
           min(s.kyc_verified) AS kyc, max(s.high_volume) AS high_volume,
           min(CAST(julianday(o.ordered_at) - julianday(s.registered_at) AS INTEGER)) AS age,
           max((SELECT count(DISTINCT x.seller_id) FROM mp_seller_links k
                JOIN mp_sellers x ON x.seller_id = CASE WHEN k.seller_id = s.seller_id
                                                   THEN k.linked_seller_id ELSE k.seller_id END
                WHERE (k.seller_id = s.seller_id OR k.linked_seller_id = s.seller_id)
                  AND x.status = 'suspended')) AS linked,
           s.country AS country, s.status AS status, l.hs6_hint AS hint,
           recalled(group_concat(l.gtin, ' ')) AS recall,
           name_strength(group_concat(s.legal_name, char(31))) AS strength
    FROM parcel p
    JOIN mp_order_lines ol ON ol.order_id = p.order_id AND ol.line_no = p.line_no
    JOIN mp_orders o ON o.order_id = p.order_id
    JOIN mp_listings l ON l.listing_id = ol.listing_id
    JOIN mp_sellers s ON s.seller_id = l.seller_id
    GROUP BY p.house_bill
)"""

# One row per manifest shipment with each party's raw values. The OFFSET keeps SQLite
# from flattening this into the outer SELECT, which would repeat the correlated
# subqueries in every band expression that reads their value.
_RAW = f"""
raw AS (
    SELECT m.pos, m.house_bill, m.declared_value_usd AS declared, m.hs6 AS ref_hs6,
        f.order_id IS NOT NULL AS mp_known,
        g.kyc AS mp_kyc, g.high_volume AS mp_high_volume, g.age AS mp_age,
        g.linked AS mp_linked, g.country AS mp_country, g.status AS mp_status,
        g.paid / fxo.per_usd AS mp_paid_usd,
        g.hint AS mp_hs6,
        CASE WHEN g.house_bill IS NULL THEN NULL ELSE g.recall END AS mp_recall,
        g.strength AS mp_strength,
        h.house_bill IS NOT NULL AS cr_known,
        coalesce((SELECT hs6 FROM cr_house_bill_items WHERE house_bill = h.house_bill
                  ORDER BY value DESC, item_no LIMIT 1), h.hs6) AS cr_hs6,
        h.known_shipper AS cr_known_shipper, h.screened AS cr_screened,
        h.preload_status AS cr_preload,
        name_strength(h.shipper_name) AS cr_strength,
        e.entry_number IS NOT NULL AS bk_known,
        (SELECT substr(hts10, 1, 6) FROM bk_entry_lines WHERE entry_number = e.entry_number
            ORDER BY value_usd DESC, line_no LIMIT 1) AS bk_hs6,
        e.entry_type AS bk_type, e.release_status AS bk_release,
        CASE WHEN e.entry_number IS NULL THEN NULL ELSE EXISTS(
            SELECT 1 FROM bk_entry_lines el WHERE el.entry_number = e.entry_number
            AND el.certificate_ref IS NOT NULL) END AS bk_certificate,
        CASE WHEN e.entry_number IS NULL THEN NULL
             ELSE e.importer_of_record IS NOT NULL END AS bk_importer,
        e.total_value_usd AS bk_entry_usd,
        CASE WHEN e.entry_number IS NULL THEN NULL ELSE EXISTS(
            SELECT 1 FROM bk_entry_lines el JOIN bk_entity_list x ON x.mid = el.mid
            WHERE el.entry_number = e.entry_number) END AS bk_entity,
        split.day AS split_day, split.usd AS split_usd
    FROM {MANIFEST_TABLE} m
    LEFT JOIN mp_fulfillments f ON f.house_bill = m.house_bill
    LEFT JOIN goods g ON g.house_bill = m.house_bill
    LEFT JOIN temp.fx fxo ON fxo.currency = g.currency
    LEFT JOIN cr_house_bills h ON h.house_bill = m.house_bill
    LEFT JOIN bk_entries e ON e.entry_number = (
        SELECT entry_number FROM bk_entries WHERE house_bill = m.house_bill
        ORDER BY entry_number DESC LIMIT 1)
    LEFT JOIN split ON split.house_bill = m.house_bill
    ORDER BY m.pos LIMIT -1 OFFSET 0
)"""


def _band(expr: str, edges: Sequence[float], unit: str = "") -> str:
    """SQL for node.queries.spec.band: the same labels for the same edges."""
    whens = [f"WHEN {expr} < {edges[0]!r} THEN '<{edges[0]:g}{unit}'"]
    whens += [f"WHEN {expr} < {high!r} THEN '{low:g}-{high:g}{unit}'"
              for low, high in itertools.pairwise(edges)]
    return (f"CASE WHEN {expr} IS NULL THEN NULL {' '.join(whens)} "
            f"ELSE '>={edges[-1]:g}{unit}' END")


def _count_band(expr: str, edges: Sequence[int]) -> str:
    """SQL for node.queries.shipments.count_band."""
    first = f"CAST({expr} AS TEXT)" if edges[0] == 1 else f"'<{edges[0]}'"
    whens = [f"WHEN {expr} < {edges[0]} THEN {first}"]
    whens += [f"WHEN {expr} < {high} THEN '{low if high == low + 1 else f'{low}-{high - 1}'}'"
              for low, high in itertools.pairwise(edges)]
    return f"CASE WHEN {expr} IS NULL THEN NULL {' '.join(whens)} ELSE '{edges[-1]}+' END"


def _ratio(declared: str, actual: str, edges: Sequence[float]) -> str:
    ratio = f"({declared} / {actual})"
    return (f"CASE WHEN {declared} IS NULL OR {actual} IS NULL OR {actual} = 0 THEN NULL "
            f"ELSE {_band(ratio, edges)} END")


def _depth(code: str) -> str:
    """SQL for node.queries.shipments.match_depth against the manifest's HS6."""
    return (f"CASE WHEN {code} IS NULL OR ref_hs6 IS NULL THEN NULL "
            + " ".join(f"WHEN substr({code}, 1, {d}) = substr(ref_hs6, 1, {d}) THEN {d}"
                       for d in (6, 4, 2))
            + " ELSE 0 END")


def _hit(strength: str, settings: QuerySettings) -> str:
    return (f"CASE WHEN {strength} IS NULL THEN NULL "
            f"ELSE {strength} >= {settings.name_match_threshold!r} END")


def _fields(settings: QuerySettings) -> dict[str, dict[str, str]]:
    """Per role, each shipment_indicators field as SQL over the raw row."""
    return {
        "marketplace": {
            "kyc_verified": "mp_kyc",
            "high_volume_seller": "mp_high_volume",
            "account_age_band": _band("mp_age", settings.account_age_days, "d"),
            "linked_suspended_band": _count_band("mp_linked", settings.linked_suspended),
            "seller_country": "mp_country",
            "seller_status": "mp_status",
            "declared_paid_ratio_band": _ratio("declared", "mp_paid_usd",
                                               settings.value_ratio_bands),
            "hs_match_depth": _depth("mp_hs6"),
            "recall_hit": "mp_recall",
            "entity_list_hit": _hit("mp_strength", settings),
            "entity_name_strength": "mp_strength",
        },
        "carrier": {
            "hs_match_depth": _depth("cr_hs6"),
            "known_shipper": "cr_known_shipper",
            "screened": "cr_screened",
            "preload_status": "cr_preload",
            "entity_list_hit": _hit("cr_strength", settings),
            "entity_name_strength": "cr_strength",
        },
        "broker": {
            "hs_match_depth": _depth("bk_hs6"),
            "entry_type": "bk_type",
            "release_status": "bk_release",
            "certificate_on_file": "bk_certificate",
            "importer_of_record_present": "bk_importer",
            "entry_declared_ratio_band": _ratio("declared", "bk_entry_usd",
                                                settings.value_ratio_bands),
            "entity_list_hit": "bk_entity",
        },
    }


_FIELD_NAMES = {role: tuple(fields) for role, fields in _fields(QuerySettings()).items()}
POOLED_COLUMNS: tuple[str, ...] = (
    "house_bill",
    *(f"{role}.{name}" for role in ROLES for name in ("known", *_FIELD_NAMES[role])),
    "split_day",
    "split_value_usd",
)
"""The columns of ``pooled_indicators`` rows; flags are 0/1, not known fields NULL."""


def _statement(settings: QuerySettings) -> str:
    select = ["house_bill"]
    for role, fields in _fields(settings).items():
        known = f"{PREFIXES[role]}known"
        select.append(known)
        select += [f"CASE WHEN {known} THEN {sql} END" for sql in fields.values()]
    select += ["split_day", "split_usd"]
    return f"WITH {_SPLIT},{_PARCEL},{_RAW}\nSELECT {', '.join(select)} FROM raw"


def _party_key(name: str | None, address: str | None) -> str | None:
    if name is None or address is None:
        return None
    return "\x1f".join(normalize_consignee(name, address))


def _list_functions(conn: sqlite3.Connection, settings: QuerySettings) -> None:
    """recalled(gtins) and name_strength(names), as the nodes compute them (one list each:
    the generator gives every role the same reference lists)."""
    recalled = {code for (raw,) in conn.execute("SELECT gtin FROM mp_recalled_products")
                if (code := gtin14(raw)) is not None}
    listed = sorted({normalize_name(n) for (n,) in conn.execute("SELECT name FROM mp_entity_list")}
                    - {""})

    def is_recalled(gtins: str | None) -> int:
        return int(any(gtin14(g) in recalled for g in (gtins or "").split()))

    def strength(names: str | None) -> float | None:
        return None if names is None else best_match(names.split("\x1f"), listed)

    conn.create_function("recalled", 1, is_recalled, deterministic=True)
    conn.create_function("name_strength", 1, strength, deterministic=True)


def pooled_indicators(
    db: Path,
    *,
    settings: QuerySettings | None = None,
    threshold_usd: float = 800.0,
    fetch_rows: int = FETCH_ROWS,
) -> Iterator[tuple[SqlValue, ...]]:
    """Stream one row per manifest shipment (``POOLED_COLUMNS``), in manifest order.

    ``settings`` gives the bands, exchange rates and the consignee disclosure
    minimum the nodes use (default: the nodes' defaults); ``threshold_usd`` is
    the split-shipment threshold (0 disables it: split columns stay NULL).
    The statement starts at once (DataError now if ``db`` is missing); rows are
    fetched ``fetch_rows`` at a time as the iterator is consumed.
    """
    settings = settings or QuerySettings()
    if not db.is_file():
        raise DataError(f"{db}: no pooled database there; build it with build_pooled")
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.create_function("party_key", 2, _party_key, deterministic=True)
        _list_functions(conn, settings)
        conn.execute("CREATE TEMP TABLE fx (currency TEXT PRIMARY KEY, per_usd REAL NOT NULL)")
        conn.executemany("INSERT INTO temp.fx VALUES (?, ?)",
                         sorted(settings.currency_per_usd.items()))
        cursor = conn.execute(_statement(settings), {
            "threshold": threshold_usd if threshold_usd > 0 else float("inf"),
            "min_shipments": settings.disclosure.min_consignee_shipments,
        })
    except BaseException:
        conn.close()
        raise
    return _stream(conn, cursor, fetch_rows)


def _stream(
    conn: sqlite3.Connection, cursor: sqlite3.Cursor, fetch_rows: int
) -> Iterator[tuple[SqlValue, ...]]:
    try:
        while rows := cursor.fetchmany(fetch_rows):
            yield from rows
    finally:
        conn.close()
