"""The centralized-hub baseline: every party's records in one database, screened by one join.

This is what a federation replaces and what the screening benchmark compares
against. ``build_pooled`` copies the marketplace, carrier and broker stores
into one SQLite file (tables prefixed ``mp_``, ``cr_``, ``bk_``, with the
nodes' own schemas and indexes) plus the manifest, and computes at ingest what
needs Python (``px_`` tables: normalised consignees, recalled GTINs, entity-list
match strengths) and what the nodes keep per parcel from their imports (each held
house bill's evidence, each parcel's consignee, day and value:
``pooled_sql.ingest_statements``); ``pooled_indicators`` then runs the statement of
``sim.pooled_sql`` (every indicator the nodes answer to ``shipment_indicators``
and the split totals as the coordinator combines them) in SQLite, streaming one
row per manifest shipment. ``sim.pooled_duckdb`` runs the same statement in DuckDB.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from fedtrade.coordinator.manifest import MANIFEST_COLUMNS
from fedtrade.node.store.schema import table_specs
from fedtrade.protocol import normalize
from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD
from fedtrade.protocol.matching import best_match, gtin14, normalize_consignee, normalize_name
from fedtrade.sim.pooled_sql import (
    MANIFEST_TABLE,
    PREFIXES,
    PooledSettings,
    ingest_statements,
    statement,
)
from fedtrade.trust.errors import DataError
from fedtrade.trust.ids import ROLES
from fedtrade.trust.linkage import consignee_material

__all__ = ["build_pooled", "pooled_indicators"]

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
                value = float(normalize.money(row["declared_value"]))
            except ValueError:
                raise DataError(f"{manifest}:{reader.line_num}: declared_value "
                                f"{row['declared_value']!r} is not a number") from None
            # Rounded as the nodes round the attested value; exact as the coordinator adds
            # the manifest's own consignee totals.
            yield (*(row[c] for c in MANIFEST_COLUMNS), round(value / rate, 2), value / rate)


def _load_manifest(conn: sqlite3.Connection, manifest: Path, rates: Mapping[str, float]) -> None:
    columns = ", ".join(f"{c} TEXT NOT NULL" for c in MANIFEST_COLUMNS)
    with conn:
        conn.execute(f"CREATE TABLE {MANIFEST_TABLE} (pos INTEGER PRIMARY KEY, {columns}, "
                     "declared_value_usd REAL NOT NULL, declared_usd REAL NOT NULL) STRICT")
        marks = ", ".join("?" * (len(MANIFEST_COLUMNS) + 2))
        names = ", ".join((*MANIFEST_COLUMNS, "declared_value_usd", "declared_usd"))
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
        _derive(conn)
    except BaseException:
        conn.close()
        out.unlink(missing_ok=True)
        raise
    conn.close()
    return out


# Where the nodes read consignees (name, address), for px_party.
_CONSIGNEES = (
    ("cr_house_bills", "consignee_name", "consignee_address"),
    ("bk_entries", "consignee_name", "consignee_address"),
    ("mp_orders", "buyer_name", "buyer_address"),
    (MANIFEST_TABLE, "consignee_name", "consignee_address"),
)


def _parties(conn: sqlite3.Connection) -> Iterator[tuple[str, str, str, str, str]]:
    """(name, address) -> the node's token material (party), the coordinator's manifest
    consignee identity and normalised address."""
    pairs = " UNION ".join(f"SELECT {n}, {a} FROM {t}" for t, n, a in _CONSIGNEES)
    for name, address in conn.execute(pairs).fetchall():
        if name is None or address is None:
            continue  # the nodes read no such consignee
        normal = normalize_consignee(name or "", address or "")
        party = consignee_material(*normal).decode("utf-8", "surrogateescape")
        yield name, address, party, "\x1f".join(normal), normal[1]


def _strengths(conn: sqlite3.Connection, role: str, names_sql: str) -> list[tuple[str, str, float]]:
    prefix = PREFIXES[role]
    listed = sorted({n for (raw,) in conn.execute(f"SELECT DISTINCT name FROM {prefix}entity_list")
                     if (n := normalize_name(raw))})
    return [(role, name, best_match([name], listed))
            for (name,) in conn.execute(names_sql).fetchall() if name is not None]


def _derive(conn: sqlite3.Connection) -> None:
    """The px_ tables: what the nodes compute in Python, computed once at ingest."""
    recalled = {code for (raw,) in conn.execute("SELECT gtin FROM mp_recalled_products")
                if (code := gtin14(raw)) is not None}
    with conn:
        conn.execute("CREATE TABLE px_party (name TEXT NOT NULL, address TEXT NOT NULL, "
                     "party TEXT NOT NULL, consignee TEXT NOT NULL, address_key TEXT NOT NULL, "
                     "PRIMARY KEY (name, address)) STRICT")
        conn.executemany("INSERT INTO px_party VALUES (?, ?, ?, ?, ?)", _parties(conn))
        conn.execute("CREATE TABLE px_gtin (gtin TEXT PRIMARY KEY, recalled INTEGER NOT NULL) "
                     "STRICT")
        conn.executemany("INSERT INTO px_gtin VALUES (?, ?)", [
            (raw, int(gtin14(raw) in recalled)) for (raw,) in conn.execute(
                "SELECT DISTINCT gtin FROM mp_listings WHERE gtin IS NOT NULL").fetchall()])
        conn.execute("CREATE TABLE px_name (role TEXT NOT NULL, name TEXT NOT NULL, "
                     "strength REAL NOT NULL, PRIMARY KEY (role, name)) STRICT")
        conn.executemany("INSERT INTO px_name VALUES (?, ?, ?)", [
            *_strengths(conn, "marketplace", "SELECT DISTINCT legal_name FROM mp_sellers"),
            *_strengths(conn, "carrier", "SELECT DISTINCT shipper_name FROM cr_house_bills"),
        ])
        for sql in ingest_statements():
            conn.execute(sql)
        conn.execute("ANALYZE")




def pooled_indicators(
    db: Path,
    settings: PooledSettings | None = None,
    *,
    fetch_rows: int = FETCH_ROWS,
) -> Iterator[tuple[SqlValue, ...]]:
    """Stream one row per manifest shipment (``sim.pooled_sql.POOLED_COLUMNS``) in manifest
    order, computed by SQLite.

    ``settings`` gives what the nodes and the coordinator are configured with (bands,
    rates, disclosure, transit days; split threshold, window, batch size, forwarders).
    The statement starts at once (DataError now if ``db`` is missing); rows are
    fetched ``fetch_rows`` at a time as the iterator is consumed.
    """
    if not db.is_file():
        raise DataError(f"{db}: no pooled database there; build it with build_pooled")
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        cursor = conn.execute(statement("sqlite", settings or PooledSettings()))
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
