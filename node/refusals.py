"""Refusals before authentication, counted in memory and audited in aggregate.

A request whose signature does not verify names no one we know: anyone who can
reach the port can send them by the thousand. Writing one audit row each would
let an unauthenticated sender grow the store and the log without bound, so
they are counted per peer host and reason, and become at most one audit row
per peer and reason per interval, holding the count, the time span and a
capped example of the reason. At most ``max_peers`` peers are kept apart; the
rest are counted together as ``other``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fedtrade.node.audit import AuditEntry

__all__ = ["MAX_EXAMPLE_CHARS", "UNAUTHENTICATED", "RefusalTally"]

UNAUTHENTICATED = "(unauthenticated)"
MAX_EXAMPLE_CHARS = 200
_OTHER_PEERS = "other"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class _Count:
    refusals: int
    first: str
    last: str
    example: str


class RefusalTally:
    """Thread-safe counts of refusals before authentication, by (peer, reason)."""

    def __init__(
        self,
        interval: float = 60.0,
        *,
        max_peers: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._max_peers = max_peers
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], _Count] = {}
        self._peers: set[str] = set()
        self._since = clock()

    def add(self, peer: str, reason: str, message: str) -> None:
        """Count one refusal; ``reason`` is the error class, ``message`` its text (capped)."""
        moment = _now()
        example = message[:MAX_EXAMPLE_CHARS]
        with self._lock:
            if peer not in self._peers:
                if len(self._peers) >= self._max_peers:
                    peer = _OTHER_PEERS
                self._peers.add(peer)
            count = self._counts.get((peer, reason))
            if count is None:
                self._counts[(peer, reason)] = _Count(1, moment, moment, example)
            else:
                count.refusals += 1
                count.last, count.example = moment, example

    def due(self) -> bool:
        """Whether an interval has passed since the last drain."""
        return self._clock() - self._since >= self.interval

    def drain(self) -> list[AuditEntry]:
        """The audit rows for everything counted since the last drain, and start afresh."""
        with self._lock:
            counts, self._counts, self._peers = self._counts, {}, set()
            self._since = self._clock()
        return [
            AuditEntry(
                recorded_at=_now(),
                query_id="",
                requester=UNAUTHENTICATED,
                purpose="",
                case_id="",
                query_name="",
                param_digest="",
                answer_digest="",
                decision="refused",
                reason=(
                    f"{count.refusals} request(s) refused before authentication from {peer} "
                    f"between {count.first} and {count.last}: {reason}; last reason: "
                    f"{count.example}"
                ),
            )
            for (peer, reason), count in sorted(counts.items())
        ]
