"""The inspection-budget curve, including a run where nothing scores (every node down)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.screening import BUDGET_SHARES, _Worklist, budget_curve


def test_nothing_scored_opens_nothing() -> None:
    points = budget_curve([0, 0, 0], [0, 0, 0], [0, 0, 0], shares=(0.5, 1.0))
    assert [(p.slots, p.federation, p.manifest_only) for p in points] == [(2, 0, 0), (3, 0, 0)]


def test_the_top_of_each_worklist_is_counted() -> None:
    # federation ranks shipments 2, 0; the manifest alone ranks 1 first
    points = budget_curve([5, 0, 9, 0], [0, 7, 0, 0], [1, 0, 1, 0], shares=(0.25, 0.5))
    assert [(p.slots, p.federation, p.manifest_only) for p in points] == [(1, 1, 0), (2, 2, 0)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=60),
       st.lists(st.integers(1, 9), min_size=1))
def test_worklists_kept_batch_by_batch_count_as_the_whole_run_did(
        shipments: list[tuple[int, bool]], sizes: list[int]) -> None:
    """Only scored shipments are kept, batch by batch: the counts equal those of the whole
    run's scores (the curve before: every shipment's score kept to the end)."""
    scores = np.array([score for score, _ in shipments], np.int64)
    flagged = np.array([flag for _, flag in shipments], bool)
    worklist = _Worklist()
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(shipments):
            break
        worklist.add(scores[start:start + size], flagged[start:start + size])
        start += size
    slots = [math.ceil(share * len(shipments)) for share in BUDGET_SHARES] + [len(shipments)]
    order = np.flatnonzero(scores > 0)
    order = order[np.argsort(-scores[order], kind="stable")]  # highest first, manifest order
    assert worklist.opened(slots) == [int(flagged[order[:n]].sum()) for n in slots]
