"""The risk patterns the generator plants, and how often it plants each one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

from fedtrade.trust.errors import DataError

__all__ = [
    "PATTERNS",
    "SELLER_PATTERNS",
    "UNDERVALUED_RATIO",
    "RiskRates",
    "parse_rate_overrides",
]

# Ground-truth names, in the order ground_truth.csv lists them for a shipment.
PATTERNS: tuple[str, ...] = (
    "undervaluation",
    "split_shipment",
    "misclassification",
    "unverified_seller",
    "new_seller",
    "linked_suspended_seller",
    "recalled_product",
    "entity_list_manufacturer",
    "unscreened",
    "manifest_entry_gap",
)

# Patterns that belong to the seller a shipment comes from, not to the shipment itself.
SELLER_PATTERNS: tuple[str, ...] = ("unverified_seller", "new_seller", "linked_suspended_seller")

# An undervalued shipment declares less than this fraction of the price paid.
UNDERVALUED_RATIO = 0.4


@dataclass(frozen=True)
class RiskRates:
    """Expected fraction (0..1) of shipments carrying each planted pattern."""

    undervaluation: float = 0.03
    split_shipment: float = 0.03
    misclassification: float = 0.03
    unverified_seller: float = 0.03
    new_seller: float = 0.03
    linked_suspended_seller: float = 0.02
    recalled_product: float = 0.01
    entity_list_manufacturer: float = 0.01
    unscreened: float = 0.02
    manifest_entry_gap: float = 0.02

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(
                    f"rate {name}={value!r} is not a number; give a fraction between 0 and 1"
                )
            if not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise DataError(
                    f"rate {name}={value!r} is outside 0..1; give a fraction of shipments, "
                    f"e.g. {name}=0.05 for 5 %"
                )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def get(self, pattern: str) -> float:
        value: float = getattr(self, pattern)
        return value


def parse_rate_overrides(items: Sequence[str], base: RiskRates | None = None) -> RiskRates:
    """Apply ``pattern=rate`` items (from ``--rate``) to ``base`` (the defaults when None)."""
    known = [f.name for f in fields(RiskRates)]
    changes: dict[str, float] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise DataError(
                f"rate override {item!r} is not of the form pattern=rate; "
                f"write e.g. undervaluation=0.05"
            )
        if name not in known:
            raise DataError(
                f"rate override {item!r} names unknown pattern {name!r}; "
                f"known patterns: {', '.join(known)}"
            )
        if name in changes:
            raise DataError(f"rate for {name!r} is given twice; give each pattern once")
        try:
            value = float(raw.strip())
        except ValueError:
            raise DataError(
                f"rate override {item!r} has {raw.strip()!r}, which is not a number; "
                f"give a fraction between 0 and 1, e.g. {name}=0.05"
            ) from None
        changes[name] = value
    return replace(base or RiskRates(), **changes)
