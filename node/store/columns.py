"""Column types of the stakeholder stores: how a CSV cell or a JSON value becomes an SQL value.

Each ``ColumnType`` converts one non-empty input value and raises ``DataError``
whose message reads ``'VALUE' problem (expected ...)``. Missing values (an empty
CSV cell, an empty string or null in JSON) are handled by the caller, which
knows whether the column is nullable.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from fedtrade.node.store import identifiers
from fedtrade.protocol import normalize
from fedtrade.trust.errors import DataError

__all__ = [
    "AIRPORT",
    "CARRIER_CODE",
    "COUNTRY",
    "CURRENCY",
    "DATE",
    "ENTRY_NUMBER",
    "FLAG",
    "FLIGHT_NO",
    "GTIN",
    "HOUSE_BILL",
    "HS6",
    "HTS10",
    "IDENT",
    "MAWB",
    "MID",
    "MONEY",
    "PORT_CODE",
    "POSITIVE_REAL",
    "TEXT",
    "TIMESTAMP",
    "ColumnType",
    "SqlValue",
    "enum",
    "integer",
]

SqlValue = str | int | float | None

_INT64_MAX = 2**63 - 1
_MAX_EXPONENT = 15  # decimal magnitudes from 1e-15 to 1e15
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# The usual shapes, converted without Decimal; anything else takes the checked path.
_PLAIN_MONEY = re.compile(r"[0-9]{1,15}(\.[0-9]{1,2})?")
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")
_INTEGER = re.compile(r"-?[0-9]+")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ColumnType:
    """How values of one kind are checked and stored."""

    name: str
    sql: str
    expected: str
    from_csv: Callable[[str], SqlValue]
    from_json: Callable[[object], SqlValue]
    choices: tuple[str, ...] = ()
    """The allowed values of an enumeration; empty for other types."""
    normalise: Callable[[str], str] | None = None
    """Makes an export's text canonical (``fedtrade.protocol.normalize``); tried only
    when the value as written is refused, so clean files pay nothing for it."""
    normalised: str = ""
    """What ``normalise`` does, for import reports, e.g. 'converted to UTC'."""
    lossy: bool = False
    """Whether normalising can change the value itself (the original is then recorded)."""


def _show(value: object) -> str:
    text = str(value) if isinstance(value, str | Decimal) else json.dumps(value, default=str)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _fail(value: object, problem: str, expected: str) -> NoReturn:
    raise DataError(f"{_show(value)} {problem} (expected {expected})")


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | Decimal):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, list):
        return "a JSON array"
    return "a JSON object"


def _string_type(
    name: str, expected: str, check: Callable[[str], None] | None = None,
    choices: tuple[str, ...] = (), normalise: Callable[[str], str] | None = None,
    normalised: str = "",
) -> ColumnType:
    def from_csv(raw: str) -> SqlValue:
        if check is not None:
            check(raw)
        return raw

    def from_json(value: object) -> SqlValue:
        if not isinstance(value, str):
            _fail(value, f"is {_json_kind(value)}, not a string", expected)
        return from_csv(value)

    return ColumnType(name, "TEXT", expected, from_csv, from_json, choices, normalise, normalised)


def _check_ident(raw: str) -> None:
    if len(raw) > 128 or raw != raw.strip() or not raw.isprintable():
        _fail(raw, "is not a usable identifier", _IDENT_EXPECTED)


_IDENT_EXPECTED = "an identifier of at most 128 printable characters without surrounding spaces"

TEXT = _string_type("text", "text")
IDENT = _string_type(
    "identifier", _IDENT_EXPECTED, _check_ident, normalise=normalize.strip,
    normalised="surrounding spaces removed")


def enum(*values: str) -> ColumnType:
    allowed = frozenset(values)
    expected = "one of " + ", ".join(values)

    def check(raw: str) -> None:
        if raw not in allowed:
            _fail(raw, "is not an allowed value", expected)

    return _string_type("enum(" + "|".join(values) + ")", expected, check, values)


_DATE_EXPECTED = "a date YYYY-MM-DD"
_TIMESTAMP_EXPECTED = "a UTC timestamp YYYY-MM-DDTHH:MM:SSZ"


def _check_date(raw: str) -> None:
    match = _DATE.fullmatch(raw)
    if match is None:
        _fail(raw, "is not a date", _DATE_EXPECTED)
    year, month, day = map(int, match.groups())
    try:
        datetime.date(year, month, day)
    except ValueError as exc:
        _fail(raw, f"is not a real date ({exc})", _DATE_EXPECTED)


def _check_timestamp(raw: str) -> None:
    match = _TIMESTAMP.fullmatch(raw)
    if match is None:
        _fail(raw, "is not a timestamp", _TIMESTAMP_EXPECTED)
    year, month, day, hour, minute, second = map(int, match.groups())
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        _fail(raw, f"is not a real point in time ({exc})", _TIMESTAMP_EXPECTED)


DATE = _string_type("date", _DATE_EXPECTED, _check_date)
TIMESTAMP = _string_type(
    "timestamp", _TIMESTAMP_EXPECTED, _check_timestamp, normalise=normalize.timestamp,
    normalised="converted to UTC")


def _in_range(number: Decimal, value: object, expected: str) -> Decimal:
    """Refuse magnitudes no trade value has, before Decimal arithmetic or float() trips on them."""
    if not number.is_finite():
        _fail(value, "is not a finite number", expected)
    if number and not -_MAX_EXPONENT <= number.adjusted() <= _MAX_EXPONENT:
        _fail(value, f"is out of range (magnitudes 1e-{_MAX_EXPONENT} to 1e{_MAX_EXPONENT})",
              expected)
    return number


def _number_from_json(value: object, expected: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        _fail(value, f"is {_json_kind(value)}, not a number", expected)
    return _in_range(Decimal(value), value, expected)


def _number_from_csv(raw: str, expected: str) -> Decimal:
    if _DECIMAL.fullmatch(raw) is None:
        _fail(raw, "is not a decimal number", expected)
    return _in_range(Decimal(raw), raw, expected)


def _money(number: Decimal, value: object) -> SqlValue:
    expected = _MONEY_EXPECTED
    if number < 0:
        _fail(value, "is negative", expected)
    if number != number.quantize(_CENT):
        _fail(value, "has more than 2 decimals", expected)
    return float(number)


def _money_from_csv(raw: str) -> SqlValue:
    if _PLAIN_MONEY.fullmatch(raw) is not None:
        return float(raw)
    return _money(_number_from_csv(raw, _MONEY_EXPECTED), raw)


_MONEY_EXPECTED = "an amount >= 0 with at most 2 decimals, e.g. 19.99"
MONEY = ColumnType(
    "money",
    "REAL",
    _MONEY_EXPECTED,
    _money_from_csv,
    lambda value: _money(_number_from_json(value, _MONEY_EXPECTED), value),
    normalise=normalize.money,
    normalised="rounded half-even to cents",
    lossy=True,
)


def _positive(number: Decimal, value: object) -> SqlValue:
    if number <= 0:
        _fail(value, "is not greater than 0", _POSITIVE_EXPECTED)
    return float(number)


def _positive_from_csv(raw: str) -> SqlValue:
    if _PLAIN_DECIMAL.fullmatch(raw) is not None:
        number = float(raw)
        if number > 0:
            return number
    return _positive(_number_from_csv(raw, _POSITIVE_EXPECTED), raw)


_POSITIVE_EXPECTED = "a decimal number > 0, e.g. 0.75"
POSITIVE_REAL = ColumnType(
    "real > 0",
    "REAL",
    _POSITIVE_EXPECTED,
    _positive_from_csv,
    lambda value: _positive(_number_from_json(value, _POSITIVE_EXPECTED), value),
)


def integer(minimum: int) -> ColumnType:
    expected = f"a whole number >= {minimum}"

    def bounded(number: int, value: object) -> SqlValue:
        if number < minimum or number > _INT64_MAX:
            _fail(value, "is out of range", expected)
        return number

    def from_csv(raw: str) -> SqlValue:
        if _INTEGER.fullmatch(raw) is None:
            _fail(raw, "is not a whole number", expected)
        if len(raw) > 20:  # beyond int64; int() refuses over 4,300 digits with ValueError
            _fail(raw, "is out of range", expected)
        return bounded(int(raw), raw)

    def from_json(value: object) -> SqlValue:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(value, f"is {_json_kind(value)}, not a whole number", expected)
        return bounded(value, value)

    return ColumnType(f"integer >= {minimum}", "INTEGER", expected, from_csv, from_json)


def _flag_from_csv(raw: str) -> SqlValue:
    if raw == "1":
        return 1
    if raw == "0":
        return 0
    _fail(raw, "is not a flag", _FLAG_EXPECTED)


def _flag_from_json(value: object) -> SqlValue:
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        _fail(value, f"is {_json_kind(value)}, not a flag", _FLAG_EXPECTED)
    if value not in (0, 1):
        _fail(value, "is not a flag", _FLAG_EXPECTED)
    return value


_FLAG_EXPECTED = "a flag: 0 or 1 in CSV, true/false (or 0/1) in JSON"
FLAG = ColumnType("flag", "INTEGER", _FLAG_EXPECTED, _flag_from_csv, _flag_from_json)


_COMPACTED = "separators and spaces removed, upper case"
_CODE = "trimmed, upper case"


def _identifier(
    name: str, check: Callable[[str], None], expected_key: str,
    normalise: Callable[[str], str] = normalize.compact, normalised: str = _COMPACTED,
) -> ColumnType:
    return _string_type(name, identifiers.EXPECTED[expected_key], check, (), normalise, normalised)


HS6 = _identifier("HS6", identifiers.validate_hs6, "HS6")
HTS10 = _identifier("HTS10", identifiers.validate_hts10, "HTS10")
MAWB = _identifier("MAWB", identifiers.validate_mawb, "MAWB")
ENTRY_NUMBER = _identifier("entry number", identifiers.validate_entry_number, "entry number",
                           normalize.entry_number, "written XXX-NNNNNNN-N, upper case")
GTIN = _identifier("GTIN", identifiers.validate_gtin, "GTIN")
MID = _identifier("MID", identifiers.validate_mid, "MID")
COUNTRY = _identifier("ISO 3166 alpha-2", identifiers.validate_country, "country",
                      normalize.code, _CODE)
CURRENCY = _identifier("ISO 4217", identifiers.validate_currency, "currency",
                       normalize.code, _CODE)
AIRPORT = _identifier("airport", identifiers.validate_airport, "airport", normalize.code, _CODE)
PORT_CODE = _identifier("US port", identifiers.validate_port_code, "port code")
HOUSE_BILL = _identifier("house bill", identifiers.validate_house_bill, "house bill",
                         normalize.house_bill)
FLIGHT_NO = _identifier("flight number", identifiers.validate_flight_no, "flight number")
CARRIER_CODE = _identifier("carrier code", identifiers.validate_carrier_code, "carrier code",
                           normalize.code, _CODE)
