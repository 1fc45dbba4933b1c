"""The inspection-budget curve, including a run where nothing scores (every node down)."""

from __future__ import annotations

from fedtrade.coordinator.screening import budget_curve


def test_nothing_scored_opens_nothing() -> None:
    points = budget_curve([0, 0, 0], [0, 0, 0], [0, 0, 0], shares=(0.5, 1.0))
    assert [(p.slots, p.federation, p.manifest_only) for p in points] == [(2, 0, 0), (3, 0, 0)]


def test_the_top_of_each_worklist_is_counted() -> None:
    # federation ranks shipments 2, 0; the manifest alone ranks 1 first
    points = budget_curve([5, 0, 9, 0], [0, 7, 0, 0], [1, 0, 1, 0], shares=(0.25, 0.5))
    assert [(p.slots, p.federation, p.manifest_only) for p in points] == [(1, 1, 0), (2, 2, 0)]
