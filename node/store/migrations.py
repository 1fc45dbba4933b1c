"""Create and upgrade a node's SQLite store: ``open_store(path, role)``.

The schema is built by ordered, named migrations (sqlite-utils ``Migrations``,
each applied in its own transaction and recorded in ``_sqlite_migrations``), so
opening a store again is a no-op and a newer release only adds migrations. A
migration's SQL never changes once released; ``node.store.schema`` describes the
same tables for the importer and a test keeps both in agreement.

The role a store was created for is recorded in ``store_meta``; opening it for
another role is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from fedtrade.node.store.indicators import TABLES_SQL, add_several, refresh
from fedtrade.node.store.schema import check_role
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.files import not_regular

__all__ = ["check_regular", "check_store", "open_store"]

_BUSY_TIMEOUT_MS = 5000

_NODE_INTERNALS = """
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    query_id TEXT NOT NULL,
    requester TEXT NOT NULL,
    purpose TEXT NOT NULL,
    case_id TEXT NOT NULL,
    query_name TEXT NOT NULL,
    param_digest TEXT NOT NULL,
    answer_digest TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed');
END;

CREATE TABLE seen_queries (
    query_id TEXT PRIMARY KEY NOT NULL,
    expires_at REAL NOT NULL
) STRICT;
CREATE INDEX seen_queries_expires_at ON seen_queries (expires_at);

CREATE TABLE import_log (
    file_sha256 TEXT NOT NULL,
    table_name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (file_sha256, table_name)
) STRICT;
"""

# node.privacy_ledger: spend per requester (append-only, like the audit log) and the answers
# already released, returned again at no cost.
_PRIVACY_LEDGER = """
CREATE TABLE privacy_ledger (
    seq INTEGER PRIMARY KEY,
    requester TEXT NOT NULL,
    node_id TEXT NOT NULL,
    spent_at REAL NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    query_id TEXT NOT NULL,
    query_name TEXT NOT NULL
) STRICT;
CREATE INDEX privacy_ledger_spend ON privacy_ledger (requester, node_id, spent_at);

CREATE TRIGGER privacy_ledger_no_update BEFORE UPDATE ON privacy_ledger
BEGIN
    SELECT RAISE(ABORT, 'privacy_ledger is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER privacy_ledger_no_delete BEFORE DELETE ON privacy_ledger
BEGIN
    SELECT RAISE(ABORT, 'privacy_ledger is append-only: DELETE is not allowed');
END;

CREATE TABLE privacy_answers (
    requester TEXT NOT NULL,
    node_id TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    columns TEXT NOT NULL,
    rows TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (requester, node_id, cache_key)
) STRICT;
"""

_REFERENCE_LISTS = """
CREATE TABLE recalled_products (
    gtin TEXT PRIMARY KEY NOT NULL,
    recall_id TEXT NOT NULL,
    source TEXT NOT NULL,
    recalled_at TEXT NOT NULL,
    description TEXT NOT NULL
) STRICT;

CREATE TABLE entity_list (
    entity_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    mid TEXT,
    list_name TEXT NOT NULL,
    added_at TEXT NOT NULL
) STRICT;
CREATE INDEX entity_list_mid ON entity_list (mid);
"""

_MARKETPLACE = """
CREATE TABLE sellers (
    seller_id TEXT PRIMARY KEY NOT NULL,
    legal_name TEXT NOT NULL,
    address TEXT NOT NULL,
    country TEXT NOT NULL,
    tax_id TEXT,
    kyc_verified INTEGER NOT NULL,
    kyc_verified_at TEXT,
    high_volume INTEGER NOT NULL,
    registered_at TEXT NOT NULL,
    status TEXT NOT NULL
) STRICT;

CREATE TABLE seller_links (
    seller_id TEXT NOT NULL REFERENCES sellers (seller_id),
    linked_seller_id TEXT NOT NULL REFERENCES sellers (seller_id),
    reason TEXT NOT NULL,
    PRIMARY KEY (seller_id, linked_seller_id)
) STRICT;
CREATE INDEX seller_links_linked ON seller_links (linked_seller_id, seller_id);

CREATE TABLE listings (
    listing_id TEXT PRIMARY KEY NOT NULL,
    seller_id TEXT NOT NULL REFERENCES sellers (seller_id),
    title TEXT NOT NULL,
    category TEXT NOT NULL,
    hs6_hint TEXT,
    gtin TEXT,
    brand TEXT,
    model TEXT,
    price REAL NOT NULL,
    currency TEXT NOT NULL,
    origin_country TEXT NOT NULL
) STRICT;
CREATE INDEX listings_seller_id ON listings (seller_id);
CREATE INDEX listings_gtin ON listings (gtin);

CREATE TABLE orders (
    order_id TEXT PRIMARY KEY NOT NULL,
    buyer_name TEXT NOT NULL,
    buyer_address TEXT NOT NULL,
    ordered_at TEXT NOT NULL,
    total_paid REAL NOT NULL,
    currency TEXT NOT NULL
) STRICT;
CREATE INDEX orders_ordered_at ON orders (ordered_at);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders (order_id),
    line_no INTEGER NOT NULL,
    listing_id TEXT NOT NULL REFERENCES listings (listing_id),
    quantity INTEGER NOT NULL,
    unit_price REAL NOT NULL,
    amount_paid REAL NOT NULL,
    PRIMARY KEY (order_id, line_no)
) STRICT;
CREATE INDEX order_lines_listing_id ON order_lines (listing_id);

