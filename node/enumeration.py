"""The enumeration alarm: a requester asking mostly about shipments a node does not hold.

With attested questions a requester cannot invent house bills, but a dishonest
filer could attest invented ones for it. Per requester the node counts, over a
sliding window, the shipments asked about and those it answered "not known";
when at least ``min_shipments`` were asked and the unknown share exceeds
``max_unknown_share``, the requester is throttled for ``throttle_seconds``
(every question refused RESOURCE_EXHAUSTED), a metric counts the alarm and a
log line (JSON with ``--log-format json``) says who and why.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

__all__ = ["AlarmSettings", "EnumerationAlarm"]

alarm_log = logging.getLogger("fedtrade.node.alarms")


@dataclass(frozen=True)
class AlarmSettings:
    window_seconds: int = 600
    min_shipments: int = 1_000
    max_unknown_share: float = 0.9
    throttle_seconds: int = 900


@dataclass(frozen=True)
class Trip:
    """Why a requester was throttled."""

    asked: int
    unknown: int
    until: float


@dataclass
class _Window:
    """One requester's answered questions in the window, and their running sums (a
    question adds to them and leaves them when it ages out: no re-summing per answer)."""

    items: deque[tuple[float, int, int]] = field(default_factory=deque)
    asked: int = 0
    unknown: int = 0


class EnumerationAlarm:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # requester -> (moment, shipments asked, not known) per answered question
        self._seen: dict[str, _Window] = {}

    def observe(
        self, requester: str, asked: int, unknown: int, now: float, settings: AlarmSettings
    ) -> Trip | None:
        """Count one answer; return a Trip when the requester must now be throttled."""
        if asked == 0:
            return None
        with self._lock:
            window = self._seen.setdefault(requester, _Window())
            window.items.append((now, asked, unknown))
            window.asked += asked
            window.unknown += unknown
            items = window.items
            while items and items[0][0] < now - settings.window_seconds:
                _, old_asked, old_unknown = items.popleft()
                window.asked -= old_asked
                window.unknown -= old_unknown
            total, missing = window.asked, window.unknown
            if total < settings.min_shipments or missing <= settings.max_unknown_share * total:
                return None
            # the throttle is the consequence; start counting afresh after it
            del self._seen[requester]
        trip = Trip(total, missing, now + settings.throttle_seconds)
        alarm_log.warning(
            "enumeration alarm: requester %s throttled for %d s", requester,
            settings.throttle_seconds,
            extra={"event": "enumeration_alarm", "requester": requester, "asked": total,
                   "not_known": missing, "window_seconds": settings.window_seconds,
                   "throttled_until": trip.until},
        )
        return trip
