"""Persistent replay protection: a query id is accepted once until it expires."""

from __future__ import annotations

import sqlite3

from trust.errors import ReplayError

__all__ = ["remember_query_id"]


def remember_query_id(
    conn: sqlite3.Connection, query_id: str, expires_at: float, forget_before: float
) -> None:
    """Record ``query_id`` (inside the caller's transaction) or raise ReplayError.

    Ids are kept until their query expired (``forget_before`` is now minus the
    allowed clock skew), so a restart does not reopen the window; forgetting
    them later is safe because such a query is refused as expired first.
    """
    conn.execute("DELETE FROM seen_queries WHERE expires_at < ?", (forget_before,))
    try:
        conn.execute(
            "INSERT INTO seen_queries (query_id, expires_at) VALUES (?, ?)", (query_id, expires_at)
        )
    except sqlite3.IntegrityError:
        raise ReplayError(
            f"query id {query_id} was already used; every query needs a fresh random id "
            "(the coordinator makes one per request — do not resend a signed query)"
        ) from None
