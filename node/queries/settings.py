"""Node-side settings the queries use: bands, exchange rates, disclosure controls, linkage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD

__all__ = ["DisclosureControls", "QuerySettings"]


@dataclass(frozen=True)
class DisclosureControls:
    """Statistical disclosure control for aggregate answers (defaults stricter than DataSHIELD)."""

    min_cell_shipments: int = 10
    # (n, k): a cell is suppressed when its n largest contributors hold more than k % of it.
    dominance: tuple[tuple[int, float], ...] = ((1, 50.0), (2, 67.0))
    # consignee totals: only consignees with at least this many shipments on a day are listed
    min_consignee_shipments: int = 2
    # consignee totals: released values are rounded to a multiple of this (USD), so
    # overlapping windows cannot be chained through exact value patterns
    consignee_value_step_usd: float = 50.0


@dataclass(frozen=True)
class QuerySettings:
    currency_per_usd: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_CURRENCY_PER_USD)
    )
    # declared/paid value ratio band edges
    value_ratio_bands: tuple[float, ...] = (0.5, 0.8, 1.2)
    # seller account age band edges in days (at the time of the order)
    account_age_days: tuple[int, ...] = (30, 180, 730)
    # linked suspended seller accounts band edges
    linked_suspended: tuple[int, ...] = (1, 2, 5)
    disclosure: DisclosureControls = DisclosureControls()
    # shared federation linkage secret (never held by the coordinator); None: no linkage queries
    linkage_secret: bytes | None = field(default=None, repr=False)
