"""settle_collector: what a serving process starts with stays out of every collection, and
young collections run far less often; cyclic garbage is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from fedtrade.protocol.collector import YOUNG_THRESHOLD, settle_collector


@pytest.fixture
def restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class _Node:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("restored")
def test_settled_collector_freezes_and_still_collects_cycles() -> None:
    settle_collector()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
    cycle = _Node()
    gone = weakref.ref(cycle)
    del cycle
    assert gone() is not None  # a cycle waits for a collection
    gc.collect()
    assert gone() is None
