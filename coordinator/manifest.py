"""CBP's inbound manifest: one strict, column-wise read, and what the manifest alone reveals.

The manifest is read once, in blocks, by pyarrow's CSV reader with every column
as text (``manifest_rows``). Each block is checked column by column: a row whose
fields are already plain (a house bill of letters, digits and separators, six
HS digits, an ISO date, a three-letter currency with a rate that day, an amount
in cents) is accepted by vectorised tests; every other row goes through the
per-row check (``fedtrade.protocol.normalize``, the same rules as a node's
import), which makes it canonical or names its problem. Both therefore accept
the same rows with the same values. A file whose records are not one line each
(a quoted line break, a blank line, a record with too few or too many fields,
text that is not UTF-8) is read by the per-row reader instead, so that every
problem still names its exact line. Values are converted to USD at the dated
rate of the row's arrival day (``fedtrade.protocol.rates``).

By default a bad row refuses the manifest (nothing is sent to any node). With
a quarantine file, bad rows are written there (the row as written plus an
``import_error`` column), left out of screening, and the rest is screened.

What a run keeps is compact columns, a few bytes per shipment (the house bill,
declared USD and the manifest-only flags) and the consignee-day totals, which
also give each row its consignee key and arrival day; batches are slices of them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fedtrade.coordinator.consignee_days import ConsigneeDays
from fedtrade.coordinator.consignee_keys import consignee_keys
from fedtrade.coordinator.memory import release_freed_memory
from fedtrade.coordinator.result_files import atomic_text_file
from fedtrade.coordinator.results import manifest_only_patterns
from fedtrade.protocol import normalize
from fedtrade.protocol.arrow_text import text_bytes
from fedtrade.protocol.input_files import text_lines
from fedtrade.protocol.limits import HOUSE_BILL
from fedtrade.protocol.rates import RateTable
from fedtrade.trust.errors import DataError

__all__ = [
    "MANIFEST_COLUMNS", "Batch", "ManifestScan", "SplitRule", "scan_manifest",
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
_BLOCK_BYTES = 1 << 20

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class Batch:
    """Consecutive accepted manifest rows, column by column, from position ``start``."""

    start: int
    house_bill: list[str]
    declared_value_usd: Floats  # to the cent
    consignee: npt.NDArray[np.uint64]
    arrival_day: Ints  # date ordinals
    at_forwarder: Flags
    low_value: Flags  # manifest-only: under LOW_VALUE_SHARE of the HS6 median
    manifest_split: Flags  # manifest-only: the consignee's window is over the threshold

    def manifest_only_patterns(self, index: int) -> tuple[str, ...]:
        """The baseline: what CBP could flag from the manifest alone."""
        return manifest_only_patterns(bool(self.low_value[index]),
                                      bool(self.manifest_split[index]))


@dataclass(frozen=True)
class SplitRule:
    """How the manifest's consignee totals are read: threshold (0: off), window, forwarders."""

    threshold_usd: float = 0.0
    window_days: int = 1
    forwarding_addresses: frozenset[str] = frozenset()


@dataclass
class ManifestScan:
    """The accepted rows as compact columns, the rows left out, and the manifest's own
    consignee-day totals (the baseline's and the split check's)."""

    path: Path
    split: SplitRule
    rejected: dict[int, str] = field(default_factory=dict)
    """Line -> problem of each row left out (quarantine)."""
    house_bills: pa.StringArray = field(default_factory=lambda: pa.array([], pa.string()))
    usd: Floats = field(default_factory=lambda: np.zeros(0))
    at_forwarder: Flags = field(default_factory=lambda: np.zeros(0, bool))
    low_value: Flags = field(default_factory=lambda: np.zeros(0, bool))
    manifest_split: Flags = field(default_factory=lambda: np.zeros(0, bool))
    days: ConsigneeDays = field(default_factory=ConsigneeDays.empty)
    """Also each row's consignee and day, through its entry (``group_of_row``)."""

    @property
    def rows(self) -> int:
        return len(self.house_bills)

    @property
    def first_day(self) -> str:
        return date.fromordinal(int(self.days.day.min())).isoformat()

    @property
    def last_day(self) -> str:
        return date.fromordinal(int(self.days.day.max())).isoformat()

    def window_totals(self, consignees: npt.NDArray[np.uint64], openings: Ints
                      ) -> tuple[Ints, Floats]:
        """Per (consignee, opening day ordinal) pair: the consignee's parcels and declared USD
        in the window starting that day."""
        return self.days.window_totals(consignees, openings, self.split.window_days)

    def batches(self, size: int) -> Iterator[Batch]:
        """The accepted rows in batches of ``size`` shipments, in manifest order."""
        for start in range(0, self.rows, size):
            stop = min(start + size, self.rows)
            entries = self.days.group_of_row[start:stop]
            yield Batch(
                start, self.house_bills[start:stop].to_pylist(), self.usd[start:stop],
                self.days.consignee[entries], self.days.day[entries].astype(np.int64),
                self.at_forwarder[start:stop], self.low_value[start:stop],
                self.manifest_split[start:stop])


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


