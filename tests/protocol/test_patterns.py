"""A column checked at once says what checking each text with fullmatch says.

``every_fullmatch`` joins texts with newlines and checks the joined text (by the bytes
left after deleting a class's characters, or by one regex run); a text holding a
newline, an empty text, one a character too long or short, Unicode digits and letters
(some of which [A-Z] matches when ignoring case), and patterns it must not join (ones
that can match a newline, or written with flags or references) are drawn against the
per-text verdict, for every pattern a query parameter or a manifest line is checked with
and for a few written to trip the joining.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.limits import HOUSE_BILL, HS6, HS_CHAPTER, ORIGIN_COUNTRY
from fedtrade.protocol.patterns import _joined, _run, every_fullmatch, longest_match

_OURS = [HOUSE_BILL, HS6, HS_CHAPTER, ORIGIN_COUNTRY,
         *{p.pattern for spec in CATALOGUE.values() for p in spec.params if p.pattern}]
_RUNS = [re.compile(p) for p in (r"^[a-c]{0,2}$", r"[A-Z0-9]{3}", r"^[b-dX]{1,3}$")]
_TRICKY = [re.compile(p, f) for p, f in [
    (r"^a|bc$", 0), (r"^(?:ab)?c{1,2}$", 0), (r"^[A-Z]{1,2}$", re.IGNORECASE),
    (r"^.+$", 0), (r"^.+$", re.DOTALL), (r"^[^,]+$", 0), (r"^\w+$", 0), (r"^(a)\1$", 0),
    (r"(?s)^[A-Z]+$", 0), (r"^\s*[A-Z]+$", 0), (r"^[A-Z](?=B)[A-Z]$", 0)]]
_PATTERNS = _OURS + _RUNS + _TRICKY

_TEXT = st.one_of(
    st.text(alphabet="AB019cdkza,\n \uff10\u0661\u017f\u212a", max_size=8),
    *(st.from_regex(p, fullmatch=True) for p in _OURS),
    st.sampled_from(["", "\n", "HB0001\nHB0002", "61\n09", "X" * 35, "X" * 36, "ab", "bc"]),
)


def test_our_patterns_are_checked_as_columns_and_the_tricky_ones_are_not() -> None:
    assert all(_joined(p) is not None for p in _OURS)
    assert all(_run(p) is not None for p in (HOUSE_BILL, HS6, ORIGIN_COUNTRY, *_RUNS))
    assert _run(HS_CHAPTER) is None
    assert _run(_TRICKY[2]) is None  # ignoring case, [A-Z] matches "\u212a" too
    for pattern in _TRICKY[3:]:  # ".", a negated class, \w, \s, a reference, a flag, lookahead
        assert _joined(pattern) is None, pattern


@settings(max_examples=400, deadline=None)
@given(pattern=st.sampled_from(_PATTERNS), texts=st.lists(_TEXT, max_size=6))
def test_a_column_fullmatches_exactly_when_every_text_does(
    pattern: re.Pattern[str], texts: list[str]
) -> None:
    assert every_fullmatch(pattern, texts) == all(pattern.fullmatch(t) for t in texts)


def test_the_longest_match_is_known_for_a_repeated_class_only() -> None:
    assert longest_match(HOUSE_BILL) == 35
    assert longest_match(HS6) == 6
    assert longest_match(re.compile(r"^[a-c]{2}$")) == 2
    assert longest_match(HS_CHAPTER) is None
    assert longest_match(_TRICKY[2]) is None  # ignoring case


@settings(max_examples=200, deadline=None)
@given(pattern=st.sampled_from([*_RUNS, HOUSE_BILL, HS6]),
       texts=st.lists(st.sampled_from(["", "A", "AB", "ABC", "ABCD", "A0B1", "X" * 35,
                                       "X" * 36, "b", "bc", "bcd", "bcdX"]),
                      min_size=1, max_size=40),
       copies=st.sampled_from([1, 7, 20]))
def test_long_columns_of_texts_near_the_length_bounds(pattern: re.Pattern[str],
                                                      texts: list[str], copies: int) -> None:
    """Shortest and longest anywhere in a column, short or long (from 256 texts the
    lengths are read from the newlines' places)."""
    column = texts * copies
    assert every_fullmatch(pattern, column) == all(pattern.fullmatch(t) for t in column)


@pytest.mark.parametrize("size", [10, 300])  # counted by Python, or from the newlines
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_text_a_character_out_of_bounds_is_found(size: int, where: str) -> None:
    at = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    for bad in ("X" * 36, "XYZ"):  # HOUSE_BILL: 4 to 35 letters or digits
        column = ["AB12"] * size
        column[at] = bad
        assert not every_fullmatch(HOUSE_BILL, column)
    assert every_fullmatch(HOUSE_BILL, ["X" * 35, "ABCD"] * (size // 2))
