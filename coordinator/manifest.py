"""CBP's inbound manifest: strict reading, and what the manifest alone can reveal.

The manifest is read twice, streaming: a first pass validates every row
(nothing is sent to any node if a row is bad), collects what the linkage query
needs and the statistics of the manifest-only baseline; the second pass yields
batches for screening.
"""

from __future__ import annotations

import csv
import hashlib
import statistics
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fedtrade.protocol.limits import HOUSE_BILL
from fedtrade.trust.errors import DataError
from fedtrade.trust.linkage import normalize_party

__all__ = ["MANIFEST_COLUMNS", "Batch", "ManifestScan", "read_batches", "scan_manifest"]

MANIFEST_COLUMNS = (
    "house_bill", "mawb", "consignee_name", "consignee_address", "shipper_name",
    "shipper_country", "origin_country", "declared_value", "currency", "hs6", "arrival_date",
)
MAX_ERRORS = 20
# The baseline calls a declared value low when it is under this share of the HS6 median.
LOW_VALUE_SHARE = 0.5
MIN_HS6_SAMPLES = 5


@dataclass(frozen=True)
class Batch:
    """Consecutive manifest rows, column by column, with values converted to USD."""

    house_bill: list[str]
    declared_value_usd: list[float]
    hs6: list[str]
    consignee: list[int]
    arrival_date: list[str]


def _consignee_key(name: str, address: str, day: str) -> int:
    material = f"{normalize_party(name)}\x1f{normalize_party(address)}\x1f{day}".encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big")


@dataclass
class ManifestScan:
    """What the first pass learned; the baseline's statistics stay small (per HS6, per day)."""

    path: Path
    rows: int = 0
    first_day: str = ""
    last_day: str = ""
    house_bills: list[str] = field(default_factory=list)
    _values_by_hs6: dict[str, array[float]] = field(default_factory=dict)
    _medians: dict[str, float] = field(default_factory=dict)
    # consignee-and-day key -> [parcels, declared USD]
    _consignee_days: dict[int, list[float]] = field(default_factory=dict)

    def finish(self) -> None:
        self._medians = {
            hs6: statistics.median(values)
            for hs6, values in self._values_by_hs6.items() if len(values) >= MIN_HS6_SAMPLES
        }
        self._values_by_hs6.clear()

    def manifest_only_patterns(
        self, declared_usd: float, hs6: str, consignee: int, threshold_usd: float
    ) -> tuple[str, ...]:
        """The baseline: what CBP could flag from the manifest alone."""
        found = []
        median = self._medians.get(hs6)
        if median is not None and declared_usd < LOW_VALUE_SHARE * median:
            found.append("undervaluation")
        parcels, total = self._consignee_days[consignee]
        if threshold_usd > 0 and parcels >= 2 and total > threshold_usd:
            found.append("split_shipment")
        return tuple(found)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        missing = [c for c in MANIFEST_COLUMNS if c not in header]
        if missing:
            raise DataError(
                f"{path}:1: the header lacks {', '.join(missing)}; a manifest has the columns "
                f"{', '.join(MANIFEST_COLUMNS)}"
            )
        try:
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def _check(row: Mapping[str, str], rates: Mapping[str, float]) -> tuple[float, str | None]:
    """Declared value in USD, or a problem 'field: what is wrong'."""
    if not HOUSE_BILL.fullmatch(row["house_bill"] or ""):
        return 0.0, f"house_bill: {row['house_bill']!r} is not 4-20 uppercase letters/digits"
    hs6 = row["hs6"] or ""
    if len(hs6) != 6 or not hs6.isdigit():
        return 0.0, f"hs6: {hs6!r} is not 6 digits"
    try:
        date.fromisoformat(row["arrival_date"] or "")
    except ValueError:
        return 0.0, f"arrival_date: {row['arrival_date']!r} is not a date YYYY-MM-DD"
    rate = rates.get(row["currency"] or "")
    if rate is None:
        return 0.0, (f"currency: {row['currency']!r} has no exchange rate in the coordinator "
                     "config (currency_per_usd)")
    try:
        value = float(row["declared_value"])
    except (TypeError, ValueError):
        return 0.0, f"declared_value: {row['declared_value']!r} is not a number"
    if not value >= 0:
        return 0.0, f"declared_value: {value} is negative"
    return value / rate, None


def scan_manifest(path: Path, rates: Mapping[str, float]) -> ManifestScan:
    """First pass: validate every row; raise DataError listing the first problems."""
    scan = ManifestScan(path)
    errors: list[str] = []
    error_count = 0
    seen: set[str] = set()
    for line, row in _rows(path):
        usd, problem = _check(row, rates)
        if problem is None and row["house_bill"] in seen:
            problem = f"house_bill: {row['house_bill']} is listed twice"
        if problem is not None:
            error_count += 1
            if len(errors) < MAX_ERRORS:
                errors.append(f"{path}:{line}: {problem}")
            continue
        bill, day = row["house_bill"], row["arrival_date"]
        seen.add(bill)
        scan.house_bills.append(bill)
        scan.rows += 1
        scan.first_day = min(scan.first_day or day, day)
        scan.last_day = max(scan.last_day, day)
        scan._values_by_hs6.setdefault(row["hs6"], array("d")).append(usd)
        totals = scan._consignee_days.setdefault(
            _consignee_key(row["consignee_name"], row["consignee_address"], day), [0, 0.0])
        totals[0] += 1
        totals[1] += usd
    if error_count:
        more = f"\n... and {error_count - len(errors)} more" if error_count > len(errors) else ""
        raise DataError(f"{path}: {error_count} bad row(s); nothing was sent:\n"
                        + "\n".join(errors) + more)
    if scan.rows == 0:
        raise DataError(f"{path}: the manifest has no shipments")
    scan.finish()
    return scan


def read_batches(path: Path, rates: Mapping[str, float], size: int) -> Iterator[Batch]:
    """Second pass: the (already validated) manifest in batches of ``size`` shipments."""
    batch = Batch([], [], [], [], [])
    for _, row in _rows(path):
        usd, _ = _check(row, rates)
        day = row["arrival_date"]
        batch.house_bill.append(row["house_bill"])
        batch.declared_value_usd.append(round(usd, 2))
        batch.hs6.append(row["hs6"])
        batch.consignee.append(_consignee_key(row["consignee_name"], row["consignee_address"], day))
        batch.arrival_date.append(day)
        if len(batch.house_bill) == size:
            yield batch
            batch = Batch([], [], [], [], [])
    if batch.house_bill:
        yield batch
