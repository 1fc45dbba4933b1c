"""The column-wise manifest read against the per-row reader it falls back to.

Both must accept the same rows with the same values and name the same problems on
the same lines, on messy manifests (printed forms of house bills, HS codes, amounts,
dates and currencies; tracking numbers with check digits; rows without a rate) and on
files the column-wise path cannot map line by line (quoted line breaks, blank lines)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.manifest import (
    MANIFEST_COLUMNS,
    SplitRule,
    _Accepted,
    _Irregular,
    _read_columnar,
    _read_rows,
    scan_manifest,
)
from fedtrade.protocol.rates import RateTable
from fedtrade.trust.errors import DataError

BILLS = ["HB0001", "hb-0002", "HB 0003", "HB.0004/X", "AB", "RR123456785US", "RR123456784US",
         "9400 1000 0000 0000 0000 06", "9400100000000000000007", "HB\u00df5", "HB0001", "",
         "QX-3100-001697", " HB0009 "]
HS6 = ["851830", "8518.30", "8518 30", "85183", "85183X", "620462",
       "\uff16\uff11\uff10\uff19\uff11\uff10"]  # full-width digits
VALUES = ["10", "10.5", "8.004", " 12.00 ", "1e3", "-1", "ten", "0", "999999999999999.99",
          "1,000", "inf", "nan", "12.345"]
CURRENCIES = ["USD", "usd", " EUR", "AUD", "XXX", "U$D"]
DAYS = ["2026-11-01", "2026-11-03", "20261102", " 2026-11-02", "2026-02-30", "2026-10-31",
        "0000-01-01", "2026-11-3", "2026-W44-7", "2026-11-01 "]
NAMES = [("Jane Roe", "1 Main St"), ("ROE, JANE", "1 MAIN STREET"), ("Bo Li", "9 Dock Rd")]


def _rates() -> RateTable:
    rates = RateTable.constant({"USD": 1.0, "EUR": 0.8})
    rates.add("AUD", "2026-11-01", 1.5)
    return rates


def _write(path: Path, seed: int, rows: int, extra: str = "") -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(MANIFEST_COLUMNS)
        for _ in range(rows):
            name, address = rng.choice(NAMES)
            writer.writerow([rng.choice(BILLS) + str(rng.randrange(3)), "02012345675", name,
                             address, "Acme", "CN", "CN", rng.choice(VALUES),
                             rng.choice(CURRENCIES), rng.choice(HS6), rng.choice(DAYS)])
        f.write(extra)
    return path


def _read(path: Path, columnar: bool) -> _Accepted:
    accepted = _Accepted(_rates(), frozenset())
    (_read_columnar if columnar else _read_rows)(path, accepted)
    return accepted


def _same(fast: _Accepted, slow: _Accepted) -> None:
    assert fast.rejected == slow.rejected
    lines = np.concatenate(fast.lines)
    order = np.argsort(lines)
    assert lines[order].tolist() == np.concatenate(slow.lines).tolist()
    for name in ("usd", "hs6", "day", "consignee"):
        assert np.concatenate(getattr(fast, name))[order].tolist() == \
            np.concatenate(getattr(slow, name)).tolist(), name
    bills = [b for block in fast.bills for b in block.to_pylist()]
    assert [bills[i] for i in order] == [b for block in slow.bills for b in block.to_pylist()]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_columnar_and_per_row_reads_agree(tmp_path_factory: pytest.TempPathFactory,
                                          seed: int) -> None:
    path = _write(tmp_path_factory.mktemp("m") / "m.csv", seed, 60)
    fast, slow = _read(path, True), _read(path, False)
    assert fast.rejected  # the messy forms include bad rows
    _same(fast, slow)


@pytest.mark.parametrize("extra", [
    '"HB7777","02012345675","Jane\nRoe","1 Main St","Acme","CN","CN","1","USD","851830",'
    '"2026-11-01"\n',
    # a lone CR, in a column after the first
    '"HB7776","02012345675","Jane Roe","1 Main\rSt","Acme","CN","CN","1","USD","851830",'
    '"2026-11-01"\n',
    "\n",
    "HB7778,02012345675\n",
])
def test_a_file_not_one_line_per_row_is_read_row_by_row(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "m.csv"
    good = "HB{},02012345675,Jane Roe,1 Main St,Acme,CN,CN,10.00,USD,851830,2026-11-01\n"
    path.write_text(",".join(MANIFEST_COLUMNS) + "\n" + "".join(good.format(i) for i in range(5))
                    + extra + "HB7779,0,J,A,S,CN,CN,x,USD,851830,2026-11-01\n")
    with pytest.raises(_Irregular):
        _read(path, True)
    with pytest.raises(DataError) as caught:
        scan_manifest(path, _rates(), split=SplitRule())
    # the row after the irregular one is named by its own line, as the per-row reader counts
    last = len(path.read_text().splitlines())
    assert f"m.csv:{last}: declared_value: 'x' is not a number" in str(caught.value)
