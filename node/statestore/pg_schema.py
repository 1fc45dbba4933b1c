"""The PostgreSQL state schema, as named migrations applied once each, in order.

sqlite-utils cannot drive PostgreSQL, so the store keeps its own small table
``fedtrade_migrations`` of the names applied. A released migration never changes;
a change is a new entry at the end.
"""

from __future__ import annotations

import psycopg

__all__ = ["MIGRATIONS", "migrate"]

# Any constant works; it only has to differ from the store's other advisory locks.
_MIGRATION_LOCK = 0x66656474_0001

_STATE = """
CREATE TABLE query_ids (
    query_id bytea PRIMARY KEY
);

CREATE TABLE audit_log (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    recorded_at text NOT NULL,
    query_id text NOT NULL,
    requester text NOT NULL,
    purpose text NOT NULL,
    case_id text NOT NULL,
    query_name text NOT NULL,
    param_digest text NOT NULL,
    answer_digest text NOT NULL,
    decision text NOT NULL,
    reason text NOT NULL,
    prev_hash text NOT NULL,
    entry_hash text NOT NULL
);

CREATE FUNCTION fedtrade_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END
$$;

{append_only_audit_log}

CREATE TABLE rate_state (
    requester text NOT NULL,
    kind text NOT NULL,
    level double precision NOT NULL,
    updated double precision NOT NULL,
    PRIMARY KEY (requester, kind)
);

CREATE TABLE privacy_ledger (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requester text NOT NULL,
    node_id text NOT NULL,
    spent_at double precision NOT NULL,
    epsilon double precision NOT NULL,
    delta double precision NOT NULL,
    query_id text NOT NULL,
    query_name text NOT NULL
);
CREATE INDEX privacy_ledger_spend ON privacy_ledger (requester, node_id, spent_at);
{append_only_privacy_ledger}

CREATE TABLE privacy_answers (
    requester text NOT NULL,
    node_id text NOT NULL,
    cache_key text NOT NULL,
    columns text NOT NULL,
    rows text NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (requester, node_id, cache_key)
);
"""



def _append_only(table: str) -> str:
    """Triggers refusing UPDATE, DELETE and TRUNCATE on ``table``."""
    return (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}\n"
            "    FOR EACH ROW EXECUTE FUNCTION fedtrade_append_only();\n"
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}\n"
            "    FOR EACH STATEMENT EXECUTE FUNCTION fedtrade_append_only();")


MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("0001_request_state", _STATE.replace("{append_only_audit_log}", _append_only("audit_log"))
     .replace("{append_only_privacy_ledger}", _append_only("privacy_ledger"))),
)


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """Apply the migrations not yet applied, in one transaction; return their names.

    Replicas starting together serialize on an advisory lock, so each migration runs once.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS fedtrade_migrations ("
                     "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT name FROM fedtrade_migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name not in done:
                conn.execute(sql.encode())
                conn.execute("INSERT INTO fedtrade_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
    return applied
