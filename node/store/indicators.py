"""Per-parcel evidence kept beside the imported tables, so queries are keyed lookups.

A screening batch asks every node about thousands of house bills. Computing a
parcel's evidence at question time (its order lines, their sellers, the
seller's linked accounts, the entry chosen for a house bill, its main line)
costs several correlated subqueries per shipment; the answer is the same every
time until the store changes. So each store keeps two derived tables, rebuilt
from the imported tables in the same transaction as every import (amendments
included) and by the migration that created them:

- ``parcel_indicators``: one row per house bill the node holds, with the raw,
  configuration-free evidence of each indicator (flags, counts, amounts and
  currency, codes, recall hit, best match strength of its party names against
  the entity list). Bands, exchange rates and the match threshold come from
  the node's config and are applied per question.
- ``consignee_parcels``: one row per shipment a consignee total counts, with
  its normalised consignee (``trust.linkage.consignee_material``), its day, its
  value and currency, indexed by consignee and day and by house bill, and
  whether its consignee has more than one row (``several``). Most consignees
  receive one parcel and can never reach a total's minimum of two, so a total
  looks the asked house bills up in a partial index of the others' rows only.

The SQL here is the same that used to run per batch (``node.queries``), with
the batch replaced by every parcel of the store (``refresh``) or by the parcels
an import touched (``Changes``): the house bills reached from the rows it wrote,
through the links the store holds before (old values of amended rows) and after
it, are deleted and computed again. A first import, a large share of the store
touched, or a reference list written rebuild whole. A release that changes what
these tables hold adds a migration step that rebuilds them (``refresh``), so
existing stores never answer from rows of the old shape.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Mapping

from fedtrade.protocol.matching import best_match, gtin14, normalize_name

__all__ = ["SOURCE_TABLES", "TABLES_SQL", "Changes", "add_several", "refresh"]

_PARCEL_TABLES: Mapping[str, str] = {
    "marketplace": """
CREATE TABLE parcel_indicators (
    house_bill TEXT PRIMARY KEY NOT NULL,
    has_lines INTEGER NOT NULL,
    paid REAL,
    currency TEXT,
    kyc_verified INTEGER,
    high_volume INTEGER,
    age INTEGER,
    linked INTEGER,
    country TEXT,
    status TEXT,
    hint TEXT,
    recall_hit INTEGER,
    name_strength REAL
) STRICT, WITHOUT ROWID;
""",
    "carrier": """
CREATE TABLE parcel_indicators (
    house_bill TEXT PRIMARY KEY NOT NULL,
    hs6 TEXT NOT NULL,
    known_shipper INTEGER NOT NULL,
    screened INTEGER NOT NULL,
    preload_status TEXT NOT NULL,
    name_strength REAL NOT NULL
) STRICT, WITHOUT ROWID;
""",
    "broker": """
