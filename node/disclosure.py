"""Statistical disclosure control for aggregate tables: primary and complementary suppression.

A table is a set of cells keyed by tuples of the same length (one position per
grouping, e.g. HS chapter x origin x week). Each cell carries its number of
shipments, a magnitude (a value in USD, or 0 when no magnitude is published)
and what each contributor (shipper, importer, seller) adds to that magnitude.

Primary suppression hides a cell with fewer than ``min_cell_shipments``
shipments ("threshold") or whose ``n`` largest contributors hold more than
``k`` % of its value for any ``(n, k)`` of ``controls.dominance``
("dominance"). Both rules depend only on the cell's population, so a coarser
query whose total covers exactly the same shipments hides that total too.

Complementary suppression then protects the hidden cells against subtraction.
A *slice* is a set of cells that agree on some key positions and vary in the
others: a line (one free position), a plane (two), ..., the whole table (all
free). The total of a slice is what a query grouped by the fixed positions
publishes (the whole table's total is the grand total), so a slice holding
exactly one hidden cell among several gives that cell away: total minus the
visible cells. Until no slice is in that state, the visible cell of such a
slice with the smallest value (then fewest shipments, then key) is hidden too,
preferring cells that are not alone on a line: a cell alone on a line is the
total of that line, which the coarser query publishes anyway, so hiding it
here protects nothing.

This defeats subtraction within any one slice. It does not solve the general
linear system that several totals form together (two suppression cycles joined
by a single hidden cell can pin that cell down), nor differences between
overlapping filters; noise-based protection is the roadmap answer to both.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from fedtrade.node.queries.settings import DisclosureControls

__all__ = ["Cell", "ProtectedCell", "Reason", "grand_total", "protect"]

Reason = Literal["", "threshold", "dominance", "complementary"]


@dataclass(frozen=True)
class Cell:
    key: tuple[str, ...]
    shipments: int
    value: float
    # contributor id -> the part of ``value`` it contributes
    contributions: Mapping[str, float]


@dataclass(frozen=True)
class ProtectedCell:
    """A cell as published: a suppressed cell carries None, never a zero."""

    key: tuple[str, ...]
    shipments: int | None
    value: float | None
    suppressed: bool
    reason: Reason


def _primary(cell: Cell, controls: DisclosureControls) -> Reason:
    if cell.shipments < controls.min_cell_shipments:
        return "threshold"
    if cell.value > 0:
        for n, k in controls.dominance:
            top = sum(heapq.nlargest(n, cell.contributions.values()))
            if 100 * top > k * cell.value:
                return "dominance"
    return ""


def _slices(keys: Sequence[tuple[str, ...]], width: int) -> Iterator[list[int]]:
    """Every slice of two or more cells, as indices into ``keys``: lines first, then wider."""
    for free_count in range(1, width + 1):
        for free in combinations(range(width), free_count):
            fixed = [p for p in range(width) if p not in free]
            groups: dict[tuple[str, ...], list[int]] = {}
            for index, key in enumerate(keys):
                groups.setdefault(tuple(key[p] for p in fixed), []).append(index)
            yield from (members for members in groups.values() if len(members) > 1)


def _alone_on_a_line(keys: Sequence[tuple[str, ...]], width: int) -> set[int]:
    alone: set[int] = set()
    for position in range(width):
        counts: dict[tuple[str, ...], int] = {}
        projected = [key[:position] + key[position + 1 :] for key in keys]
        for rest in projected:
            counts[rest] = counts.get(rest, 0) + 1
        alone.update(i for i, rest in enumerate(projected) if counts[rest] == 1)
    return alone


def protect(cells: Sequence[Cell], controls: DisclosureControls) -> list[ProtectedCell]:
    """Apply primary then complementary suppression; the result is in the order of ``cells``."""
    if not cells:
        return []
    keys = [cell.key for cell in cells]
    width = len(keys[0])
    if any(len(key) != width for key in keys) or len(set(keys)) != len(keys):
        raise ValueError("protect() needs distinct cell keys that all have the same length")
    reasons: list[Reason] = [_primary(cell, controls) for cell in cells]
    slices = list(_slices(keys, width))
    alone = _alone_on_a_line(keys, width)

    def preference(index: int) -> tuple[bool, float, int, tuple[str, ...]]:
        cell = cells[index]
        return index in alone, cell.value, cell.shipments, cell.key

    changed = True
    while changed:
        changed = False
        for members in slices:
            if sum(1 for i in members if reasons[i]) == 1:
                pick = min((i for i in members if not reasons[i]), key=preference)
                reasons[pick] = "complementary"
                changed = True
    return [
        ProtectedCell(cell.key, None, None, True, reason)
        if reason
        else ProtectedCell(cell.key, cell.shipments, cell.value, False, "")
        for cell, reason in zip(cells, reasons, strict=True)
    ]


def grand_total(
    total: Cell, protected: Sequence[ProtectedCell], controls: DisclosureControls
) -> ProtectedCell:
    """The all-cells total as published, given the protected cells of its table.

    ``total`` is computed by the caller over the whole population (a shipment
    spread over several cells counts once). It is suppressed when it fails the
    primary rules itself, or when exactly one cell is suppressed: the total
    minus the visible cells would give that cell away. ``protect`` treats the
    whole table as a slice, so after it the second case arises only for a
    one-cell table, whose total covers that cell's population (and so fails
    the same rule) when the caller computed both from the same rows.
    """
    reason = _primary(total, controls)
    if not reason and sum(1 for cell in protected if cell.suppressed) == 1:
        reason = "complementary"
    if reason:
        return ProtectedCell(total.key, None, None, True, reason)
    return ProtectedCell(total.key, total.shipments, total.value, False, "")
