"""Exchange rates to US dollars: the ``currency_per_usd`` config section, node and coordinator.

Both ends convert with the same defaults unless an operator sets their own, so a
coordinator's declared values in USD and a node's value bands start from one basis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = ["DEFAULT_CURRENCY_PER_USD", "load_currency_rates"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Units of each currency per US dollar; operators set their own in their config.
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
