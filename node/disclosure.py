"""Differentially private release of aggregate tables, through OpenDP.

A table is a set of cells keyed by tuples of the same length (one position per
grouping, e.g. HS chapter x origin x week). Its input is one ``Contribution``
per (privacy unit, shipment, cell): the unit is the shipment itself or the
party (shipper, importer, seller) behind it, as the node's config says.

``bound`` limits what one unit can add, on read, so that the sensitivity of
every released number is known whatever the data: a party keeps at most
``shipments_per_unit`` shipments (a fixed pseudo-random choice by the digest
of the shipment id, so a requester cannot steer it), a shipment at most
``cells_per_shipment`` cells (its largest first), and each (unit, shipment,
cell) at most ``value_cents_per_shipment`` cents.

``release`` then adds OpenDP's discrete Laplace noise to integers only (counts,
and values in cents): no floating point in the noise path, no noise written
here. Cells come from the data, so their keys are released by OpenDP's
propose-test-release threshold mechanism (``make_laplace_threshold``): a cell
appears only when its *noisy* count clears a threshold chosen so that a cell
held by a single unit appears with probability at most ``delta``. The grand
total (count and value) and the values of released cells get their own noise.
The query's epsilon is split evenly between these measurements and the
spent epsilon is what OpenDP's privacy maps report for the declared bounds.

Rules that remain beside the noise act on noisy values only, which is
post-processing and cannot weaken the guarantee: the release threshold, raised
to the node's ``min_cell_shipments`` when that is higher. Rules on true values
(a minimum population, dominance (n, k), complementary suppression) leak
through their own decisions across queries and are gone.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import opendp.prelude as dp

from fedtrade.node.queries.settings import PrivacySettings

__all__ = ["MECHANISM", "Bounded", "Contribution", "Release", "bound", "release"]

dp.enable_features("contrib")

MECHANISM = "discrete_laplace"
ALPHA = 0.05  # the intervals are 95 % intervals
Key = tuple[str, ...]
_SEP = "\x1f"  # joins key parts into OpenDP's string keys; no chapter, country or week has it


@dataclass(frozen=True)
class Contribution:
    unit: str
    shipment: str
    key: Key
    cents: int  # 0 when no value is published


@dataclass
class Bounded:
    """True aggregates after bounding each unit's contribution; never released as such."""

    shipments: dict[Key, set[str]] = field(default_factory=dict)
    cents: dict[Key, int] = field(default_factory=dict)
    total_shipments: int = 0
    total_cents: int = 0


@dataclass(frozen=True)
class Noisy:
    """One released number with the half-width of its 95 % interval."""

    value: int
    plus_minus: int


@dataclass(frozen=True)
class Release:
    cells: list[tuple[Key, Noisy, Noisy | None]]  # key, shipments, cents (None: not asked)
    total: tuple[Noisy, Noisy | None]
    epsilon: float
    delta: float


def _order(shipment: str) -> bytes:
    return hashlib.sha256(shipment.encode()).digest()


def bound(rows: Iterable[Contribution], privacy: PrivacySettings) -> Bounded:
    """Fold the contributions, keeping only what each unit may add."""
    units: dict[str, dict[str, dict[Key, int]]] = {}
    for row in rows:
        cells = units.setdefault(row.unit, {}).setdefault(row.shipment, {})
        cells[row.key] = cells.get(row.key, 0) + row.cents
    out = Bounded()
    seen: set[str] = set()
    cap = privacy.value_cents_per_shipment
    for shipments in units.values():
        for shipment in sorted(shipments, key=_order)[: privacy.contribution_shipments()]:
            seen.add(shipment)
            ranked = sorted(shipments[shipment].items(), key=lambda kv: (-kv[1], kv[0]))
            for key, cents in ranked[: privacy.cells_per_shipment]:
                clamped = min(max(cents, 0), cap)
                out.shipments.setdefault(key, set()).add(shipment)
                out.cents[key] = out.cents.get(key, 0) + clamped
                out.total_cents += clamped
    out.total_shipments = len(seen)
    return out


