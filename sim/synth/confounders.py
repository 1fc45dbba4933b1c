"""Confounders: honest situations that look like risk signals, with their own truth.

A generator that plants exactly what the rules look for proves nothing. A
confounder mix sets how often honest shipments carry signals that overlap the
violations': an order whose shipping costs more than the goods (the order total
is far above the parcel's value), a coupon or flash sale (paid well under list
price, declared what was paid: low against the HS6 median), an entry filed by
another broker or not yet filed (the broker node holds none), a pre-load status
still pending on a screened parcel, a frequent buyer (an honest consignee whose
2-3 parcels, each under the threshold, arrive within 3 days and together exceed
it: the split rule's own signal; with frequent buyers in the mix, split groups
spread over up to 3 days as well). New and unverified sellers are honest unless
a violation is planted (their rates are the generator's seller-indicator rates).
Every confounded shipment is listed in confounders.csv (house_bill,confounder);
ground_truth.csv lists violations only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType

from fedtrade.trust.errors import DataError

__all__ = ["CONFOUNDERS", "MIXES", "ConfounderMix", "mix_named"]


@dataclass(frozen=True)
class ConfounderMix:
    """Expected fraction (0..1) of shipments carrying each confounder."""

    shipping_over_goods: float = 0.0
    coupon: float = 0.0
    other_broker: float = 0.0
    pending_preload: float = 0.0
    frequent_buyer: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int | float) or not math.isfinite(value) \
                    or not 0.0 <= value <= 1.0:
                raise DataError(f"confounder rate {name}={value!r} is not a fraction 0..1")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


CONFOUNDERS: tuple[str, ...] = tuple(f.name for f in fields(ConfounderMix))

# Named mixes: "none" keeps the generator's historic output; the rule weights were tuned
# on "realistic" with seed 1 only; "heavy" and "skewed" (and other seeds) are held out.
MIXES: Mapping[str, ConfounderMix] = MappingProxyType({
    "none": ConfounderMix(),
    "realistic": ConfounderMix(shipping_over_goods=0.15, coupon=0.10, other_broker=0.20,
                               pending_preload=0.05, frequent_buyer=0.02),
    "heavy": ConfounderMix(shipping_over_goods=0.35, coupon=0.25, other_broker=0.40,
                           pending_preload=0.15, frequent_buyer=0.06),
    "skewed": ConfounderMix(shipping_over_goods=0.05, coupon=0.40, other_broker=0.05,
                            pending_preload=0.30, frequent_buyer=0.01),
})


def mix_named(name: str) -> ConfounderMix:
    try:
        return MIXES[name]
    except KeyError:
        raise DataError(f"unknown confounder mix {name!r}; known mixes: "
                        f"{', '.join(MIXES)}") from None
