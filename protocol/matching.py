"""Matching messy trade identities: party names and product codes.

Names on lists and in trade documents differ in case, punctuation, legal-form
suffixes ("Co., Ltd.", "GmbH") and script ("Şenol" / "Senol"). ``normalize_name``
maps all of those to one form (cleanco strips the legal forms, anyascii
transliterates) and ``name_similarity`` compares the normalised names token by
token (rapidfuzz), so a match comes with a strength in 0..1 that a configured
threshold turns into a hit.

Product codes: a UPC-12, an EAN-13 and a GTIN-14 of the same product differ only
by leading zeros; ``gtin14`` validates the check digit (python-stdnum) and pads
to 14 digits, so codes compare equal whatever form each list uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from anyascii import anyascii
from cleanco import basename  # type: ignore[import-untyped]
from rapidfuzz import fuzz, process
from stdnum import ean

__all__ = [
    "ADDRESS_WORDS",
    "DEFAULT_NAME_THRESHOLD",
    "HONORIFICS",
    "best_match",
    "gtin14",
    "name_similarity",
    "normalize_address",
    "normalize_consignee",
    "normalize_name",
]

# Token similarity at or above which two party names are taken as the same party.
DEFAULT_NAME_THRESHOLD = 0.9

_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")


def _tokens(text: str) -> str:
    return " ".join(_NOT_ALNUM.sub(" ", text.upper()).split())


def normalize_name(name: str) -> str:
    """Transliterated, upper-case, punctuation-free, without legal-form suffixes.

    "Shenzhen XYZ Co., Ltd." and "SHENZHEN XYZ CO LTD" both become "SHENZHEN XYZ".
    Idempotent. A name that is nothing but a legal form keeps it (never empty for
    a non-empty name).
    """
    text = _tokens(anyascii(name))
    while text:
        # cleanco strips one suffix at a time ("Co. Ltd" -> "Co."); repeat to a fixed point
        shorter = _tokens(basename(text))
        if not shorter or shorter == text:
            break
        text = shorter
    return text


# Honorifics carry no identity; "MR JOHN SMITH" and "John Smith" are one consignee.
HONORIFICS = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR", "SIR", "MADAM"})
# USPS Publication 28 abbreviations (the common ones) and unit designators: one spelling
# each, so "12 Main Street Apartment 4" and "12 MAIN ST APT 4" are one address.
ADDRESS_WORDS = {
    "STREET": "ST", "STR": "ST", "AVENUE": "AVE", "AV": "AVE", "ROAD": "RD",
    "BOULEVARD": "BLVD", "DRIVE": "DR", "LANE": "LN", "COURT": "CT", "PLACE": "PL",
    "HIGHWAY": "HWY", "PARKWAY": "PKWY", "SQUARE": "SQ", "TERRACE": "TER", "CIRCLE": "CIR",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "APARTMENT": "APT", "UNIT": "APT", "SUITE": "APT", "STE": "APT",
    "FLOOR": "FL",
}


def normalize_address(address: str) -> str:
    """Transliterated, upper-case, punctuation-free, one spelling per street word and unit
    designator ("#4" is "APT 4"). Idempotent; distinct numbers stay distinct."""
    text = _tokens(anyascii(address).replace("#", " APT "))
    words = [ADDRESS_WORDS.get(w, w) for w in text.split()]
    # "Apartment #4" says APT twice
    return " ".join(w for i, w in enumerate(words) if i == 0 or w != words[i - 1] or w != "APT")


def normalize_consignee(name: str, address: str) -> tuple[str, str]:
    """The identity a consignee is tokenised over: the name without honorifics, its words
    in sorted order ("ROE, JANE" is "JANE ROE"), and the normalised address."""
    words = sorted(w for w in _tokens(anyascii(name)).split() if w not in HONORIFICS)
    return " ".join(words), normalize_address(address)


def name_similarity(a: str, b: str) -> float:
    """Match strength of two party names, 0..1 (1: the same after normalisation).

    Token-sort similarity: word order does not matter, a missing or misspelt word
    lowers the strength in proportion to its length.
    """
    left, right = normalize_name(a), normalize_name(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    return round(fuzz.token_sort_ratio(left, right) / 100.0, 4)


def best_match(names: Iterable[str], listed: Sequence[str]) -> float:
    """The strongest match of any of ``names`` against ``listed`` (already normalised
    names, e.g. an entity list), 0..1; 0.0 when either side is empty."""
    best = 0.0
    for name in set(names):
        found = process.extractOne(normalize_name(name), listed, scorer=fuzz.token_sort_ratio)
        if found is not None:
            best = max(best, found[1] / 100.0)
    return round(best, 2)


def gtin14(code: str | None) -> str | None:
    """The GTIN-14 form of a UPC-A, EAN-8, EAN-13 or GTIN-14 code; None if not valid.

    Separators are ignored; the check digit must be right, as a wrong one means a
    different (or mistyped) product, which must not match anything.
    """
    if code is None:
        return None
    compact = ean.compact(code)
    if len(compact) not in (8, 12, 13, 14) or not ean.is_valid(compact):
        return None
    return compact.zfill(14)