CREATE TABLE parcel_indicators (
    house_bill TEXT PRIMARY KEY NOT NULL,
    entry_number TEXT NOT NULL,
    entry_house_bill TEXT NOT NULL,
    entry_type TEXT NOT NULL,
    release_status TEXT NOT NULL,
    certificate_on_file INTEGER NOT NULL,
    importer_present INTEGER NOT NULL,
    hts6 TEXT,
    listed_mid INTEGER NOT NULL,
    total_value_usd REAL NOT NULL,
    consolidated INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
""",
}
_CONSIGNEES = """
CREATE TABLE consignee_parcels (
    consignee BLOB NOT NULL,
    day TEXT NOT NULL,
    house_bill TEXT NOT NULL,
    value REAL NOT NULL,
    currency TEXT NOT NULL,
    several INTEGER NOT NULL DEFAULT 0
) STRICT;
"""
# Dropped before a whole rebuild and created after it: sorting once is several times
# cheaper than a million inserts at random places of the B-trees.
_CONSIGNEE_INDEXES: Mapping[str, str] = {
    "consignee_parcels_group": "consignee_parcels (consignee, day)",
    "consignee_parcels_house_bill": "consignee_parcels (house_bill, day)",
    "consignee_parcels_several": "consignee_parcels (house_bill, day) WHERE several = 1",
}
_CONSIGNEE_INDEXES_SQL = "".join(
    f"CREATE INDEX {name} ON {columns};\n" for name, columns in _CONSIGNEE_INDEXES.items())
TABLES_SQL: Mapping[str, str] = {role: sql + _CONSIGNEES + _CONSIGNEE_INDEXES_SQL
                                 for role, sql in _PARCEL_TABLES.items()}
"""Per role: the DDL of its derived tables (the migration that adds them runs it)."""

# The imported tables each role's derived rows are computed from: an import writing any
# of them rebuilds the derived tables.
SOURCE_TABLES: Mapping[str, frozenset[str]] = {
    "marketplace": frozenset({"sellers", "seller_links", "listings", "orders", "order_lines",
                              "fulfillments", "parcel_lines", "recalled_products",
                              "entity_list"}),
    "carrier": frozenset({"masters", "house_bills", "house_bill_items", "entity_list"}),
    "broker": frozenset({"entries", "entry_house_bills", "entry_lines", "entity_list"}),
}

# The marketplace's evidence comes from the order lines the parcel itself carries
# (parcel_lines; or every line of the order when the parcel is its order's only
# fulfillment). Values are the goods in the parcel (line amounts paid, shipping and tax
# excluded, prorated by the pieces in the parcel); a parcel mixing currencies has no
# value. Seller flags take the riskiest seller of the parcel's lines (multi-seller carts);
# country, status and HS hint are those of the most valuable line (ties: the first by
# order and line number), ranked explicitly: SQLite's bare columns beside several
# aggregates come from an unspecified line.
_MARKETPLACE = """
WITH parcel AS (
    SELECT pl.house_bill, pl.order_id, pl.line_no, pl.quantity
    FROM parcel_lines pl WHERE {scope:pl}
    UNION ALL
    SELECT f.house_bill, ol.order_id, ol.line_no, ol.quantity
    FROM fulfillments f JOIN order_lines ol ON ol.order_id = f.order_id
    WHERE {scope:f}
      AND NOT EXISTS (SELECT 1 FROM parcel_lines x WHERE x.house_bill = f.house_bill)
      AND NOT EXISTS (SELECT 1 FROM fulfillments y
                      WHERE y.order_id = f.order_id AND y.house_bill <> f.house_bill)
),
ranked AS (  -- narrow rows: the window's sort is most of this statement's time
    SELECT *, row_number() OVER (PARTITION BY house_bill
                                 ORDER BY amount DESC, order_id, line_no) AS rank
    FROM (SELECT p.*, ol.amount_paid * p.quantity / ol.quantity AS amount FROM parcel p
          JOIN order_lines ol ON ol.order_id = p.order_id AND ol.line_no = p.line_no)
),
suspended_links AS (  -- each seller's linked sellers that are suspended, either way round
    SELECT k.seller_id, x.seller_id AS other FROM seller_links k
    JOIN sellers x ON x.seller_id = k.linked_seller_id WHERE x.status = 'suspended'
    UNION
    SELECT k.linked_seller_id, x.seller_id FROM seller_links k
    JOIN sellers x ON x.seller_id = k.seller_id WHERE x.status = 'suspended'
),
linked AS (SELECT seller_id, count(*) AS linked FROM suspended_links GROUP BY seller_id),
line AS (
    SELECT p.house_bill, p.amount, o.currency,
           s.kyc_verified, s.high_volume, s.country, s.status, s.legal_name,
           CAST(julianday(o.ordered_at) - julianday(s.registered_at) AS INTEGER) AS age,
           coalesce(k.linked, 0) AS linked, l.hs6_hint, l.gtin, p.rank
    FROM ranked p
    JOIN order_lines ol ON ol.order_id = p.order_id AND ol.line_no = p.line_no
    JOIN orders o ON o.order_id = p.order_id
    JOIN listings l ON l.listing_id = ol.listing_id
    JOIN sellers s ON s.seller_id = l.seller_id
    LEFT JOIN linked k ON k.seller_id = s.seller_id
),
goods AS (
    SELECT house_bill,
           sum(amount) AS paid,
           CASE WHEN count(DISTINCT currency) = 1 THEN min(currency) END AS currency,
           min(kyc_verified) AS kyc_verified,
           max(high_volume) AS high_volume,
           min(age) AS age,
           max(linked) AS linked,
           max(CASE WHEN rank = 1 THEN country END) AS country,
           max(CASE WHEN rank = 1 THEN status END) AS status,
           max(CASE WHEN rank = 1 THEN hs6_hint END) AS hint,
           group_concat(gtin, ' ') AS gtins,
           group_concat(legal_name, char(31)) AS names
    FROM line
    GROUP BY house_bill
)
INSERT INTO parcel_indicators
SELECT f.house_bill, g.house_bill IS NOT NULL, g.paid, g.currency, g.kyc_verified,
       g.high_volume, g.age, g.linked, g.country, g.status, g.hint,
       CASE WHEN g.house_bill IS NOT NULL THEN fedtrade_recalled(g.gtins) END,
       fedtrade_name_strength(g.names)
FROM fulfillments f LEFT JOIN goods g ON g.house_bill = f.house_bill
WHERE {scope:f}
"""

# The parcel's code is that of its main (most valuable) item, else the house bill's own.
_CARRIER = """
INSERT INTO parcel_indicators
SELECT h.house_bill,
       coalesce((SELECT hs6 FROM house_bill_items i WHERE i.house_bill = h.house_bill
                 ORDER BY value DESC, item_no LIMIT 1), h.hs6),
       h.known_shipper, h.screened, h.preload_status, fedtrade_name_strength(h.shipper_name)
FROM house_bills h
WHERE {scope:h}
"""

# A house bill's entry is the latest filed for it, else the latest consolidated entry
# covering it; its code is that of its most valuable line, and MIDs are compared on the
# maker of each line (never the seller's name).
_BROKER = """
WITH bills AS (SELECT house_bill FROM entries e WHERE {scope:e}
               UNION SELECT house_bill FROM entry_house_bills x WHERE {scope:x}),
chosen AS (
    SELECT b.house_bill, coalesce(
        (SELECT max(entry_number) FROM entries WHERE house_bill = b.house_bill),
        (SELECT max(entry_number) FROM entry_house_bills WHERE house_bill = b.house_bill)
    ) AS entry_number
    FROM bills b
)
INSERT INTO parcel_indicators
SELECT c.house_bill, e.entry_number, e.house_bill, e.entry_type, e.release_status,
       EXISTS(SELECT 1 FROM entry_lines el WHERE el.entry_number = e.entry_number
              AND el.certificate_ref IS NOT NULL),
       e.importer_of_record IS NOT NULL,
       (SELECT substr(hts10, 1, 6) FROM entry_lines WHERE entry_number = e.entry_number
        ORDER BY value_usd DESC, line_no LIMIT 1),
       EXISTS(SELECT 1 FROM entry_lines el JOIN entity_list x ON x.mid = el.mid
              WHERE el.entry_number = e.entry_number),
       e.total_value_usd,
       EXISTS(SELECT 1 FROM entry_house_bills x WHERE x.entry_number = e.entry_number)
FROM chosen c JOIN entries e ON e.entry_number = c.entry_number
"""
_PARCELS: Mapping[str, str] = {"marketplace": _MARKETPLACE, "carrier": _CARRIER,
                               "broker": _BROKER}

# Per role: each shipment a consignee total counts, on the day the role dates it (the
# carrier its master's ETA, the broker the entry's estimated arrival, the marketplace the
# ship day), valued at the parcel's own goods (its parcel_lines; else its share of the
# order's lines, so an order in two parcels counts once).
_CONSIGNEE_ROWS: Mapping[str, str] = {
    "carrier": """
        SELECT k.consignee, substr(m.eta, 1, 10), h.house_bill, h.declared_value, h.currency
        FROM masters m JOIN house_bills h ON h.mawb = m.mawb
        JOIN temp.fedtrade_consignees k ON k.id = h.rowid
        WHERE {scope:h}""",
    "broker": """
        SELECT k.consignee, substr(e.estimated_arrival, 1, 10), e.house_bill,
               e.total_value_usd, 'USD'
        FROM entries e JOIN temp.fedtrade_consignees k ON k.id = e.rowid
        WHERE {scope:e}""",
    "marketplace": """
        SELECT k.consignee, substr(f.shipped_at, 1, 10), f.house_bill,
               coalesce(
                   (SELECT sum(ol.amount_paid * pl.quantity / ol.quantity)
                    FROM parcel_lines pl JOIN order_lines ol
                      ON ol.order_id = pl.order_id AND ol.line_no = pl.line_no
                    WHERE pl.house_bill = f.house_bill),
                   (SELECT sum(ol.amount_paid) FROM order_lines ol
                    WHERE ol.order_id = f.order_id)
                   / (SELECT count(*) FROM fulfillments f2 WHERE f2.order_id = f.order_id),
                   0.0),
               o.currency
        FROM fulfillments f JOIN orders o ON o.order_id = f.order_id
        JOIN temp.fedtrade_consignees k ON k.id = o.rowid
        WHERE {scope:f}""",
}
# Per role: the rowid, name and address of the rows whose consignee the rows above
# count (``temp.fedtrade_consignees`` holds each one's normalised consignee).
_CONSIGNEE_PARTIES: Mapping[str, str] = {
    "carrier": "SELECT h.rowid, h.consignee_name, h.consignee_address FROM house_bills h "
               "WHERE {scope:h}",
    "broker": "SELECT e.rowid, e.consignee_name, e.consignee_address FROM entries e "
              "WHERE {scope:e}",
    "marketplace": "SELECT o.rowid, o.buyer_name, o.buyer_address FROM orders o "
                   "WHERE o.order_id IN (SELECT f.order_id FROM fulfillments f WHERE {scope:f})",
}
_PARTIES_CHUNK = 100_000  # rows normalised at once (bounds the memory a rebuild takes)


def _normalise_consignees(conn: sqlite3.Connection, role: str, scope: _Scope) -> None:
    """Fill ``temp.fedtrade_consignees`` with the consignees the rebuilt rows count."""
    # Imported here: only imports and amendments rebuild, and pyarrow costs every node
    # process (which opens its store through this module) CPU and memory at start.
    import pyarrow as pa

    from fedtrade.protocol.consignee_columns import consignee_material, normalize_consignees

    conn.execute("CREATE TEMP TABLE IF NOT EXISTS fedtrade_consignees "
                 "(id INTEGER PRIMARY KEY, consignee BLOB NOT NULL)")
    conn.execute("DELETE FROM temp.fedtrade_consignees")
    parties = conn.execute(_CONSIGNEE_PARTIES[role].format(scope=scope))
    while chunk := parties.fetchmany(_PARTIES_CHUNK):
        ids, names, addresses = zip(*chunk, strict=True)
        conn.executemany("INSERT INTO temp.fedtrade_consignees VALUES (?, ?)",
                         zip(ids, consignee_material(*normalize_consignees(
                             pa.array(names, pa.string()), pa.array(addresses, pa.string()))),
                             strict=True))


class _Lists:
    """The store's reference lists, as the evidence is matched against them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT gtin FROM recalled_products")
        self.recalled = frozenset(code for (raw,) in rows if (code := gtin14(raw)) is not None)
        rows = conn.execute("SELECT DISTINCT name FROM entity_list")
        self.listed = tuple(sorted({name for (raw,) in rows if (name := normalize_name(raw))}))

    def recall_hit(self, gtins: str | None) -> bool:
        """Whether any GTIN of a parcel's lines is recalled, compared as GTIN-14."""
        return gtins is not None and any(map(self._recalled, gtins.split()))

    def name_strength(self, names: str | None) -> float | None:
        """Best match strength of any of the (char 31 separated) names against the list."""
        if names is None:
            return None
        # best_match of several names is the best of each's (rounding keeps the order)
        return max(map(self._strength, names.split("\x1f")))

    # Per distinct GTIN and name: parcels repeat the codes and sellers of few listings.
    @functools.cache  # noqa: B019 (one instance per rebuild, dropped with it)
    def _recalled(self, gtin: str) -> bool:
        return gtin14(gtin) in self.recalled

    @functools.cache  # noqa: B019
    def _strength(self, name: str) -> float:
        return best_match((name,), self.listed) if self.listed else 0.0


_TOUCHED = "temp.fedtrade_touched"


class _Scope:
    """Formats ``{scope:alias}`` in the SQL above: every parcel, or the touched ones."""

    def __init__(self, full: bool) -> None:
        self.full = full

    def __format__(self, alias: str) -> str:
        if self.full:
            return "1"
        return f"{alias}.house_bill IN (SELECT house_bill FROM {_TOUCHED})"


# Per role and imported table: the house bills whose derived rows may depend on the rows
# of ``{rows}`` (a table expression with that table's columns), through the links the
# store holds when it runs. A marketplace order's parcels are its fulfillments and the
# parcels carrying its lines; a seller's status counts for its own parcels and those of
# every seller linked to it. Reference lists are matched against every parcel: writing
# them rebuilds the tables whole.
_ORDER_PARCELS = """
    SELECT house_bill FROM fulfillments WHERE order_id IN ({orders})
    UNION SELECT house_bill FROM parcel_lines WHERE order_id IN ({orders})"""
_SELLER_ORDERS = """
    SELECT ol.order_id FROM order_lines ol JOIN listings l ON l.listing_id = ol.listing_id
    WHERE l.seller_id IN ({sellers}
        UNION SELECT linked_seller_id FROM seller_links WHERE seller_id IN ({sellers})
        UNION SELECT seller_id FROM seller_links WHERE linked_seller_id IN ({sellers}))"""
_ENTRY_PARCELS = """
    SELECT house_bill FROM entries WHERE entry_number IN ({entries})
    UNION SELECT house_bill FROM entry_house_bills WHERE entry_number IN ({entries})"""
_ROUTES: Mapping[str, Mapping[str, str]] = {
    "marketplace": {
        "fulfillments": "SELECT house_bill FROM {rows} UNION "
                        + _ORDER_PARCELS.format(orders="SELECT order_id FROM {rows}"),
        "parcel_lines": "SELECT house_bill FROM {rows}",
        "orders": _ORDER_PARCELS.format(orders="SELECT order_id FROM {rows}"),
        "order_lines": _ORDER_PARCELS.format(orders="SELECT order_id FROM {rows}"),
        "listings": _ORDER_PARCELS.format(
            orders="SELECT order_id FROM order_lines WHERE listing_id IN "
                   "(SELECT listing_id FROM {rows})"),
        "sellers": _ORDER_PARCELS.format(
            orders=_SELLER_ORDERS.format(sellers="SELECT seller_id FROM {rows}")),
        "seller_links": _ORDER_PARCELS.format(orders=_SELLER_ORDERS.format(
            sellers="SELECT seller_id FROM {rows} UNION SELECT linked_seller_id FROM {rows}")),
    },
    "carrier": {
        "house_bills": "SELECT house_bill FROM {rows}",
        "house_bill_items": "SELECT house_bill FROM {rows}",
        "masters": "SELECT house_bill FROM house_bills WHERE mawb IN (SELECT mawb FROM {rows})",
    },
    "broker": {
        "entries": "SELECT house_bill FROM {rows} UNION "
                   + _ENTRY_PARCELS.format(entries="SELECT entry_number FROM {rows}"),
        "entry_house_bills": "SELECT house_bill FROM {rows} UNION "
                             + _ENTRY_PARCELS.format(entries="SELECT entry_number FROM {rows}"),
        "entry_lines": _ENTRY_PARCELS.format(entries="SELECT entry_number FROM {rows}"),
    },
}
# Past this share of the store touched, rebuild whole. On a 100k marketplace store, a
# quarter rebuilt by key cost 0.35 of a whole rebuild's CPU time, a half 0.63.
_WHOLE_SHARE = 0.5


def _rebuild(conn: sqlite3.Connection, role: str, full: bool) -> None:
    lists = _Lists(conn)
    # once per distinct value: a seller's or a listing's parcels share them
    conn.create_function("fedtrade_recalled", 1, functools.cache(lists.recall_hit),
                         deterministic=True)
    conn.create_function("fedtrade_name_strength", 1, functools.cache(lists.name_strength),
                         deterministic=True)
    scope = _Scope(full)
    regrouped = _Regrouped(conn, full)
    regrouped.note(scope)  # the consignees of the rows about to go
    for table in ("parcel_indicators", "consignee_parcels"):  # no WHERE: SQLite truncates
        conn.execute(f"DELETE FROM {table}" + ("" if full else f" WHERE {scope:{table}}"))
    conn.execute(_PARCELS[role].format(scope=scope))
    _normalise_consignees(conn, role, scope)
    for name in _CONSIGNEE_INDEXES if full else ():
        conn.execute(f"DROP INDEX {name}")
    conn.execute("INSERT INTO consignee_parcels (consignee, day, house_bill, value, currency) "
                 + _CONSIGNEE_ROWS[role].format(scope=scope))
    for name, columns in _CONSIGNEE_INDEXES.items() if full else ():
        conn.execute(f"CREATE INDEX {name} ON {columns}")
    conn.execute("DELETE FROM temp.fedtrade_consignees")
    regrouped.note(scope)  # and of the rows written
    regrouped.mark()


class _Regrouped:
    """The consignees whose number of rows a rebuild may change (every one when whole),
    so ``consignee_parcels.several`` is set again for their rows, and only theirs."""

    _TABLE = "temp.fedtrade_regrouped"

    def __init__(self, conn: sqlite3.Connection, full: bool) -> None:
        self.conn, self.full = conn, full
        if not full:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self._TABLE} "
                         "(consignee BLOB PRIMARY KEY) WITHOUT ROWID")
            conn.execute(f"DELETE FROM {self._TABLE}")

    def note(self, scope: _Scope) -> None:
        if not self.full:
            self.conn.execute(f"INSERT OR IGNORE INTO {self._TABLE} "
                              f"SELECT consignee FROM consignee_parcels c WHERE {scope:c}")

    def mark(self) -> None:
        """Set ``several`` where it changed; rows it stays the same for are not written
        (each written row costs a publish to PostgreSQL a comparison of its house bill)."""
        mine = "1" if self.full else f"consignee IN (SELECT consignee FROM {self._TABLE})"
        self.conn.execute(
            f"UPDATE consignee_parcels SET several = 1 - several WHERE {mine} AND several != "
            f"(consignee IN (SELECT consignee FROM consignee_parcels WHERE {mine} "
            "GROUP BY consignee HAVING count(*) > 1))")
        if not self.full:
            self.conn.execute(f"DELETE FROM {self._TABLE}")


