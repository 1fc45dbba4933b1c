"""Node-side settings the queries use: bands, exchange rates, disclosure controls, linkage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD
from fedtrade.protocol.matching import DEFAULT_NAME_THRESHOLD

__all__ = ["DisclosureControls", "PrivacySettings", "QuerySettings"]


@dataclass(frozen=True)
class DisclosureControls:
    """Disclosure rules that stay beside differential privacy (they look at noisy values only)."""

    # An aggregate cell is released only when its noisy shipment count reaches this.
    min_cell_shipments: int = 10
    # consignee totals: only windows with at least this many shipments are listed
    min_consignee_shipments: int = 2
    # consignee totals: released values are rounded to a multiple of this (USD), so
    # overlapping windows cannot be chained through exact value patterns
    consignee_value_step_usd: float = 50.0

    def __post_init__(self) -> None:
        # consignee totals look asked parcels up only among consignees with two or more
        if self.min_consignee_shipments < 2:
            raise ValueError("min_consignee_shipments must be at least 2")


@dataclass(frozen=True)
class PrivacySettings:
    """Differential privacy of aggregate answers: the privacy unit, its bounds, the budget."""

    # "shipment": one shipment's presence is protected; "party": one shipper, importer or
    # seller with all its shipments (up to shipments_per_unit of them).
    unit: str
    # Contribution bounds, applied on read: a party's shipments beyond shipments_per_unit,
    # a shipment's cells beyond cells_per_shipment, and cents beyond value_cents_per_shipment
    # in a cell are left out of (or clamped in) the statistics.
    shipments_per_unit: int
    cells_per_shipment: int
    value_cents_per_shipment: int
    # Default epsilon of one aggregate query, and per requester and period.
    epsilon_per_query: float
    budget_epsilon: float
    period_days: int
    # Probability bound that a cell of a single unit clears the release threshold.
    delta: float

    def contribution_shipments(self) -> int:
        """Shipments one privacy unit can add: 1 for a shipment, the bound for a party."""
        return 1 if self.unit == "shipment" else self.shipments_per_unit


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
    # party-name match strength (0..1) at or above which a name is an entity-list hit
    name_match_threshold: float = DEFAULT_NAME_THRESHOLD
    disclosure: DisclosureControls = DisclosureControls()
    # days from ship day to arrival day (a marketplace's estimate, for consignee windows)
    transit_days: int = 3
    # None: the node answers no aggregate query (config check refuses such grants)
    privacy: PrivacySettings | None = None
    # shared federation linkage secret (never held by the coordinator); None: no linkage queries
    linkage_secret: bytes | None = field(default=None, repr=False)