CREATE TABLE fulfillments (
    fulfillment_id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (order_id),
    carrier_code TEXT NOT NULL,
    house_bill TEXT NOT NULL UNIQUE,
    shipped_at TEXT NOT NULL
) STRICT;
CREATE INDEX fulfillments_order_id ON fulfillments (order_id);
"""

# Which order lines (and how many of each) travel in which parcel: a multi-parcel order
# splits its lines over several house bills, and one parcel may carry lines of several
# orders (a consolidated cart). Value, seller and HS evidence come from these lines.
_PARCEL_LINES = """
CREATE TABLE parcel_lines (
    house_bill TEXT NOT NULL REFERENCES fulfillments (house_bill),
    order_id TEXT NOT NULL REFERENCES orders (order_id),
    line_no INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    PRIMARY KEY (house_bill, order_id, line_no)
) STRICT;
CREATE INDEX parcel_lines_order ON parcel_lines (order_id, line_no);
"""

_CARRIER = """
CREATE TABLE masters (
    mawb TEXT PRIMARY KEY NOT NULL,
    flight_no TEXT NOT NULL,
    origin_airport TEXT NOT NULL,
    destination_airport TEXT NOT NULL,
    departure_at TEXT NOT NULL,
    eta TEXT NOT NULL
) STRICT;
CREATE INDEX masters_eta ON masters (eta);

CREATE TABLE house_bills (
    house_bill TEXT PRIMARY KEY NOT NULL,
    mawb TEXT NOT NULL REFERENCES masters (mawb),
    shipper_name TEXT NOT NULL,
    shipper_address TEXT NOT NULL,
    shipper_country TEXT NOT NULL,
    consignee_name TEXT NOT NULL,
    consignee_address TEXT NOT NULL,
    pieces INTEGER NOT NULL,
    weight_kg REAL NOT NULL,
    declared_value REAL NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    hs6 TEXT NOT NULL,
    origin_country TEXT NOT NULL,
    known_shipper INTEGER NOT NULL,
    screened INTEGER NOT NULL,
    preload_status TEXT NOT NULL
) STRICT;
CREATE INDEX house_bills_mawb ON house_bills (mawb);

CREATE TABLE house_bill_items (
    house_bill TEXT NOT NULL REFERENCES house_bills (house_bill),
    item_no INTEGER NOT NULL,
    description TEXT NOT NULL,
    hs6 TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (house_bill, item_no)
) STRICT;
"""

# A consolidated entry covers several house bills: entries.house_bill and these.
_ENTRY_HOUSE_BILLS = """
CREATE TABLE entry_house_bills (
    entry_number TEXT NOT NULL REFERENCES entries (entry_number),
    house_bill TEXT NOT NULL,
    PRIMARY KEY (entry_number, house_bill)
) STRICT;
CREATE INDEX entry_house_bills_house_bill ON entry_house_bills (house_bill);
"""

_BROKER = """
CREATE TABLE entries (
    entry_number TEXT PRIMARY KEY NOT NULL,
    entry_type TEXT NOT NULL,
    importer_of_record TEXT,
    consignee_name TEXT NOT NULL,
    consignee_address TEXT NOT NULL,
    port_code TEXT NOT NULL,
    estimated_arrival TEXT NOT NULL,
    mawb TEXT NOT NULL,
    house_bill TEXT NOT NULL,
    total_value_usd REAL NOT NULL,
    release_status TEXT NOT NULL
) STRICT;
CREATE INDEX entries_house_bill ON entries (house_bill);
CREATE INDEX entries_estimated_arrival ON entries (estimated_arrival);
CREATE INDEX entries_mawb ON entries (mawb);

