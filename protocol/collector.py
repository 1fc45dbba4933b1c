"""The cyclic garbage collector set for a long-running process answering many questions.

A question makes tens of thousands of short-lived tuples (SQLite rows, answer columns);
at Python's default threshold (a young collection every 700 new containers, and a full
one that walks every object the process holds every hundred of those) the collector took
15-20 % of a node's CPU answering screening batches at 1,000,000 parcels (and about 3 %
of the coordinator's screening them). Objects made
while starting (modules, config, caches) are frozen out of every collection, and young
collections run every 50,000 new containers: garbage without cycles is freed at once
whatever the threshold, so only cyclic garbage waits longer, a few MB at most.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_collector"]

YOUNG_THRESHOLD = 50_000


def settle_collector() -> None:
    """Freeze what exists now and raise the young generation's threshold (call once the
    process has started, before it serves)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 10)
