"""Dated currency rates: how many units of a currency one US dollar bought on a day.

A ``RateTable`` holds, per ISO 4217 code, rates that each apply from their date
until the next one; ``per_usd(currency, day)`` is the latest rate dated on or
before ``day``. Rates come from a CSV file an operator refreshes (columns
``date,currency,per_usd``) and/or from constants in a config, which apply from
the beginning of time; a file's rate wins over a constant from its date on.
"""

from __future__ import annotations

import bisect
import csv
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fedtrade.protocol.input_files import text_lines
from fedtrade.protocol.normalize import code
from fedtrade.trust.errors import DataError

__all__ = ["RATE_COLUMNS", "RateTable"]

RATE_COLUMNS = ("date", "currency", "per_usd")
_BEGINNING = "0001-01-01"
# Sane bounds of units per US dollar (the Kuwaiti dinar ~0.3, the Iranian rial ~10^6): a value
# outside turns declared values into 0 or infinity.
_RATE_BOUNDS = (1e-6, 1e12)


@dataclass
class RateTable:
    # currency -> (sorted dates, rates in the same order)
    _dates: dict[str, list[str]] = field(default_factory=dict)
    _rates: dict[str, list[float]] = field(default_factory=dict)

    def add(self, currency: str, day: str, per_usd: float) -> None:
        dates = self._dates.setdefault(currency, [])
        rates = self._rates.setdefault(currency, [])
        at = bisect.bisect_left(dates, day)
        if at < len(dates) and dates[at] == day:
            rates[at] = per_usd
        else:
            dates.insert(at, day)
            rates.insert(at, per_usd)

    @classmethod
    def constant(cls, per_usd: Mapping[str, float]) -> RateTable:
        """One rate per currency, valid on every day (a config's currency_per_usd)."""
        table = cls()
        for currency, rate in per_usd.items():
            table.add(currency, _BEGINNING, rate)
        return table

    def load(self, path: Path) -> RateTable:
        """Add the rates of CSV file ``path``; raises DataError naming the bad line."""
        with text_lines(path, "rate") as lines:
            reader = csv.DictReader(lines)
            try:
                if tuple(reader.fieldnames or ()) != RATE_COLUMNS:
                    raise DataError(f"{path}:1: the header must be {','.join(RATE_COLUMNS)}")
                for row in reader:
                    self._load_row(path, reader.line_num, row)
            except (csv.Error, UnicodeDecodeError) as exc:
                line = max(reader.line_num, 1)
                raise DataError(f"{path}:{line}: not valid CSV ({exc})") from None
        return self

    def _load_row(self, path: Path, line: int, row: Mapping[str, str | None]) -> None:
        where = f"{path}:{line}"
        day, currency, text = (row[c] or "" for c in RATE_COLUMNS)
        try:
            datetime.date.fromisoformat(day)
        except ValueError:
            raise DataError(f"{where}: date: {day!r} is not a date YYYY-MM-DD") from None
        currency = code(currency)
        if len(currency) != 3 or not currency.isalpha():
            raise DataError(f"{where}: currency: {currency!r} is not an ISO 4217 code")
        try:
            rate = float(text)
        except ValueError:
            rate = 0.0
        low, high = _RATE_BOUNDS
        if not low <= rate <= high:
            raise DataError(f"{where}: per_usd: {text[:64]!r} is not a number from {low:g} to "
                            f"{high:g} (units of the currency one US dollar buys)")
        self.add(currency, day, rate)

    def per_usd(self, currency: str, day: str) -> float | None:
        """The rate of ``currency`` on ``day`` (YYYY-MM-DD), or None when none applies."""
        dates = self._dates.get(currency)
        if not dates:
            return None
        at = bisect.bisect_right(dates, day)
        return None if at == 0 else self._rates[currency][at - 1]
