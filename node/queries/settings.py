"""Node-side settings the queries use: bands, exchange rates, disclosure controls, linkage."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from fedtrade.protocol.matching import DEFAULT_NAME_THRESHOLD
from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = [
    "DEFAULT_CURRENCY_PER_USD",
    "DisclosureControls",
    "QuerySettings",
    "load_currency_rates",
]

_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Units of each currency per US dollar; operators set their own in the node config.
DEFAULT_CURRENCY_PER_USD: Mapping[str, float] = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "CNY": 7.2,
    "HKD": 7.8,
    "VND": 25000.0,
    "KRW": 1350.0,
    "JPY": 150.0,
    "TWD": 32.0,
    "THB": 36.0,
    "IDR": 16000.0,
    "INR": 83.0,
    "PKR": 280.0,
    "TRY": 32.0,
    "MXN": 17.0,
    "CAD": 1.36,
}


def load_currency_rates(root: ConfigMapping) -> Mapping[str, float]:
    """The optional currency_per_usd section of a config (defaults when absent)."""
    section = root.optional_mapping("currency_per_usd")
    if section is None:
        return dict(DEFAULT_CURRENCY_PER_USD)
    rates = {}
    for code in section.keys():  # noqa: SIM118 (a ConfigMapping, not a dict)
        if not _CURRENCY.match(code):
            raise section.error(f"{code!r} is not an ISO 4217 currency code", code)
        rates[code] = section.number(code, min=1e-9)
    section.finish()
    return rates



@dataclass(frozen=True)
class DisclosureControls:
    """Statistical disclosure control for aggregate answers (defaults stricter than DataSHIELD)."""

    min_cell_shipments: int = 10
    # (n, k): a cell is suppressed when its n largest contributors hold more than k % of it.
    dominance: tuple[tuple[int, float], ...] = ((1, 50.0), (2, 67.0))
    # consignee totals: only consignees with at least this many shipments on a day are listed
    min_consignee_shipments: int = 2


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
    # shared federation linkage secret (never held by the coordinator); None: no linkage queries
    linkage_secret: bytes | None = field(default=None, repr=False)
