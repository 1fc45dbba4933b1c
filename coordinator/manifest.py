"""CBP's inbound manifest: strict reading, and what the manifest alone can reveal.

The manifest is read twice, streaming: a first pass normalises and validates
every row (``fedtrade.protocol.normalize``, the same rules as a node's import, so
a house bill compares equal on both sides), collects what the linkage query
needs and the statistics of the manifest-only baseline; the second pass yields
batches for screening. Values are converted to USD at the dated rate of the
row's arrival day (``fedtrade.protocol.rates``).

By default a bad row refuses the manifest (nothing is sent to any node). With
a quarantine file, bad rows are written there (the row as written plus an
``import_error`` column), left out of screening, and the rest is screened.
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

from fedtrade.protocol import normalize
from fedtrade.protocol.limits import HOUSE_BILL
from fedtrade.protocol.matching import normalize_consignee
from fedtrade.protocol.rates import RateTable
from fedtrade.trust.errors import DataError

__all__ = [
    "MANIFEST_COLUMNS", "Batch", "ManifestScan", "SplitRule", "read_batches", "scan_manifest",
]

MANIFEST_COLUMNS = (
    "house_bill", "mawb", "consignee_name", "consignee_address", "shipper_name",
    "shipper_country", "origin_country", "declared_value", "currency", "hs6", "arrival_date",
)
MAX_ERRORS = 20
REJECT_COLUMN = "import_error"
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


def _consignee(row: Mapping[str, str | None]) -> tuple[int, str]:
    """A key of the consignee's normalised identity (as the nodes tokenise it), and the
    normalised address."""
    name, address = normalize_consignee(row["consignee_name"] or "", row["consignee_address"] or "")
    material = f"{name}\x1f{address}".encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big"), address


@dataclass(frozen=True)
class SplitRule:
    """How the manifest's consignee totals are read: threshold (0: off), window, forwarders."""

    threshold_usd: float = 0.0
    window_days: int = 1
    forwarding_addresses: frozenset[str] = frozenset()


@dataclass
class ManifestScan:
    """What the first pass learned: the baseline's statistics (per HS6; per consignee and
    day) and each house bill's consignee, for the manifest's own split totals."""

    path: Path
    rows: int = 0
    rejected: dict[int, str] = field(default_factory=dict)
    """Line -> problem of each row left out (quarantine)."""
    first_day: str = ""
    last_day: str = ""
    house_bills: list[str] = field(default_factory=list)
    _values_by_hs6: dict[str, array[float]] = field(default_factory=dict)
    _medians: dict[str, float] = field(default_factory=dict)
    split: SplitRule = field(default_factory=SplitRule)
    # consignee key -> arrival day (ordinal) -> [parcels, declared USD]
    _consignee_days: dict[int, dict[int, list[float]]] = field(default_factory=dict)
    consignee_of: dict[str, int] = field(default_factory=dict)
    """House bill -> consignee key, to add the manifest's own totals to the nodes'."""
    forwarding: set[int] = field(default_factory=set)
    """Consignee keys at a known forwarding address."""
    _split_days: set[tuple[int, int]] = field(default_factory=set)

    def add(self, bill: str, consignee: int, at_forwarder: bool, day: str, usd: float) -> None:
        self.consignee_of[bill] = consignee
        if at_forwarder:
            self.forwarding.add(consignee)
        totals = self._consignee_days.setdefault(consignee, {}).setdefault(
            date.fromisoformat(day).toordinal(), [0, 0.0])
        totals[0] += 1
        totals[1] += usd

    def window_total(self, consignee: int, opening: date) -> tuple[int, float]:
        """Parcels and declared USD of the consignee in the window starting on ``opening``."""
        days = self._consignee_days.get(consignee, {})
        first = opening.toordinal()
        inside = [days[d] for d in range(first, first + self.split.window_days) if d in days]
        return int(sum(t[0] for t in inside)), sum(t[1] for t in inside)

    def finish(self) -> None:
        self._medians = {
            hs6: statistics.median(values)
            for hs6, values in self._values_by_hs6.items() if len(values) >= MIN_HS6_SAMPLES
        }
        self._values_by_hs6.clear()
        rule = self.split
        if rule.threshold_usd <= 0:
            return
        for consignee, days in self._consignee_days.items():
            if consignee in self.forwarding:
                continue
            for opening in days:
                window = [d for d in range(opening, opening + rule.window_days) if d in days]
                parcels, usd = self.window_total(consignee, date.fromordinal(opening))
                if parcels >= 2 and usd > rule.threshold_usd:
                    self._split_days.update((consignee, d) for d in window)

    def manifest_only_patterns(
        self, declared_usd: float, hs6: str, consignee: int, day: str
    ) -> tuple[str, ...]:
        """The baseline: what CBP could flag from the manifest alone."""
        found = []
        median = self._medians.get(hs6)
        if median is not None and declared_usd < LOW_VALUE_SHARE * median:
            found.append("undervaluation")
        if (consignee, date.fromisoformat(day).toordinal()) in self._split_days:
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


