"""One normaliser per field kind, shared by the node's import, the coordinator's manifest
reading and the query parameters, so one identifier always compares equal everywhere.

Each function takes the text as an export wrote it and returns the canonical text
(the very same object when it already was canonical, so callers can tell cheaply
whether anything changed). A normaliser never decides validity: what it cannot
make canonical comes back unchanged, and the validator of the field reports it.
The one exception is ``tracking_problem``, the check digits of the tracking-number
formats a house bill may carry, which the house-bill validators of both sides call.

The table of what each kind accepts is in the README ("Normalisation").
"""

from __future__ import annotations

import datetime
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from stdnum import ean

from fedtrade.protocol.limits import HOUSE_BILL

__all__ = [
    "code",
    "compact",
    "entry_number",
    "house_bill",
    "money",
    "strip",
    "timestamp",
    "tracking_problem",
]

"""A canonical house bill: a carrier's own number, a UPU S10 or a USPS IMpb tracking number."""

_SEPARATORS = re.compile(r"[\s\-./]+")
_S10 = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
_IMPB = re.compile(r"9[0-9]{21}")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_CANON_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_CANON_MONEY = re.compile(r"[0-9]{1,15}(\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


def _same(raw: str, canon: str) -> str:
    return raw if canon == raw else canon


def strip(raw: str) -> str:
    """Surrounding whitespace removed (free-form identifiers keep their case)."""
    return _same(raw, raw.strip())


def code(raw: str) -> str:
    """A code of letters (country, currency, airport, carrier): trimmed, upper case."""
    return _same(raw, raw.strip().upper())


def compact(raw: str) -> str:
    """An identifier written with separators: spaces, hyphens, dots and slashes removed,
    upper case (HS6, HTS10, MAWB, GTIN, MID, port code, flight number)."""
    return _same(raw, _SEPARATORS.sub("", raw).upper())


def house_bill(raw: str) -> str:
    """A house bill as printed on a label (``qx-3100-001697``, ``9400 1000 ... 00``)."""
    if HOUSE_BILL.fullmatch(raw):
        return raw
    return compact(raw)


def entry_number(raw: str) -> str:
    """A CBP entry number in its written form ``XXX-NNNNNNN-N``, whatever the separators."""
    canon = compact(raw)
    if len(canon) == 11:
        canon = f"{canon[:3]}-{canon[3:10]}-{canon[10]}"
    return _same(raw, canon)


def timestamp(raw: str) -> str:
    """An ISO 8601 time with an offset (``2026-11-03T14:05:00+08:00``) in UTC,
    ``YYYY-MM-DDTHH:MM:SSZ``; fractions of a second are dropped. A time without
    an offset is left alone (and refused by the validator: its zone is unknown)."""
    if _CANON_TIMESTAMP.fullmatch(raw):
        return raw
    try:
        moment = datetime.datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    if moment.tzinfo is None:
        return raw
    try:
        utc = moment.astimezone(datetime.UTC)
    except OverflowError:  # a time at the very end of year 1 or 9999
        return raw
    return _same(raw, utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z")


def money(raw: str) -> str:
    """An amount rounded half-even to cents (``556.636`` -> ``556.64``); text that is
    not a plain non-negative decimal is left alone."""
    text = raw.strip()
    if _CANON_MONEY.fullmatch(text):
        return _same(raw, text)
    if _NUMBER.fullmatch(text) is None:
        return raw
    try:
        number = Decimal(text).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return raw
    return _same(raw, str(number))


def _s10_check(serial: str) -> int:
    # UPU S10 (2-letter service, 8-digit serial, check digit, ISO country): weights
    # 8 6 4 2 3 5 9 7, check = 11 - sum mod 11, where 10 -> 0 and 11 -> 5.
    # python-stdnum has no S10 module, hence these lines.
    check = 11 - sum(w * int(d) for w, d in zip(_S10_WEIGHTS, serial, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def tracking_problem(bill: str) -> str | None:
    """Why a canonical house bill shaped like a UPU S10 or a 22-digit USPS IMpb
    tracking number fails its check digit; None when it passes or has neither shape."""
    if _S10.fullmatch(bill):
        check = _s10_check(bill[2:10])
        if int(bill[10]) != check:
            return (f"looks like a UPU S10 tracking number but has check digit {bill[10]}, "
                    f"not {check}")
    elif _IMPB.fullmatch(bill):
        check = int(ean.calc_check_digit(bill[:-1]))
        if int(bill[-1]) != check:
            return (f"looks like a 22-digit USPS IMpb tracking number but has check digit "
                    f"{bill[-1]}, not {check}")
    return None
