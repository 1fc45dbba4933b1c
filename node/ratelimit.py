"""Per-requester rate limits: queries and shipments per minute, as token buckets."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fedtrade.node.config import RateLimit
from fedtrade.trust.errors import RateLimitError

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    level: float
    updated: float

    def refill(self, capacity: float, now: float) -> None:
        self.level = min(capacity, self.level + (now - self.updated) * capacity / 60.0)
        self.updated = now


class RateLimiter:
    """Each requester may spend up to a minute's allowance at once, refilled continuously."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _take(self, key: tuple[str, str], amount: float, capacity: float, now: float) -> float:
        """Seconds to wait before ``amount`` fits, 0.0 if it fits now (then it is taken)."""
        bucket = self._buckets.setdefault(key, _Bucket(capacity, now))
        bucket.refill(capacity, now)
        if amount <= bucket.level:
            return 0.0
        if amount > capacity:
            return math.inf
        return (amount - bucket.level) * 60.0 / capacity

    def charge(self, requester: str, limit: RateLimit, shipments: int) -> None:
        """Count one query of ``shipments`` shipments, or raise RateLimitError with a retry hint."""
        with self._lock:
            now = self._clock()
            waits = (
                self._take((requester, "queries"), 1, limit.queries_per_minute, now),
                self._take((requester, "shipments"), shipments, limit.shipments_per_minute, now),
            )
            wait = max(waits)
            if wait == math.inf:
                raise RateLimitError(
                    f"a batch of {shipments} shipments exceeds this requester's whole limit of "
                    f"{limit.shipments_per_minute} shipments per minute; send smaller batches",
                    retry_after=60.0,
                )
            if wait > 0:
                raise RateLimitError(
                    f"rate limit of {limit.queries_per_minute} queries and "
                    f"{limit.shipments_per_minute} shipments per minute reached; "
                    f"retry in {max(wait, 0.1):.1f} s",
                    retry_after=wait,
                )
            self._buckets[(requester, "queries")].level -= 1
            self._buckets[(requester, "shipments")].level -= shipments