class _Irregular(Exception):
    """The file's records are not one line each: read it row by row instead."""


@dataclass
class _Accepted:
    """Accepted rows block by block, and the problems of the others by line."""

    rates: RateTable
    forwarders: frozenset[str]
    rejected: dict[int, str] = field(default_factory=dict)
    bills: list[pa.Array] = field(default_factory=list)
    lines: list[Ints] = field(default_factory=list)
    usd: list[Floats] = field(default_factory=list)
    hs6: list[Ints] = field(default_factory=list)
    day: list[Ints] = field(default_factory=list)
    consignee: list[npt.NDArray[np.uint64]] = field(default_factory=list)
    forwarding: list[Flags] = field(default_factory=list)

    def add(self, bills: pa.Array, lines: Ints, usd: Floats, hs6: Ints, day: Ints,
            names: pa.Array, addresses: pa.Array) -> None:
        keys, at_forwarder = consignee_keys(names, addresses, self.forwarders)
        self.bills.append(bills)
        self.lines.append(lines)
        self.usd.append(usd)
        self.hs6.append(hs6)
        self.day.append(day)
        self.consignee.append(keys)
        self.forwarding.append(at_forwarder)

    def add_rows(self, rows: list[tuple[int, _Row, str, str]]) -> None:
        """Rows the per-row check accepted: (line, row, consignee name, address)."""
        if rows:
            self.add(pa.array([r.house_bill for _, r, _, _ in rows], pa.string()),
                     np.array([line for line, _, _, _ in rows], np.int64),
                     np.array([r.usd for _, r, _, _ in rows], np.float64),
                     np.array([int(r.hs6) for _, r, _, _ in rows], np.int64),
                     np.array([date.fromisoformat(r.day).toordinal() for _, r, _, _ in rows],
                              np.int64),
                     pa.array([n for _, _, n, _ in rows], pa.string()),
                     pa.array([a for _, _, _, a in rows], pa.string()))


def _read_header(path: Path) -> None:
    with text_lines(path, "manifest") as lines:
        try:
            header = tuple(next(csv.reader(lines), ()))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:1: not valid CSV ({exc})") from None
    missing = [c for c in MANIFEST_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"{path}:1: the header lacks {', '.join(missing)}; a manifest has the columns "
            f"{', '.join(MANIFEST_COLUMNS)}"
        )


def _matches(column: pa.Array, pattern: str) -> Flags:
    return np.asarray(pc.match_substring_regex(column, pattern), dtype=bool)


