"""Per-requester rate limits and throttles, kept across restarts.

Queries and shipments per minute are token buckets; every authenticated
question is charged one query before anything else is checked (describe and
refused questions included), its shipments once its batch is known. A
requester the enumeration alarm trips is throttled until a moment.

Where the buckets live is a ``Buckets``: ``MemoryBuckets`` (one process; written
to SQLite with each request's audit entry, so a restart neither refills nor
forgets them) or the PostgreSQL store's, updated under a row lock so replicas
share one allowance per requester.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from fedtrade.node.config import RateLimit
from fedtrade.trust.errors import RateLimitError

__all__ = ["Bucket", "Buckets", "MemoryBuckets", "RateLimiter", "RateRow"]

# (requester, kind, level, updated): one persisted bucket or throttle
RateRow = tuple[str, str, float, float]
_QUERIES, _SHIPMENTS, _THROTTLE = "queries", "shipments", "throttled_until"


T = TypeVar("T")


@dataclass
class Bucket:
    level: float
    updated: float

    def refill(self, capacity: float, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.level = min(capacity, self.level + elapsed * capacity / 60.0)
        self.updated = now


class Buckets(Protocol):
    def peek(self, key: tuple[str, str]) -> Bucket | None:
        """The bucket ``key`` as stored, or None."""

    def update(self, key: tuple[str, str], new: Bucket, change: Callable[[Bucket], T]) -> T:
        """Apply ``change`` to bucket ``key`` (``new`` when there is none) atomically, store
        the result and return what ``change`` returned."""

    def changed(self) -> list[RateRow]:
        """The buckets changed since the last call that the caller must persist."""


class MemoryBuckets:
    """One process's buckets; ``changed`` hands them to the SQLite store to persist."""

    def __init__(self, saved: Iterable[RateRow] = ()) -> None:
        self._lock = threading.Lock()
        self._buckets = {(r, kind): Bucket(level, updated) for r, kind, level, updated in saved}
        self._dirty: set[tuple[str, str]] = set()

    def peek(self, key: tuple[str, str]) -> Bucket | None:
        with self._lock:
            return self._buckets.get(key)

    def update(self, key: tuple[str, str], new: Bucket, change: Callable[[Bucket], T]) -> T:
        with self._lock:
            self._dirty.add(key)
            return change(self._buckets.setdefault(key, new))

    def changed(self) -> list[RateRow]:
        with self._lock:
            rows = [(r, kind, self._buckets[(r, kind)].level, self._buckets[(r, kind)].updated)
                    for r, kind in self._dirty]
            self._dirty.clear()
        return rows


def _take(amount: float, capacity: float, now: float) -> Callable[[Bucket], float]:
    """Seconds to wait before ``amount`` fits, 0.0 if it fits now (then it is taken)."""

    def take(bucket: Bucket) -> float:
        bucket.refill(capacity, now)
        if amount > capacity:
            return math.inf
        if amount > bucket.level:
            return (amount - bucket.level) * 60.0 / capacity
        bucket.level -= amount
        return 0.0

    return take


class RateLimiter:
    """Each requester may spend up to a minute's allowance at once, refilled continuously.

    ``clock`` is wall time (seconds since the epoch): saved buckets must mean the same
    after a restart and across replicas.
    """

    def __init__(
        self, clock: Callable[[], float] = time.time, saved: Iterable[RateRow] = (),
        buckets: Buckets | None = None,
    ) -> None:
        self._clock = clock
        self._buckets: Buckets = buckets if buckets is not None else MemoryBuckets(saved)

    def _take(self, key: tuple[str, str], amount: float, capacity: float, now: float) -> float:
        return self._buckets.update(key, Bucket(capacity, now), _take(amount, capacity, now))

    def charge_query(self, requester: str, limit: RateLimit) -> None:
        """Count one question, or raise RateLimitError (also while the requester is throttled)."""
        now = self._clock()
        throttle = self._buckets.peek((requester, _THROTTLE))
        if throttle is not None and now < throttle.level:
            until = datetime.fromtimestamp(throttle.level, UTC).isoformat(timespec="seconds")
            raise RateLimitError(
                f"requester {requester!r} is throttled until {until}: too many of its "
                "recent questions were about shipments this node does not hold "
                "(enumeration alarm); ask about attested manifest lines only",
                retry_after=throttle.level - now,
            )
        wait = self._take((requester, _QUERIES), 1, limit.queries_per_minute, now)
        if wait > 0:
            raise RateLimitError(
                f"rate limit of {limit.queries_per_minute} queries per minute reached; "
                f"retry in {max(wait, 0.1):.1f} s",
                retry_after=wait,
            )

    def charge_shipments(self, requester: str, limit: RateLimit, shipments: int) -> None:
        """Count a question's shipments, or raise RateLimitError with a retry hint."""
        if shipments == 0:
            return
        wait = self._take(
            (requester, _SHIPMENTS), shipments, limit.shipments_per_minute, self._clock())
        if wait == math.inf:
            raise RateLimitError(
                f"a batch of {shipments} shipments exceeds this requester's whole limit of "
                f"{limit.shipments_per_minute} shipments per minute; send smaller batches",
                retry_after=60.0,
            )
        if wait > 0:
            raise RateLimitError(
                f"rate limit of {limit.shipments_per_minute} shipments per minute reached; "
                f"retry in {max(wait, 0.1):.1f} s",
                retry_after=wait,
            )

    def throttle(self, requester: str, until: float) -> None:
        def set_until(bucket: Bucket) -> None:
            bucket.level, bucket.updated = until, now

        now = self._clock()
        self._buckets.update((requester, _THROTTLE), Bucket(until, now), set_until)

    def changed(self) -> list[RateRow]:
        """The buckets changed since the last call, to persist with the audit entry."""
        return self._buckets.changed()
