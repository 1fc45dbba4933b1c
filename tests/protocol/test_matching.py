"""Name normalisation and GTIN canonicalisation: one form for every spelling of one thing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from fedtrade.protocol.matching import gtin14, name_similarity, normalize_name

_WORDS = st.lists(st.sampled_from(["SHENZHEN", "XYZ", "GOLDEN", "RIVER", "TEXTILE", "ŞENOL",
                                   "MÜLLER", "HANGZHOU"]), min_size=1, max_size=4)
_SUFFIXES = ["", " Co., Ltd.", " CO LTD", " Co Ltd", " Limited", " GmbH", " LLC", ", Inc."]


@given(st.text(max_size=40))
def test_normalize_name_is_idempotent(name: str) -> None:
    once = normalize_name(name)
    assert normalize_name(once) == once
    assert once == once.upper().strip()


@given(_WORDS, st.sampled_from(_SUFFIXES), st.sampled_from(_SUFFIXES),
       st.sampled_from([str.upper, str.lower, str.title]))
def test_spellings_of_one_company_map_together(
    words: list[str], suffix_a: str, suffix_b: str, case: object
) -> None:
    base = " ".join(words)
    variant = case(base) + suffix_b  # type: ignore[operator]
    assert normalize_name(base + suffix_a) == normalize_name(variant.replace(" ", "  "))
    assert name_similarity(base + suffix_a, variant) == 1.0


def test_transliteration_and_punctuation() -> None:
    assert normalize_name("Şenol Müller Trading Co., Ltd.") == normalize_name(
        "SENOL MULLER TRADING CO LTD")
    assert normalize_name("Shenzhen XYZ Co., Ltd.") == "SHENZHEN XYZ"


def test_similarity_reports_strength_below_one_for_different_names() -> None:
    strength = name_similarity("Golden River Textile", "Golden River Textiles")
    assert 0.9 <= strength < 1.0
    assert name_similarity("Golden River Textile", "Hangzhou Blue Sky") < 0.5
    assert name_similarity("", "Golden River") == 0.0


_BODIES = st.text(alphabet="0123456789", min_size=11, max_size=11)


@given(_BODIES)
def test_upc_ean_and_gtin14_forms_of_one_product_map_together(body: str) -> None:
    upc = body + ean.calc_check_digit(body)
    forms = [upc, "0" + upc, "00" + upc, f"{upc[:1]}-{upc[1:6]} {upc[6:]}"]
    canonical = {gtin14(form) for form in forms}
    assert canonical == {"00" + upc}
    assert gtin14(gtin14(upc)) == gtin14(upc)


@given(_BODIES)
def test_wrong_check_digit_matches_nothing(body: str) -> None:
    good = ean.calc_check_digit(body)
    bad = str((int(good) + 1) % 10)
    assert gtin14(body + bad) is None
    assert gtin14(None) is None
    assert gtin14("ABC") is None
