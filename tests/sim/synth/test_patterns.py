"""RiskRates validation and the --rate override parser."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedtrade.sim.synth import PATTERNS, RiskRates, parse_rate_overrides
from fedtrade.trust.errors import DataError


def test_rates_name_every_pattern_once() -> None:
    assert tuple(RiskRates().as_dict()) == PATTERNS


@pytest.mark.parametrize("bad", [-0.01, 1.01, math.nan, math.inf])
def test_rates_outside_zero_one_are_refused(bad: float) -> None:
    with pytest.raises(DataError, match="undervaluation"):
        RiskRates(undervaluation=bad)


def test_rates_refuse_non_numbers() -> None:
    with pytest.raises(DataError, match="not a number"):
        RiskRates(unscreened=True)


def test_overrides_change_only_the_named_patterns() -> None:
    rates = parse_rate_overrides(["undervaluation=0.5", " new_seller = 0 "])
    assert rates.undervaluation == 0.5
    assert rates.new_seller == 0.0
    assert rates.unscreened == RiskRates().unscreened


def test_overrides_apply_to_a_given_base() -> None:
    base = RiskRates(unscreened=0.25)
    assert parse_rate_overrides(["recalled_product=0.1"], base).unscreened == 0.25


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("undervalued=0.1", "unknown pattern 'undervalued'; known patterns: undervaluation"),
        ("undervaluation", "not of the form pattern=rate"),
        ("=0.1", "not of the form pattern=rate"),
        ("undervaluation=lots", "'lots', which is not a number"),
        ("undervaluation=1.5", "outside 0..1"),
    ],
)
def test_bad_overrides_say_what_to_write(item: str, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        parse_rate_overrides([item])


def test_a_pattern_given_twice_is_refused() -> None:
    with pytest.raises(DataError, match="given twice"):
        parse_rate_overrides(["unscreened=0.1", "unscreened=0.2"])


@given(
    st.dictionaries(
        st.sampled_from(PATTERNS),
        st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
    )
)
def test_overrides_round_trip(values: dict[str, float]) -> None:
    rates = parse_rate_overrides([f"{name}={value!r}" for name, value in values.items()])
    for name in PATTERNS:
        assert rates.get(name) == values.get(name, RiskRates().get(name))
