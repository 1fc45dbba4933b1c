"""Persistent replay protection: a query id is answered once, ever.

Linkage token keys are derived from the query id (``trust.linkage``), so an id
answered again after its query expired could repeat a token. Every answered
id is therefore kept for good, as 16 bytes in a WITHOUT ROWID table whose
primary key is the lookup index (about 21 MB per million ids, see the
README). While a request is being answered its id is reserved in memory; the
id is written in the same transaction as the request's audit entry, so a
restart does not reopen it and a request costs one commit.

This guard serves one process (the SQLite store). Replicas on one PostgreSQL
store claim ids with ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on the
primary key instead (``node.statestore.postgres``), committed at once.
"""

from __future__ import annotations

import sqlite3

from fedtrade.trust.errors import ReplayError

__all__ = ["ReplayGuard", "replay_error"]


def replay_error(query_id: str) -> ReplayError:
    return ReplayError(
        f"query id {query_id} was already used; every query needs a fresh random id "
        "(the coordinator makes one per request — do not resend a signed query)"
    )


class ReplayGuard:
    """Not thread-safe by itself: the store calls it under its write lock."""

    def __init__(self) -> None:
        self._pending: set[str] = set()

    def reserve(self, conn: sqlite3.Connection, query_id: str) -> None:
        """Claim ``query_id`` (hex) for this request or raise ReplayError."""
        seen = conn.execute(
            "SELECT 1 FROM query_ids WHERE query_id = ?", (bytes.fromhex(query_id),))
        if query_id in self._pending or seen.fetchone() is not None:
            raise replay_error(query_id)
        self._pending.add(query_id)

    def persist(self, conn: sqlite3.Connection, query_id: str) -> None:
        """Write a reserved id inside the caller's transaction."""
        conn.execute("INSERT INTO query_ids (query_id) VALUES (?)", (bytes.fromhex(query_id),))

    def release(self, query_id: str) -> None:
        self._pending.discard(query_id)
