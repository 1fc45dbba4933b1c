"""Manifest reading: normalised like a node's import, dated rates, quarantine of bad rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fedtrade.coordinator.manifest import MANIFEST_COLUMNS, scan_manifest
from fedtrade.protocol.rates import RateTable
from fedtrade.trust.errors import DataError


def _manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    base = {"mawb": "02012345675", "consignee_name": "Jane Roe",
            "consignee_address": "1 Main St", "shipper_name": "Acme", "shipper_country": "CN",
            "origin_country": "CN", "hs6": "851830"}
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, MANIFEST_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**base, **row})
    return path


def _rates(tmp_path: Path) -> RateTable:
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,per_usd\n2026-11-01,AUD,1.5\n2026-11-03,AUD,1.6\n"
                     "2026-11-01,SGD,1.25\n")
    return RateTable.constant({"USD": 1.0, "EUR": 0.8}).load(rates)


def test_mixed_currency_manifest_converts_at_the_dated_rate(tmp_path: Path) -> None:
    path = _manifest(tmp_path / "m.csv", [
        {"house_bill": "qx-3100-001697", "declared_value": "150.00", "currency": "aud",
         "arrival_date": "2026-11-02"},
        {"house_bill": "HB0002", "declared_value": "160", "currency": "AUD",
         "arrival_date": "2026-11-05"},
        {"house_bill": "HB0003", "declared_value": "12.50", "currency": "SGD",
         "arrival_date": "2026-11-03"},
        {"house_bill": "HB0004", "declared_value": "8.004", "currency": "EUR",
         "arrival_date": "2026-11-03"},
        {"house_bill": "9400 1000 0000 0000 0000 06", "declared_value": "5", "currency": "USD",
         "arrival_date": "2026-11-03", "hs6": "8518.30"},
    ])
    rates = _rates(tmp_path)
    scan = scan_manifest(path, rates)
    assert scan.house_bills.to_pylist() == [
        "QX3100001697", "HB0002", "HB0003", "HB0004", "9400100000000000000006"]
    (batch,) = scan.batches(100)
    assert batch.declared_value_usd.tolist() == [100.0, 100.0, 10.0, 10.0, 5.0]


def test_a_currency_without_a_rate_on_that_day_is_a_bad_row(tmp_path: Path) -> None:
    path = _manifest(tmp_path / "m.csv", [
        {"house_bill": "HB0001", "declared_value": "1", "currency": "AUD",
         "arrival_date": "2026-10-31"},
    ])
    with pytest.raises(DataError, match=r"m.csv:2: currency: 'AUD' has no exchange rate on "
                                        r"2026-10-31.*nothing was sent|nothing was sent"):
        scan_manifest(path, _rates(tmp_path))


def test_quarantine_leaves_bad_rows_out_and_writes_them(tmp_path: Path) -> None:
    path = _manifest(tmp_path / "m.csv", [
        {"house_bill": "HB0001", "declared_value": "1", "currency": "USD",
         "arrival_date": "2026-11-02"},
        {"house_bill": "HB0002", "declared_value": "ten", "currency": "USD",
         "arrival_date": "2026-11-02"},
        {"house_bill": "hb0001", "declared_value": "1", "currency": "USD",
         "arrival_date": "2026-11-02"},
        {"house_bill": "HB0004", "declared_value": "2", "currency": "XXX",
         "arrival_date": "2026-11-02"},
        {"house_bill": "HB0005", "declared_value": "3", "currency": "USD",
         "arrival_date": "2026-11-02"},
    ])
    rates = _rates(tmp_path)
    with pytest.raises(DataError, match="3 bad row"):
        scan_manifest(path, rates)
    rejects = tmp_path / "rejects.csv"
    scan = scan_manifest(path, rates, quarantine=rejects)
    assert scan.house_bills.to_pylist() == ["HB0001", "HB0005"]
    assert sorted(scan.rejected) == [3, 4, 5]
    (batch,) = scan.batches(100)
    assert batch.house_bill == ["HB0001", "HB0005"]
    with rejects.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["house_bill"] for r in rows] == ["HB0002", "hb0001", "HB0004"]
    assert rows[1]["import_error"].endswith("m.csv:4: house_bill: HB0001 is listed twice")


def test_rate_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "rates.csv"
    bad.write_text("date,currency,per_usd\n2026-11-01,AUD,0\n")
    with pytest.raises(DataError, match=r"rates.csv:2: per_usd: '0' is not a number from 1e-06"):
        RateTable().load(bad)