def add_several(conn: sqlite3.Connection) -> None:
    """Give a store's ``consignee_parcels`` (built before it had one) its ``several`` column
    and partial index, and set them: a migration step, far cheaper than a whole rebuild."""
    columns = {row[1] for row in conn.execute("PRAGMA main.table_info(consignee_parcels)")}
    if "several" not in columns:
        conn.execute("ALTER TABLE consignee_parcels ADD COLUMN several INTEGER NOT NULL "
                     "DEFAULT 0")
        name = "consignee_parcels_several"
        conn.execute(f"CREATE INDEX {name} ON {_CONSIGNEE_INDEXES[name]}")
    _Regrouped(conn, full=True).mark()


def refresh(conn: sqlite3.Connection, role: str) -> None:
    """Rebuild the derived tables of a ``role`` store whole from its imported tables.

    Runs inside the caller's transaction (the import's, or the migration's), so a
    failed import leaves them as they were.
    """
    _rebuild(conn, role, full=True)


class Changes:
    """The parcels an import touches, so only their derived rows are rebuilt (``apply``).

    Runs inside the import's transaction: ``note`` is given the rows about to be
    replaced (their old links) before anything is written, and the rows written once
    everything is, each as a table expression with the imported table's columns; the
    house bills they reach are kept in a TEMP table. An empty store, or a reference
    list written, is rebuilt whole without tracking anything.
    """

    def __init__(self, conn: sqlite3.Connection, role: str, tables: Iterable[str]) -> None:
        self.conn = conn
        self.role = role
        self.tables = tuple(tables)
        self.full = bool(set(self.tables) - _ROUTES[role].keys()) or bool(conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM parcel_indicators)").fetchone()[0])
        if not self.full:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_TOUCHED} "
                         "(house_bill TEXT PRIMARY KEY) WITHOUT ROWID")
            conn.execute(f"DELETE FROM {_TOUCHED}")

    def note(self, table: str, rows: str) -> None:
        """Note the parcels ``rows`` of ``table`` reach through the links stored now."""
        if not self.full:
            route = _ROUTES[self.role][table].replace("{rows}", rows)
            self.conn.execute(f"INSERT OR IGNORE INTO {_TOUCHED} {route}")

    def apply(self) -> None:
        """Rebuild the derived rows of the touched parcels (or all of them)."""
        if not self.full:
            touched, stored = self.conn.execute(
                f"SELECT (SELECT count(*) FROM {_TOUCHED}), "
                "(SELECT count(*) FROM parcel_indicators)").fetchone()
            self.full = touched > _WHOLE_SHARE * stored
        _rebuild(self.conn, self.role, self.full)
        if not self.full:
            self.conn.execute(f"DELETE FROM {_TOUCHED}")
