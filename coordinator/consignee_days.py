"""The manifest's own totals per consignee and arrival day, and its sliding windows.

Sums are taken in manifest order per day and in day order per window, as a
running Python total would, so the figures are the same to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ConsigneeDays"]

Ints = npt.NDArray[np.int64]
Ints32 = npt.NDArray[np.int32]  # days, parcels and entries: 4 bytes an entry or row is plenty
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ConsigneeDays:
    """One entry per (consignee, day) present, sorted by consignee then day."""

    consignee: npt.NDArray[np.uint64]
    day: Ints32
    parcels: Ints32
    usd: Floats
    group_of_row: Ints32

    @classmethod
    def empty(cls) -> ConsigneeDays:
        return cls(np.zeros(0, np.uint64), *(np.zeros(0, np.int32),) * 2, np.zeros(0),
                   np.zeros(0, np.int32))

    @classmethod
    def build(cls, consignee: npt.NDArray[np.uint64], day: Ints, usd: Floats) -> ConsigneeDays:
        """From per-row consignee keys, arrival days (ordinals) and declared USD."""
        # each temporary is let go once used: the peak is a few of them, not all
        order = np.lexsort((day, consignee))
        keys, days = consignee[order], day[order]
        new = np.r_[True, (keys[1:] != keys[:-1]) | (days[1:] != days[:-1])]
        starts = np.flatnonzero(new)
        keys, entry_days = keys[starts], days[starts].astype(np.int32)
        del starts, days
        group_of_row = np.empty(len(order), np.int32)
        numbers = np.cumsum(new, dtype=np.int32)
        del new
        numbers -= 1
        group_of_row[order] = numbers
        del order, numbers
        # bincount adds in row order: the same sums as a running total per day
        sums = np.bincount(group_of_row, weights=usd, minlength=len(keys)).astype(np.float64)
        return cls(keys, entry_days, np.bincount(group_of_row).astype(np.int32), sums,
                   group_of_row)

    def window_totals(self, consignees: npt.NDArray[np.uint64], openings: Ints, width: int
                      ) -> tuple[Ints, Floats]:
        """Per (consignee, opening) pair: parcels and USD on days ``opening`` ..
        ``opening + width - 1``, the USD added in day order from 0 as a running Python total
        would (one numpy pass per entry of the pair's consignee, not per pair)."""
        low = np.searchsorted(self.consignee, consignees, "left")
        high = np.searchsorted(self.consignee, consignees, "right")
        ends = openings + width
        parcels = np.zeros(len(low), np.int64)
        usd = np.zeros(len(low))
        last = len(self.day) - 1
        for offset in range(int((high - low).max(initial=0))):
            entry = np.minimum(low + offset, last)
            day = self.day[entry]
            inside = (low + offset < high) & (day >= openings) & (day < ends)
            np.add(parcels, self.parcels[entry], out=parcels, where=inside)
            np.add(usd, self.usd[entry], out=usd, where=inside)
        return parcels, usd

    def split_rows(self, threshold_usd: float, width: int, at_forwarder: Flags) -> Flags:
        """Per row: is one of the windows its day falls in over ``threshold_usd`` with two
        parcels or more (a consignee at a forwarding address never is)?"""
        groups = len(self.day)
        forwarding = np.zeros(groups, bool)
        forwarding[self.group_of_row[at_forwarder]] = True
        parcels = np.zeros(groups, np.int64)
        usd = np.zeros(groups)
        # in place, where the pair is in one window: no copies of the selected entries
        for offset, within in self._pairs(width):
            np.add(parcels[:groups - offset], self.parcels[offset:],
                   out=parcels[:groups - offset], where=within)
            np.add(usd[:groups - offset], self.usd[offset:], out=usd[:groups - offset],
                   where=within)
        over = (parcels >= 2) & (usd > threshold_usd) & ~forwarding
        del parcels, usd
        marked = np.zeros(groups, bool)
        for offset, within in self._pairs(width):
            marked[offset:] |= within & over[:groups - offset]
        return marked[self.group_of_row]

    def _pairs(self, width: int) -> Iterator[tuple[int, Flags]]:
        """Per offset in the window (a window holds at most ``width`` consecutive
        entries): for each entry with one that far on, is that one the same consignee's
        within ``width`` days? Slices, not index arrays, and made again on each pass:
        kept, they would cost ``width`` arrays the size of the manifest."""
        groups = len(self.day)
        for offset in range(min(width, groups)):
            yield offset, ((self.consignee[offset:] == self.consignee[:groups - offset])
                           & (self.day[offset:] < self.day[:groups - offset] + width))
