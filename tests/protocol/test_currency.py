"""The currency_per_usd section both configs share: defaults, and strict refusals."""

from __future__ import annotations

import pytest

from fedtrade.protocol.currency import DEFAULT_CURRENCY_PER_USD, load_currency_rates
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.yamlconfig import load_yaml_text


def test_defaults_when_the_section_is_absent() -> None:
    rates = load_currency_rates(load_yaml_text("version: 1\n", "node.yaml"))
    assert rates == DEFAULT_CURRENCY_PER_USD
    assert rates is not DEFAULT_CURRENCY_PER_USD  # a copy: a caller cannot change the defaults


def test_an_operator_sets_their_own_rates() -> None:
    root = load_yaml_text("currency_per_usd:\n  USD: 1\n  EUR: 0.9\n", "node.yaml")
    assert load_currency_rates(root) == {"USD": 1.0, "EUR": 0.9}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("  usd: 1\n", r"node.yaml:2: currency_per_usd.usd: 'usd' is not an ISO 4217"),
        ("  EUR: 0\n", r"node.yaml:2: currency_per_usd.EUR: must be at least"),
        ("  EUR: many\n", r"node.yaml:2: currency_per_usd.EUR: expected a number"),
    ],
)
def test_bad_rates_are_refused_with_file_and_line(body: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_currency_rates(load_yaml_text("currency_per_usd:\n" + body, "node.yaml"))
