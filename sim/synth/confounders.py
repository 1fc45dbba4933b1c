"""Confounders: honest situations that look like risk signals, with their own truth.

A generator that plants exactly what the rules look for proves nothing. A
confounder mix sets how often honest shipments carry signals that overlap the
violations' (README: "Synthetic federation" describes each one). Every
confounded shipment is listed in confounders.csv (house_bill,confounder);
ground_truth.csv lists planted patterns only, so a confounder is never a
violation unless a violation was planted on the same shipment independently.

Rates are per shipment, except ``upc_ean`` (the share of listings whose GTIN
the marketplace keeps in its 12-digit UPC form while recall lists carry the
13-digit EAN form) and ``name_variant`` (the chance that one party spells a
consignee other than the canonical way; 0 keeps the generator's historic 0.3,
unlabelled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType

from fedtrade.trust.errors import DataError

__all__ = ["CONFOUNDERS", "MIXES", "TUNING", "ConfounderMix", "mix_named"]


@dataclass(frozen=True)
class ConfounderMix:
    """Expected fraction (0..1) of shipments (or listings, parties) carrying each confounder."""

    # money: order total, discounts
    shipping_over_goods: float = 0.0
    coupon: float = 0.0
    flash_sale: float = 0.0
    # entries the federation's broker does not hold, or holds for several bills
    other_broker: float = 0.0
    late_entry: float = 0.0
    consolidated_entry: float = 0.0
    # carrier status
    pending_preload: float = 0.0
    # consignees: honest groups, forwarders, spellings
    frequent_buyer: float = 0.0
    forwarder: float = 0.0
    name_variant: float = 0.0
    # orders and parcels
    multi_parcel: float = 0.0
    multi_seller: float = 0.0
    off_platform: float = 0.0
    # products and sellers
    upc_ean: float = 0.0
    honest_new_seller: float = 0.0
    honest_unverified_seller: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise DataError(f"confounder rate {name}={value!r} is not a fraction 0..1")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


CONFOUNDERS: tuple[str, ...] = tuple(f.name for f in fields(ConfounderMix))

# Named mixes: "none" keeps the generator's historic output. The rule weights were tuned
# on the mixes and seeds in TUNING only; every other (seed, mix) pair is held out.
MIXES: Mapping[str, ConfounderMix] = MappingProxyType({
    "none": ConfounderMix(),
    "realistic": ConfounderMix(
        shipping_over_goods=0.15, coupon=0.10, flash_sale=0.05, other_broker=0.20,
        late_entry=0.05, consolidated_entry=0.04, pending_preload=0.05, frequent_buyer=0.02,
        forwarder=0.03, name_variant=0.3, multi_parcel=0.06, multi_seller=0.03,
        off_platform=0.08, upc_ean=0.05, honest_new_seller=0.03,
        honest_unverified_seller=0.03),
    "heavy": ConfounderMix(
        shipping_over_goods=0.35, coupon=0.25, flash_sale=0.10, other_broker=0.40,
        late_entry=0.10, consolidated_entry=0.10, pending_preload=0.15, frequent_buyer=0.06,
        forwarder=0.08, name_variant=0.5, multi_parcel=0.12, multi_seller=0.06,
        off_platform=0.20, upc_ean=0.15, honest_new_seller=0.08,
        honest_unverified_seller=0.08),
    "skewed": ConfounderMix(
        shipping_over_goods=0.05, coupon=0.40, flash_sale=0.20, other_broker=0.05,
        late_entry=0.15, consolidated_entry=0.02, pending_preload=0.30, frequent_buyer=0.01,
        forwarder=0.15, name_variant=0.1, multi_parcel=0.02, multi_seller=0.10,
        off_platform=0.02, upc_ean=0.30, honest_new_seller=0.15,
        honest_unverified_seller=0.02),
})

# (seed, mix) pairs the rule weights in configs/coordinator.yaml were tuned on.
TUNING: tuple[tuple[int, str], ...] = ((1, "realistic"),)


def mix_named(name: str) -> ConfounderMix:
    try:
        return MIXES[name]
    except KeyError:
        raise DataError(f"unknown confounder mix {name!r}; known mixes: "
                        f"{', '.join(MIXES)}") from None
