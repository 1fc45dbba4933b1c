"""Consignee normalisation over whole columns equals the per-value function, row by row."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.consignee_columns import consignee_material, normalize_consignees
from fedtrade.protocol.matching import ADDRESS_WORDS, HONORIFICS, normalize_consignee
from fedtrade.trust import linkage

# Messy consignee text: the words the normalisation treats specially (honorifics, street
# words and unit designators, "#") in any case, words in other scripts, digits, and any
# unicode at all, joined by runs of spaces, tabs, punctuation and unicode separators.
_SPECIAL = [*HONORIFICS, *ADDRESS_WORDS, *ADDRESS_WORDS.values(), "#", "#4", "APT#", "Apt.",
            "ŞENOL", "Müller", "Straße", "北京", "Иванов", "ΣΟΦΙΑ", "ﬁ", "Ⅻ", "İ", "ǅ", "٣", "12",
            "\uff03"]  # fullwidth number sign: anyascii makes it "#"
_WORD = st.one_of(st.sampled_from(_SPECIAL), st.sampled_from(_SPECIAL).map(str.lower),
                  st.text(max_size=6))
_SEPARATOR = st.sampled_from([" ", "  ", "\t", ", ", ". ", "-", "#", " # ", "\u00a0", "\u3000",
                              "\u200b", ""])
_MESSY = st.lists(st.tuples(_WORD, _SEPARATOR), max_size=8).map(
    lambda parts: "".join(word + separator for word, separator in parts))


# no deadline: whole-column calls pay pyarrow setup, and this machine is shared
@settings(deadline=None)
@given(st.lists(st.tuples(_MESSY, _MESSY), max_size=20))
def test_column_wise_consignees_equal_the_per_value_function(
    consignees: list[tuple[str, str]]
) -> None:
    names = pa.array([name for name, _ in consignees], pa.string())
    addresses = pa.array([address for _, address in consignees], pa.string())
    name, address = normalize_consignees(names, addresses)
    expected = [normalize_consignee(*consignee) for consignee in consignees]
    assert list(zip(name.to_pylist(), address.to_pylist(), strict=True)) == expected
    assert consignee_material(name, address) == [
        linkage.consignee_material(*normal) for normal in expected]
