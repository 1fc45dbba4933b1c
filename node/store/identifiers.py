"""Validators and check-digit calculators for the trade identifiers the stores hold.

Every ``validate_*`` function returns ``None`` for a valid value and raises
``DataError`` with a message of the form ``'VALUE' problem (expected ...)``.
The ``*_check_digit`` functions compute check digits; they are pure and cheap so
that generators of synthetic data can build valid identifiers with them.

Sources of the algorithms:

- Master air waybill: IATA air waybill numbering, 3-digit airline prefix, 7-digit
  serial, check digit = serial mod 7 (e.g. 589-8114074-3, 020-1234567-5).
- GTIN: GS1 General Specifications mod-10 check digit (weights 3 and 1 from the
  right), e.g. 4006381333931, 012345678905, 96385074.
- Entry number: CBP ACE CATAIR, Appendix E "Valid Entry Numbers" and Entry
  Summary Create/Update Table 1; CBP Form 7501 instructions, block 1 ("check
  digit is computed on the previous 10 characters"). The CBP text itself could
  not be read here; the algorithm below follows the description of that table
  in an open-source ACE filing implementation: letters of the filer code become
  digits by the IBM table A-I = 1-9, J-R = 1-9, S-Z = 2-9; then a Luhn (mod 10)
  check over the 10 digits (filer code + 7-digit serial): even positions from the
  left are doubled, products over 9 count as their digit sum, and the check digit
  brings the total to a multiple of 10, e.g. ABC-1234567-6, 999-9999999-0. Filer
  code ``000`` does not exist (numeric filer codes run 001-999).
- Manufacturer ID (MID): CBP MID construction (at most 15 characters, starting
  with the ISO country code; Canadian manufacturers use CBP's province codes,
  CATAIR ENS-55).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NoReturn

from fedtrade.node.store.iso_codes import CANADIAN_MID_PROVINCES, COUNTRIES, CURRENCIES
from fedtrade.protocol import normalize
from fedtrade.protocol.limits import HOUSE_BILL
from fedtrade.trust.errors import DataError

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "EXPECTED",
    "entry_check_digit",
    "gtin_check_digit",
    "mawb_check_digit",
    "validate_airport",
    "validate_carrier_code",
    "validate_country",
    "validate_currency",
    "validate_entry_number",
    "validate_flight_no",
    "validate_gtin",
    "validate_house_bill",
    "validate_hs6",
    "validate_hts10",
    "validate_mawb",
    "validate_mid",
    "validate_port_code",
]

EXPECTED: Mapping[str, str] = MappingProxyType({
    "HS6": "6 digits, an HS subheading such as 851830",
    "HTS10": "10 digits, an HTSUS statistical number such as 8518300000",
    "MAWB": (
        "11 digits: 3-digit airline prefix, 7-digit serial and check digit = serial mod 7, "
        "written without separators, e.g. 02012345675"
    ),
    "entry number": (
        "XXX-NNNNNNN-N: 3-character filer code (A-Z, 0-9), 7-digit serial and the CBP "
        "check digit, e.g. ABC-1234567-6"
    ),
    "GTIN": "a GTIN of 8, 12, 13 or 14 digits ending in its GS1 check digit, e.g. 4006381333931",
    "MID": (
        "a manufacturer ID: 3 to 15 characters A-Z/0-9 starting with an ISO 3166 country code "
        "(or a CBP Canadian province code such as XO), e.g. CNSHEBAT123SHA"
    ),
    "country": "an ISO 3166-1 alpha-2 country code in upper case, e.g. US, CN, DE",
    "currency": "an ISO 4217 alphabetic currency code in upper case, e.g. USD, EUR, CNY",
    "airport": "a 3-letter IATA airport code in upper case, e.g. JFK",
    "port code": "a 4-digit US port code (district + port), e.g. 4701",
    "house bill": (
        "4 to 35 characters A-Z and 0-9 (a UPU S10 or 22-digit USPS IMpb tracking number "
        "with its check digit), e.g. HB12345678"
    ),
    "flight number": "a 2-character airline designator and 1 to 4 digits, e.g. LH8160 or 5X117",
    "carrier code": "a carrier code of 2 or 3 letters A-Z, e.g. DHL",
})
"""What each identifier format looks like, for messages and documentation."""

_ENTRY = re.compile(r"([A-Z0-9]{3})-([0-9]{7})-([0-9])")
_MID = re.compile(r"[A-Z]{2}[A-Z0-9]{1,13}")
_FLIGHT = re.compile(r"[A-Z0-9]{2}[0-9]{1,4}")
_CARRIER = re.compile(r"[A-Z]{2,3}")
_AIRPORT = re.compile(r"[A-Z]{3}")

# IBM alphabetic check-digit table used by CBP for filer codes.
_FILER_VALUES = {
    **{c: i + 1 for i, c in enumerate("ABCDEFGHI")},
    **{c: i + 1 for i, c in enumerate("JKLMNOPQR")},
    **{c: i + 2 for i, c in enumerate("STUVWXYZ")},
    **{c: int(c) for c in "0123456789"},
}
_GTIN_LENGTHS = (8, 12, 13, 14)


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _fail(value: str, problem: str, expected: str) -> NoReturn:
    raise DataError(f"{_show(value)} {problem} (expected {expected})")


def mawb_check_digit(serial7: str) -> int:
    """Check digit of a master air waybill serial: the 7-digit serial mod 7."""
    if not _digits(serial7, 7):
        _fail(serial7, "is not a 7-digit air waybill serial", "7 digits")
    return int(serial7) % 7


def entry_check_digit(filer: str, serial7: str) -> int:
    """CBP entry-number check digit over filer code + 7-digit serial (see module doc)."""
    if len(filer) != 3 or not all(c in _FILER_VALUES for c in filer):
        _fail(filer, "is not a filer code", "3 characters A-Z or 0-9")
    if not _digits(serial7, 7):
        _fail(serial7, "is not a 7-digit entry serial", "7 digits")
    total = 0
    for position, char in enumerate(filer + serial7, start=1):
        value = _FILER_VALUES[char]
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def gtin_check_digit(body: str) -> int:
    """GS1 mod-10 check digit for a GTIN body of 7, 11, 12 or 13 digits."""
    if not (len(body) + 1 in _GTIN_LENGTHS and body.isascii() and body.isdigit()):
        _fail(body, "is not a GTIN body", "7, 11, 12 or 13 digits (a GTIN without its check digit)")
    total = 0
    for index, char in enumerate(reversed(body)):
        total += int(char) * (3 if index % 2 == 0 else 1)
    return (10 - total % 10) % 10


def validate_hs6(value: str) -> None:
    if not _digits(value, 6):
        _fail(value, "is not an HS6 code", EXPECTED["HS6"])
    if value.startswith("00"):
        _fail(value, "has HS chapter 00, which does not exist", EXPECTED["HS6"])


def validate_hts10(value: str) -> None:
    if not _digits(value, 10):
        _fail(value, "is not an HTS10 code", EXPECTED["HTS10"])
    if value.startswith("00"):
        _fail(value, "has HS chapter 00, which does not exist", EXPECTED["HTS10"])


def validate_mawb(value: str) -> None:
    if not _digits(value, 11):
        problem = "is not 11 digits"
        if "-" in value or " " in value:
            problem += "; remove the separators"
        _fail(value, problem, EXPECTED["MAWB"])
    check = int(value[3:10]) % 7
    if int(value[10]) != check:
        _fail(value, f"has check digit {value[10]} but serial {value[3:10]} mod 7 is {check}",
              EXPECTED["MAWB"])


def validate_entry_number(value: str) -> None:
    match = _ENTRY.fullmatch(value)
    if match is None:
        _fail(value, "is not an entry number", EXPECTED["entry number"])
    filer, serial, given = match.groups()
    if filer == "000":
        _fail(value, "has filer code 000, which CBP never assigns", EXPECTED["entry number"])
    check = entry_check_digit(filer, serial)
    if int(given) != check:
        _fail(value, f"has check digit {given} but the CBP check digit is {check}",
              EXPECTED["entry number"])


def validate_gtin(value: str) -> None:
    if not (len(value) in _GTIN_LENGTHS and value.isascii() and value.isdigit()):
        _fail(value, "is not a GTIN", EXPECTED["GTIN"])
    check = gtin_check_digit(value[:-1])
    if int(value[-1]) != check:
        _fail(value, f"has check digit {value[-1]} but the GS1 check digit is {check}",
              EXPECTED["GTIN"])


def validate_mid(value: str) -> None:
    if _MID.fullmatch(value) is None:
        _fail(value, "is not a manufacturer ID", EXPECTED["MID"])
    prefix = value[:2]
    if prefix not in COUNTRIES and prefix not in CANADIAN_MID_PROVINCES:
        _fail(value, f"starts with {prefix}, which is not an ISO 3166 country code",
              EXPECTED["MID"])


def validate_country(value: str) -> None:
    if value not in COUNTRIES:
        _fail(value, "is not an ISO 3166-1 alpha-2 country code", EXPECTED["country"])


def validate_currency(value: str) -> None:
    if value not in CURRENCIES:
        _fail(value, "is not an active ISO 4217 currency code", EXPECTED["currency"])


def validate_airport(value: str) -> None:
    if _AIRPORT.fullmatch(value) is None:
        _fail(value, "is not an airport code", EXPECTED["airport"])


def validate_port_code(value: str) -> None:
    if not _digits(value, 4):
        _fail(value, "is not a US port code", EXPECTED["port code"])


def validate_house_bill(value: str) -> None:
    if HOUSE_BILL.fullmatch(value) is None:
        _fail(value, "is not a house bill number", EXPECTED["house bill"])
    problem = normalize.tracking_problem(value)
    if problem is not None:
        _fail(value, problem, EXPECTED["house bill"])


def validate_flight_no(value: str) -> None:
    if _FLIGHT.fullmatch(value) is None or value[:2].isdigit():
        _fail(value, "is not a flight number", EXPECTED["flight number"])


def validate_carrier_code(value: str) -> None:
    if _CARRIER.fullmatch(value) is None:
        _fail(value, "is not a carrier code", EXPECTED["carrier code"])
