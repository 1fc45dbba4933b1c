"""Persistent replay protection: a query id is accepted once until it expires.

While a request is being answered its id is reserved in memory; the id is
written to SQLite in the same transaction as the request's audit entry, so a
restart does not reopen the window and a request costs one commit.
"""

from __future__ import annotations

import sqlite3

from fedtrade.trust.errors import ReplayError

__all__ = ["ReplayGuard"]

PURGE_EVERY = 1_000


class ReplayGuard:
    """Not thread-safe by itself: the store calls it under its write lock."""

    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._writes = 0

    def reserve(self, conn: sqlite3.Connection, query_id: str) -> None:
        """Claim ``query_id`` for this request or raise ReplayError."""
        seen = conn.execute("SELECT 1 FROM seen_queries WHERE query_id = ?", (query_id,))
        if query_id in self._pending or seen.fetchone() is not None:
            raise ReplayError(
                f"query id {query_id} was already used; every query needs a fresh random id "
                "(the coordinator makes one per request — do not resend a signed query)"
            )
        self._pending.add(query_id)

    def persist(
        self, conn: sqlite3.Connection, query_id: str, expires_at: float, forget_before: float
    ) -> None:
        """Write a reserved id inside the caller's transaction; now and then forget
        ids whose query expired before ``forget_before`` (now minus the clock skew):
        such a query is refused as expired before its id is looked at."""
        conn.execute(
            "INSERT INTO seen_queries (query_id, expires_at) VALUES (?, ?)", (query_id, expires_at)
        )
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            conn.execute("DELETE FROM seen_queries WHERE expires_at < ?", (forget_before,))

    def release(self, query_id: str) -> None:
        self._pending.discard(query_id)