def _accuracy(scale: float) -> int:
    accuracy = float(dp.discrete_laplacian_scale_to_accuracy(scale, ALPHA))
    # OpenDP answers -inf when the scale is so small that the noise is 0 all but never.
    return math.ceil(accuracy) if math.isfinite(accuracy) and accuracy > 0 else 0


def _scalar(value: int, sensitivity: int, epsilon: float, atom: str) -> tuple[Noisy, float]:
    scale = sensitivity / epsilon
    measurement = (dp.atom_domain(T=atom), dp.absolute_distance(T=atom)) >> dp.m.then_laplace(
        scale=scale)
    return Noisy(int(measurement(value)), _accuracy(scale)), float(measurement.map(sensitivity))


_COUNTS = (dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T="i64")),
           dp.l01inf_distance(dp.absolute_distance(T="i64")))


def _counts(scale: float, threshold: int) -> dp.Measurement:
    return dp.m.make_laplace_threshold(*_COUNTS, scale=scale, threshold=threshold)


def _spent(scale: float, threshold: int, d_in: tuple[int, int, int]) -> tuple[float, float]:
    epsilon, delta = _counts(scale, threshold).map(d_in)  # type: ignore[no-untyped-call]
    return float(epsilon), float(delta)


@functools.lru_cache(maxsize=256)
def _lowest_threshold(scale: float, d_in: tuple[int, int, int], delta: float) -> int:
    """The lowest threshold whose privacy map keeps delta within the bound (a search of
    OpenDP's map, so it is remembered per setting)."""

    def within(threshold: float) -> bool:  # OpenDP's stub types it float; T=int below
        return threshold >= d_in[2] and _spent(scale, int(threshold), d_in)[1] <= delta

    return int(dp.binary_search(within, bounds=(1, 2**30), T=int))


def _threshold_counts(counts: dict[str, int], privacy: PrivacySettings, epsilon: float,
                      floor: int) -> tuple[dict[str, int], float, float, float]:
    """Noisy counts of the cells that clear the threshold; the scale, epsilon and delta."""
    shipments = privacy.contribution_shipments()
    touched = shipments * privacy.cells_per_shipment
    d_in = (touched, touched, shipments)  # cells a unit touches, L1, largest change in one cell
    scale = touched / epsilon
    threshold = max(_lowest_threshold(scale, d_in, privacy.delta), floor)
    released = {str(k): int(v) for k, v in _counts(scale, threshold)(counts).items()}
    return released, scale, *_spent(scale, threshold, d_in)


def release(data: Bounded, privacy: PrivacySettings, epsilon: float, *, values: bool,
            floor: int) -> Release:
    """Noise ``data`` under ``epsilon``, split evenly; ``floor``: lowest release threshold."""
    part = epsilon / (4 if values else 2)
    shipments = privacy.contribution_shipments()
    counts = {_SEP.join(k): len(s) for k, s in data.shipments.items()}
    noisy, scale, spent, delta = _threshold_counts(counts, privacy, part, floor)
    count_pm = _accuracy(scale)
    total_count, total_spent = _scalar(data.total_shipments, shipments, part, "i64")
    spent += total_spent
    keys = sorted(tuple(k.split(_SEP)) for k in noisy)
    noisy_cents: list[Noisy | None] = [None] * len(keys)
    total_cents: Noisy | None = None
    if values:
        cap = shipments * privacy.cells_per_shipment * privacy.value_cents_per_shipment
        vector = (dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
                  ) >> dp.m.then_laplace(scale=cap / part)
        pm = _accuracy(cap / part)
        if keys:
            noisy_cents = [Noisy(int(v), pm) for v in vector([data.cents[k] for k in keys])]
        spent += float(vector.map(cap))
        total_cents, value_spent = _scalar(data.total_cents, cap, part, "i64")
        spent += value_spent
    cells = [(key, Noisy(int(noisy[_SEP.join(key)]), count_pm), cents)
             for key, cents in zip(keys, noisy_cents, strict=True)]
    return Release(cells, (total_count, total_cents), spent, delta)