CREATE TABLE entry_lines (
    entry_number TEXT NOT NULL REFERENCES entries (entry_number),
    line_no INTEGER NOT NULL,
    hts10 TEXT NOT NULL,
    description TEXT NOT NULL,
    origin_country TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    value_usd REAL NOT NULL,
    mid TEXT,
    certificate_ref TEXT,
    PRIMARY KEY (entry_number, line_no)
) STRICT;
CREATE INDEX entry_lines_mid ON entry_lines (mid);
"""


def _add_steps(migrations: Migrations, steps: tuple[tuple[str, str], ...]) -> Migrations:
    for name, sql in steps:

        def step(db: Database, sql: str = sql) -> None:
            db.executescript(sql)

        step.__name__ = name
        migrations(name=name)(step)
    return migrations


def _migrations(set_name: str, steps: tuple[tuple[str, str], ...]) -> Migrations:
    return _add_steps(Migrations(set_name), steps)


# Every answered query id, forever (16 bytes each, the primary key is the index): a token
# key is derived from the query id, so an id must never be answered twice. Rate-limit
# buckets and throttles survive a restart.
_REQUEST_STATE = """
CREATE TABLE query_ids (
    query_id BLOB PRIMARY KEY NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE rate_state (
    requester TEXT NOT NULL,
    kind TEXT NOT NULL,
    level REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (requester, kind)
) STRICT, WITHOUT ROWID;
"""

# Amendments (node.store.amend) and the originals of values an import changed
# (node.store.importer), e.g. money rounded to cents.
_AMENDMENTS = """
CREATE TABLE row_versions (
    table_name TEXT NOT NULL,
    row_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (table_name, row_key)
) STRICT;

CREATE TABLE amendments (
    seq INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    row_key TEXT NOT NULL,
    old_version INTEGER NOT NULL,
    new_version INTEGER NOT NULL,
    changes TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    line INTEGER NOT NULL,
    amended_at TEXT NOT NULL
) STRICT;
CREATE INDEX amendments_row ON amendments (table_name, row_key, seq);

CREATE TABLE import_values (
    file_sha256 TEXT NOT NULL,
    table_name TEXT NOT NULL,
    line INTEGER NOT NULL,
    column_name TEXT NOT NULL,
    original TEXT NOT NULL,
    stored TEXT NOT NULL,
    PRIMARY KEY (file_sha256, table_name, line, column_name)
) STRICT;
"""

_COMMON_STEPS = (
    ("0001_node_internals", _NODE_INTERNALS),
    ("0002_reference_lists", _REFERENCE_LISTS),
    ("0003_privacy_ledger", _PRIVACY_LEDGER),
    ("0004_request_state", _REQUEST_STATE),
)
_ROLE_STEPS = {
    "marketplace": (
        ("0001_marketplace_tables", _MARKETPLACE),
        # date windows of consignee totals and trade statistics
        ("0002_fulfillments_shipped_at",
         "CREATE INDEX fulfillments_shipped_at ON fulfillments (shipped_at);"),
        ("0003_parcel_lines", _PARCEL_LINES),
    ),
    "carrier": (("0001_carrier_tables", _CARRIER),),
    "broker": (
        ("0001_broker_tables", _BROKER),
        ("0002_entry_house_bills", _ENTRY_HOUSE_BILLS),
    ),
}
_COMMON = _migrations("fedtrade-node", _COMMON_STEPS)


_KEEP_SEEN = "0005_keep_seen_query_ids"  # a Python step: SQLite 3.40 has no unhex()


@_COMMON(name=_KEEP_SEEN)
def _keep_seen_query_ids(db: Database) -> None:
    """Carry the ids remembered until expiry over into the permanent table."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO query_ids (query_id) VALUES (?)",
        ((bytes.fromhex(qid),) for (qid,) in db.conn.execute("SELECT query_id FROM seen_queries")),
    )
    db.conn.execute("DROP TABLE seen_queries")


# Steps after the Python step above, applied in this order.
_LATER_STEPS = (("0006_amendments_and_import_values", _AMENDMENTS),)
_add_steps(_COMMON, _LATER_STEPS)
_ROLE = {role: _migrations(f"fedtrade-{role}", steps) for role, steps in _ROLE_STEPS.items()}
# Python steps after each role's SQL steps: the derived per-parcel tables
# (node.store.indicators), filled from what an existing store already holds.
_ROLE_LATER = {"marketplace": "0004_parcel_indicators", "carrier": "0002_parcel_indicators",
               "broker": "0003_parcel_indicators"}


def _add_indicators(role: str) -> None:
    def step(db: Database) -> None:
        for statement in TABLES_SQL[role].split(";"):
            if statement.strip():
                db.execute(statement)
        refresh(db.conn, role)

    _ROLE[role](name=_ROLE_LATER[role])(step)


for _role in _ROLE:
    _add_indicators(_role)

# Rebuilds of the derived tables after their SQL changed (a store keeps what it was built
# with until its next import otherwise).
_REBUILDS = {"marketplace": "0005_parcel_indicators_top_line"}  # country, status, hint


