"""Consignee spellings: harmless variations of one identity, distinct identities apart."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.sim.synth.shipments import consignee_variants

KEYS = st.integers(min_value=0, max_value=10_000_000)
SALTS = st.integers(min_value=0, max_value=2**40)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[.,]", " ", text.upper()).split())


@settings(max_examples=300)
@given(KEYS, SALTS)
def test_spellings_of_one_consignee_normalize_to_one_identity(key: int, salt: int) -> None:
    spellings = consignee_variants(key, salt)
    assert len(set(spellings)) == len(spellings)  # really different as written
    assert len({(_norm(name), _norm(address)) for name, address in spellings}) == 1


@settings(max_examples=300)
@given(KEYS, KEYS, SALTS)
def test_different_consignees_never_share_an_address(a: int, b: int, salt: int) -> None:
    if a != b:
        first, second = consignee_variants(a, salt)[0], consignee_variants(b, salt)[0]
        assert _norm(first[1]) != _norm(second[1])


@given(KEYS, SALTS)
def test_spellings_are_safe_csv_text(key: int, salt: int) -> None:
    for name, address in consignee_variants(key, salt):
        assert "," not in name
        for text in (name, address):
            assert '"' not in text
            assert "\n" not in text
            assert text == text.strip()
