"""The manifest's consignee-day totals and split windows, built and slid in place with
numpy, against the same figures as running totals in plain Python."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.consignee_days import ConsigneeDays

Row = tuple[int, int, float, bool]  # consignee, day, usd, at a forwarder


def reference(rows: list[Row], threshold: float, width: int
              ) -> tuple[list[tuple[int, int, int, float]], list[bool]]:
    """Entries (consignee, day, parcels, usd: summed in row order) sorted, and per row:
    is a window of its consignee that holds its day over the threshold?"""
    totals: dict[tuple[int, int], list[float]] = {}
    forwarding: set[tuple[int, int]] = set()
    for consignee, day, usd, forwarder in rows:
        entry = totals.setdefault((consignee, day), [0, 0.0])
        entry[0] += 1
        entry[1] += usd
        if forwarder:
            forwarding.add((consignee, day))
    entries = sorted(totals)
    marked: set[tuple[int, int]] = set()
    for consignee, opening in entries:
        window = [(c, d) for c, d in entries if c == consignee and opening <= d < opening + width]
        parcels, usd = 0, 0.0
        for key in window:  # in day order, as the windows slide
            parcels += int(totals[key][0])
            usd += totals[key][1]
        if parcels >= 2 and usd > threshold and (consignee, opening) not in forwarding:
            marked.update(window)
    return ([(c, d, int(totals[c, d][0]), totals[c, d][1]) for c, d in entries],
            [(c, d) in marked for c, d, _, _ in rows])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(739_000, 739_012),
                          st.floats(0, 900, allow_nan=False), st.booleans()),
                min_size=1, max_size=60),
       st.integers(1, 5), st.sampled_from([0.0, 100.0, 800.0]))
def test_in_place_totals_and_windows_are_the_running_totals(
        rows: list[Row], width: int, threshold: float) -> None:
    days = ConsigneeDays.build(np.array([r[0] for r in rows], np.uint64),
                               np.array([r[1] for r in rows], np.int64),
                               np.array([r[2] for r in rows], np.float64))
    entries, split = reference(rows, threshold, width)
    assert list(zip(days.consignee.tolist(), days.day.tolist(), days.parcels.tolist(),
                    days.usd.tolist(), strict=True)) == entries
    assert [entries[g][:2] for g in days.group_of_row.tolist()] == [r[:2] for r in rows]
    flags = days.split_rows(threshold, width, np.array([r[3] for r in rows], bool))
    assert flags.tolist() == split


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(739_000, 739_012),
                          st.floats(0, 900, allow_nan=False)), min_size=1, max_size=60),
       st.lists(st.tuples(st.integers(0, 6), st.integers(738_995, 739_014)), max_size=20),
       st.integers(1, 5))
def test_window_totals_are_running_totals_in_day_order(
        rows: list[tuple[int, int, float]], asked: list[tuple[int, int]], width: int) -> None:
    days = ConsigneeDays.build(np.array([r[0] for r in rows], np.uint64),
                               np.array([r[1] for r in rows], np.int64),
                               np.array([r[2] for r in rows], np.float64))
    parcels, usd = days.window_totals(np.array([a[0] for a in asked], np.uint64),
                                      np.array([a[1] for a in asked], np.int64), width)
    expected = []
    for consignee, opening in asked:  # per day in row order, then the days in order
        inside = sorted({d for c, d, _ in rows
                         if c == consignee and opening <= d < opening + width})
        per_day = [sum(u for c, d, u in rows if c == consignee and d == day) for day in inside]
        expected.append((sum(1 for c, d, _ in rows if c == consignee and d in inside),
                         sum(per_day)))
    # bit for bit: the reason text and the largest role follow these exact figures
    assert list(zip(parcels.tolist(), usd.tolist(), strict=True)) == expected