def _ordinal(text: str) -> int:
    """The date ordinal of a date written exactly as YYYY-MM-DD; 0 for any other text."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return 0
    return day.toordinal() if day.isoformat() == text else 0


def _plain_rows(
    block: pa.RecordBatch, rates: RateTable,
) -> tuple[Flags, pa.Array, Floats, Ints, Ints]:
    """Which rows of ``block`` are plain (see the module docstring), and their house bills,
    declared USD, HS6 and arrival days (ordinals)."""
    raw = {name: block.column(name) for name in MANIFEST_COLUMNS}
    bill = pc.ascii_upper(pc.replace_substring_regex(raw["house_bill"], "[ ./-]+", ""))
    plain = (_matches(raw["house_bill"], r"^[A-Za-z0-9 ./-]*$")
             & _matches(bill, r"^[A-Z0-9]{4,35}$")
             # shaped like S10 or IMpb tracking numbers: their check digits are checked per row
             & ~_matches(bill, r"^([A-Z]{2}[0-9]{9}[A-Z]{2}|9[0-9]{21})$"))
    hs6 = pc.replace_substring_regex(raw["hs6"], "[ ./-]+", "")
    plain &= _matches(raw["hs6"], r"^[0-9 ./-]*$") & _matches(hs6, r"^[0-9]{6}$")
    # a manifest has few distinct dates, currencies and (currency, date) pairs: each is
    # checked once, and the rows take the answer of theirs
    days = raw["arrival_date"].dictionary_encode()
    day_codes = np.asarray(days.indices, dtype=np.int64)
    day_ordinals = np.array([_ordinal(text) for text in days.dictionary.to_pylist()], np.int64)
    ordinal = day_ordinals[day_codes]
    plain &= ordinal >= 1
    plain &= _matches(raw["currency"], r"^[A-Za-z]+$")
    value_text = raw["declared_value"]
    plain &= _matches(value_text, r"^[0-9]{1,15}(\.[0-9]{1,2})?$")
    # Rates per (currency, day) pair present; a pair without a rate goes to the row check.
    currency = pc.ascii_upper(raw["currency"]).dictionary_encode()
    width = max(len(day_ordinals), 1)
    pairs, inverse = np.unique(np.asarray(currency.indices, dtype=np.int64) * width + day_codes,
                               return_inverse=True)
    names = currency.dictionary.to_pylist()
    table = np.array([
        rates.per_usd(names[c], date.fromordinal(d).isoformat()) if d >= 1 else None
        for c, d in zip((pairs // width).tolist(), day_ordinals[pairs % width].tolist(),
                        strict=True)], dtype=np.float64)
    rate = table[inverse.reshape(-1)]
    plain &= ~np.isnan(rate)
    keep = pa.array(plain)
    values = np.asarray(pc.cast(pc.filter(value_text, keep), pa.float64()), dtype=np.float64)
    return (plain, pc.filter(bill, keep), values / rate[plain],
            np.asarray(pc.cast(pc.filter(hs6, keep), pa.int64()), dtype=np.int64),
            ordinal[plain])


def _read_columnar(path: Path, accepted: _Accepted) -> None:
    """The fast path; raises _Irregular for a file it cannot map line by line."""
    def irregular(_row: object) -> str:
        return "error"  # a ragged record: pyarrow stops, the per-row reader takes over

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                              invalid_row_handler=irregular),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(MANIFEST_COLUMNS),
                column_types={name: pa.string() for name in MANIFEST_COLUMNS}))
        offset = 0
        for block in reader:
            _accept_block(block, offset, accepted)
            offset += block.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        raise _Irregular from None


def _accept_block(block: pa.RecordBatch, offset: int, accepted: _Accepted) -> None:
    for name in MANIFEST_COLUMNS:
        text = text_bytes(block.column(name))
        if (text == 10).any() or (text == 13).any():  # LF or CR inside a field
            raise _Irregular
    plain, bills, usd, hs6, day = _plain_rows(block, accepted.rates)
    lines = np.arange(offset + 2, offset + 2 + block.num_rows, dtype=np.int64)
    keep = pa.array(plain)
    accepted.add(bills, lines[plain], usd, hs6, day,
                 pc.filter(block.column("consignee_name"), keep),
                 pc.filter(block.column("consignee_address"), keep))
    others = np.flatnonzero(~plain)
    if len(others) == 0:
        return
    rows = block.take(pa.array(others)).to_pylist()
    checked: list[tuple[int, _Row, str, str]] = []
    for index, row in zip(others.tolist(), rows, strict=True):
        if not any(row.values()):
            raise _Irregular  # a blank line: the per-row reader skips it and counts it
        result = _check(row, accepted.rates)
        line = offset + 2 + index
        if isinstance(result, str):
            accepted.rejected[line] = result
        else:
            checked.append((line, result, row["consignee_name"], row["consignee_address"]))
    accepted.add_rows(checked)


def _read_rows(path: Path, accepted: _Accepted) -> None:
    """The per-row reader, for files whose records span lines or are ragged."""
    with text_lines(path, "manifest") as lines:
        reader = csv.DictReader(lines)
        checked: list[tuple[int, _Row, str, str]] = []
        try:
            for row in reader:
                result = _check(row, accepted.rates)
                if isinstance(result, str):
                    accepted.rejected[reader.line_num] = result
                    continue
                checked.append((reader.line_num, result, row["consignee_name"] or "",
                                row["consignee_address"] or ""))
                if len(checked) >= 50_000:
                    accepted.add_rows(checked)
                    checked = []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
        accepted.add_rows(checked)


def _concat(parts: Sequence[npt.NDArray[_T]], dtype: type) -> npt.NDArray[_T]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _round_cents(usd: Floats) -> Floats:
    """Python's round(x, 2) (correctly rounded), vectorised: numpy's x*100 shortcut is
    exact except next to a half cent, where the per-value round decides."""
    rounded = np.round(usd, 2)
    scaled = usd * 100
    near = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for index in np.flatnonzero(near).tolist():
        rounded[index] = round(float(usd[index]), 2)
    return rounded


def _hs6_medians(hs6: Ints, usd: Floats) -> Floats:
    """Per row the median declared USD of its HS6 (NaN under MIN_HS6_SAMPLES rows), as
    statistics.median computes it."""
    order = np.lexsort((usd, hs6))
    codes, values = hs6[order], usd[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    counts = np.diff(np.r_[starts, len(codes)])
    middle = starts + counts // 2
    medians = np.where(counts % 2 == 1, values[middle],
                       (values[np.maximum(middle - 1, 0)] + values[middle]) / 2)
    medians[counts < MIN_HS6_SAMPLES] = np.nan
    per_row = np.empty(len(hs6))
    per_row[order] = np.repeat(medians, counts)
    return per_row


def _any_repeated(bills: pa.StringArray) -> bool:
    """Is a house bill listed twice? Sorted and compared with its neighbour: a third of the
    memory of counting distinct values in a hash table (about 64 MiB at 1,000,000)."""
    ranked = bills.take(pc.sort_indices(bills))
    return len(bills) > 1 and bool(
        pc.any(pc.equal(ranked.slice(1), ranked.slice(0, len(bills) - 1))).as_py())


def scan_manifest(
    path: Path, rates: RateTable, quarantine: Path | None = None,
    split: SplitRule | None = None,
) -> ManifestScan:
    """Read and validate every row; raise DataError listing the first problems, or, with
    ``quarantine``, write the bad rows there and leave them out."""
    split = split or SplitRule()
    release_freed_memory()
    _read_header(path)
    accepted = _Accepted(rates, split.forwarding_addresses)
    try:
        _read_columnar(path, accepted)
    except _Irregular:
        accepted = _Accepted(rates, split.forwarding_addresses)
        _read_rows(path, accepted)
    bills = pa.concat_arrays(accepted.bills) if accepted.bills else pa.array([], pa.string())
    accepted.bills = []
    # A house bill listed again: every listing after the first is a bad row.
    repeated = np.zeros(len(bills), bool)
    if _any_repeated(bills):
        first = np.unique(np.asarray(bills.dictionary_encode().indices), return_index=True)[1]
        repeated[:] = True
        repeated[first] = False
        lines = _concat(accepted.lines, np.int64)
        for index in np.flatnonzero(repeated).tolist():
            accepted.rejected[int(lines[index])] = f"house_bill: {bills[index]} is listed twice"
    accepted.lines = []
    rejected = dict(sorted(accepted.rejected.items()))
    if rejected and quarantine is None:
        shown = [f"{path}:{line}: {problem}"
                 for line, problem in list(rejected.items())[:MAX_ERRORS]]
        more = len(rejected) - len(shown)
        raise DataError(f"{path}: {len(rejected)} bad row(s); nothing was sent:\n"
                        + "\n".join(shown) + (f"\n... and {more} more" if more else ""))
    if rejected and quarantine is not None:
        _write_rejects(path, rejected, quarantine)
    if repeated.all():
        raise DataError(f"{path}: the manifest has no shipments"
                        + (" left to screen" if rejected else ""))

    def column(parts: list[npt.NDArray[_T]], dtype: type) -> npt.NDArray[_T]:
        """One column of the accepted rows; the blocks are let go as it is built."""
        joined = _concat(parts, dtype)
        parts.clear()
        return joined[~repeated] if repeated.any() else joined

    usd, hs6 = column(accepted.usd, np.float64), column(accepted.hs6, np.int64)
    scan = ManifestScan(
        path, split, rejected, bills.filter(pa.array(~repeated)) if repeated.any() else bills,
        _round_cents(usd), column(accepted.forwarding, bool))
    # NaN medians compare False: no baseline for a rare HS6
    scan.low_value = scan.usd < LOW_VALUE_SHARE * _hs6_medians(hs6, usd)
    del hs6  # each column goes once used: the peak is the largest step's, not their sum
    scan.days = ConsigneeDays.build(column(accepted.consignee, np.uint64),
                                    column(accepted.day, np.int64), usd)
    del usd
    if split.threshold_usd > 0:
        scan.manifest_split = scan.days.split_rows(
            split.threshold_usd, split.window_days, scan.at_forwarder)
    else:
        scan.manifest_split = np.zeros(scan.rows, bool)
    return scan


def _write_rejects(path: Path, rejected: Mapping[int, str], quarantine: Path) -> None:
    try:
        with text_lines(path, "manifest") as source, \
                atomic_text_file(quarantine, newline="") as out:
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
