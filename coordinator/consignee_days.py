"""The manifest's own totals per consignee and arrival day, and its sliding windows.

Sums are taken in manifest order per day and in day order per window, as a
running Python total would, so the figures are the same to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ConsigneeDays"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ConsigneeDays:
    """One entry per (consignee, day) present, sorted by consignee then day."""

    consignee: npt.NDArray[np.uint64]
    day: Ints
    parcels: Ints
    usd: Floats
    group_of_row: Ints

    @classmethod
    def empty(cls) -> ConsigneeDays:
        return cls(np.zeros(0, np.uint64), *(np.zeros(0, np.int64),) * 2, np.zeros(0),
                   np.zeros(0, np.int64))

    @classmethod
    def build(cls, consignee: npt.NDArray[np.uint64], day: Ints, usd: Floats) -> ConsigneeDays:
        """From per-row consignee keys, arrival days (ordinals) and declared USD."""
        order = np.lexsort((day, consignee))
        keys, days = consignee[order], day[order]
        new = np.r_[True, (keys[1:] != keys[:-1]) | (days[1:] != days[:-1])]
        group_of_row = np.empty(len(order), np.int64)
        group_of_row[order] = np.cumsum(new) - 1
        starts = np.flatnonzero(new)
        # bincount adds in row order: the same sums as a running total per day
        sums = np.bincount(group_of_row, weights=usd, minlength=len(starts)).astype(np.float64)
        return cls(keys[starts], days[starts], np.bincount(group_of_row), sums, group_of_row)

    def window_total(self, consignee: int, opening: int, width: int) -> tuple[int, float]:
        """Parcels and USD of ``consignee`` on days ``opening`` .. ``opening + width - 1``."""
        key = np.uint64(consignee)
        low = int(np.searchsorted(self.consignee, key, "left"))
        high = int(np.searchsorted(self.consignee, key, "right"))
        days = self.day[low:high]
        inside = np.flatnonzero((days >= opening) & (days < opening + width)) + low
        return int(self.parcels[inside].sum()), sum(self.usd[inside].tolist())

    def split_rows(self, threshold_usd: float, width: int, at_forwarder: Flags) -> Flags:
        """Per row: is one of the windows its day falls in over ``threshold_usd`` with two
        parcels or more (a consignee at a forwarding address never is)?"""
        groups = len(self.day)
        forwarding = np.zeros(groups, bool)
        forwarding[self.group_of_row[at_forwarder]] = True
        opening = np.arange(groups)
        parcels = np.zeros(groups, np.int64)
        usd = np.zeros(groups)
        inside = []
        for offset in range(width):  # a window holds at most ``width`` consecutive entries
            other = np.minimum(opening + offset, max(groups - 1, 0))
            within = ((opening + offset < groups) & (self.consignee[other] == self.consignee)
                      & (self.day[other] < self.day + width))
            parcels[within] += self.parcels[other][within]
            usd[within] += self.usd[other][within]
            inside.append((other, within))
        over = (parcels >= 2) & (usd > threshold_usd) & ~forwarding
        marked = np.zeros(groups, bool)
        for other, within in inside:
            marked[other[within & over]] = True
        return marked[self.group_of_row]