@dataclass(frozen=True)
class _Row:
    house_bill: str
    hs6: str
    day: str
    usd: float


def _check(row: Mapping[str, str | None], rates: RateTable) -> _Row | str:
    """The row normalised, with its declared value in USD; or a problem 'field: what'."""
    bill = normalize.house_bill(row["house_bill"] or "")
    if not HOUSE_BILL.fullmatch(bill):
        return f"house_bill: {bill!r} is not 4-35 uppercase letters/digits"
    problem = normalize.tracking_problem(bill)
    if problem is not None:
        return f"house_bill: {bill!r} {problem}"
    hs6 = normalize.compact(row["hs6"] or "")
    if len(hs6) != 6 or not hs6.isdigit():
        return f"hs6: {hs6!r} is not 6 digits"
    day = (row["arrival_date"] or "").strip()
    try:
        date.fromisoformat(day)
    except ValueError:
        return f"arrival_date: {day!r} is not a date YYYY-MM-DD"
    currency = normalize.code(row["currency"] or "")
    rate = rates.per_usd(currency, day)
    if rate is None:
        return (f"currency: {currency!r} has no exchange rate on {day} (add one to the rate "
                "file, --rates, or to the coordinator config's currency_per_usd)")
    text = normalize.money(row["declared_value"] or "")
    try:
        value = float(text)
    except ValueError:
        return f"declared_value: {text!r} is not a number"
    if not value >= 0 or value == float("inf"):
        return f"declared_value: {text} is not an amount >= 0"
    return _Row(bill, hs6, day, value / rate)


def scan_manifest(
    path: Path, rates: RateTable, quarantine: Path | None = None,
    split: SplitRule | None = None,
) -> ManifestScan:
    """First pass: validate every row; raise DataError listing the first problems,
    or, with ``quarantine``, write the bad rows there and leave them out."""
    scan = ManifestScan(path, split=split or SplitRule())
    forwarders = scan.split.forwarding_addresses
    seen: set[str] = set()
    for line, row in _rows(path):
        checked = _check(row, rates)
        if isinstance(checked, _Row) and checked.house_bill in seen:
            checked = f"house_bill: {checked.house_bill} is listed twice"
        if isinstance(checked, str):
            scan.rejected[line] = checked
            continue
        seen.add(checked.house_bill)
        scan.house_bills.append(checked.house_bill)
        scan.rows += 1
        day, usd = checked.day, checked.usd
        scan.first_day = min(scan.first_day or day, day)
        scan.last_day = max(scan.last_day, day)
        scan._values_by_hs6.setdefault(checked.hs6, array("d")).append(usd)
        consignee, address = _consignee(row)
        scan.add(checked.house_bill, consignee, address in forwarders, day, usd)
    if scan.rejected and quarantine is None:
        first = [f"{path}:{line}: {problem}"
                 for line, problem in list(scan.rejected.items())[:MAX_ERRORS]]
        more = len(scan.rejected) - len(first)
        raise DataError(f"{path}: {len(scan.rejected)} bad row(s); nothing was sent:\n"
                        + "\n".join(first) + (f"\n... and {more} more" if more else ""))
    if scan.rejected and quarantine is not None:
        _write_rejects(path, scan.rejected, quarantine)
    if scan.rows == 0:
        raise DataError(f"{path}: the manifest has no shipments"
                        + (" left to screen" if scan.rejected else ""))
    scan.finish()
    return scan


def _write_rejects(path: Path, rejected: Mapping[int, str], quarantine: Path) -> None:
    try:
        with path.open(newline="", encoding="utf-8-sig") as source, \
                quarantine.open("w", newline="", encoding="utf-8") as out:
            reader = csv.reader(source)
            writer = csv.writer(out, lineterminator="\n")
            for row in reader:
                line = reader.line_num
                if line == 1:
                    writer.writerow([*row, REJECT_COLUMN])
                elif line in rejected:
                    writer.writerow([*row, f"{path}:{line}: {rejected[line]}"])
    except OSError as exc:
        raise DataError(
            f"{quarantine}: cannot write the manifest rejects: {exc.strerror}") from None


def read_batches(
    path: Path, rates: RateTable, size: int, skip: Mapping[int, str] | None = None
) -> Iterator[Batch]:
    """Second pass: the validated manifest in batches of ``size`` shipments, without the
    rows of ``skip`` (the lines a quarantine scan left out)."""
    batch = Batch([], [], [], [], [])
    for line, row in _rows(path):
        if skip and line in skip:
            continue
        checked = _check(row, rates)
        assert isinstance(checked, _Row), "read_batches runs on a manifest scan_manifest accepted"
        day = checked.day
        batch.house_bill.append(checked.house_bill)
        batch.declared_value_usd.append(round(checked.usd, 2))
        batch.hs6.append(checked.hs6)
        batch.consignee.append(_consignee(row)[0])
        batch.arrival_date.append(day)
        if len(batch.house_bill) == size:
            yield batch
            batch = Batch([], [], [], [], [])
    if batch.house_bill:
        yield batch