def _add_rebuild(role: str) -> None:
    _ROLE[role](name=_REBUILDS[role])(lambda db: refresh(db.conn, role))


for _role in _REBUILDS:
    _add_rebuild(_role)

# consignee_parcels.several and its partial index (node.store.indicators), set from the
# rows a store holds.
_SEVERAL = "0006_consignee_parcels_several"


def _add_several(role: str) -> None:
    _ROLE[role](name=_SEVERAL)(lambda db: add_several(db.conn))


for _role in _ROLE:
    _add_several(_role)


def _stored_role(db: Database) -> str | None:
    if not db["store_meta"].exists():
        return None
    row = db.execute("SELECT value FROM store_meta WHERE key = 'role'").fetchone()
    return None if row is None else str(row[0])


def _check_known_migrations(db: Database, path: Path, role: str) -> None:
    known = {name for name, _ in (*_COMMON_STEPS, *_LATER_STEPS, *_ROLE_STEPS[role])} | \
        {_KEEP_SEEN, _ROLE_LATER[role], _SEVERAL} | \
        ({_REBUILDS[role]} if role in _REBUILDS else set())
    applied = {m.name for m in _COMMON.applied(db)} | {m.name for m in _ROLE[role].applied(db)}
    unknown = sorted(applied - known)
    if unknown:
        raise ConfigError(
            f"the store was upgraded by a newer fedtrade release (unknown migrations: "
            f"{', '.join(unknown)}); run this node with that release or newer",
            path=path,
        )


def _check_role(db: Database, path: Path, role: str) -> None:
    stored = _stored_role(db)
    if stored is None:
        others = [name for name in db.table_names() if not name.startswith("_sqlite")]
        if others:
            raise ConfigError(
                f"this SQLite file is not a fedtrade store (it has tables {', '.join(others[:5])}"
                f"{', ...' if len(others) > 5 else ''}); point the node's database setting at "
                "a new file or at its own store",
                path=path,
            )
    elif stored != role:
        raise ConfigError(
            f"the store was created for role {stored!r}, not {role!r}; point the node's "
            f"database setting at the {role} store or at a new file",
            path=path,
        )


def _upgrade(db: Database, path: Path, role: str) -> None:
    db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    _check_role(db, path, role)  # before WAL: a file that is not ours is left as it was
    _check_known_migrations(db, path, role)
    db.enable_wal()
    _COMMON.apply(db)
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES ('role', ?)", [role])
    _check_role(db, path, role)
    _ROLE[role].apply(db)


def check_regular(path: Path) -> None:
    """Refuse a store path that is a FIFO (SQLite would wait for a writer forever), a
    device or a folder; a missing file is left to the caller."""
    kind = not_regular(path)
    if kind is not None:
        raise ConfigError(f"is {kind}, not a regular file; point the node's database "
                          "setting at its SQLite file", path=path)


def check_store(conn: sqlite3.Connection, path: Path, role: str) -> None:
    """Refuse, before a read-only command reads it, a store it cannot trust to be this role's
    at this release: empty, not a fedtrade store, another role's, or made by a newer or an
    older release (a read-only connection cannot upgrade it). ``ConfigError`` says which."""
    db = Database(conn)
    if not db.table_names():
        raise ConfigError("the store is empty: this node has not served or imported yet; "
                          "check the node's database setting", path=path)
    _check_role(db, path, role)
    _check_known_migrations(db, path, role)
    pending = [m.name for m in (*_COMMON.pending(db), *_ROLE[role].pending(db))]
    if pending:
        raise ConfigError(
            f"the store was made by an older fedtrade release (pending migrations: "
            f"{', '.join(pending)}); start the node once (serve or import) to upgrade it",
            path=path)


def open_store(db_path: Path, role: str) -> Database:
    """Open (creating or upgrading as needed) the store of ``role`` at ``db_path``.

    The returned connection has WAL journaling, foreign keys enforced and a busy
    timeout; the caller closes it. Raises ``ConfigError`` for an unknown role, a
    store of another role, a file that is not a fedtrade store, or a path that
    cannot be opened.
    """
    check_role(role)
    check_regular(db_path)
    db: Database | None = None
    try:
        db = Database(db_path, execute_plugins=False)
        _upgrade(db, db_path, role)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        # a damaged file's schema text may not be UTF-8: sqlite3 then raises on the message
        if db is not None:
            db.close()
        reason = exc if isinstance(exc, sqlite3.DatabaseError) else "damaged (text not UTF-8)"
        raise ConfigError(
            f"cannot open the store: {reason}; check the node's database setting (the folder must "
            "exist and the file must be a SQLite database)",
            path=db_path,
        ) from exc
    except BaseException:
        if db is not None:
            db.close()
        raise
    return db
