"""`fedtrade-node attest` reads the manifest row by row with csv.reader and memoised
date and code checks: the lines it signs are the ones the csv.DictReader reading gave."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from fedtrade.node.attest import ATTESTED_COLUMNS, manifest_lines
from fedtrade.protocol import normalize
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.matching import normalize_consignee
from fedtrade.protos import attestation_pb2
from fedtrade.trust.errors import DataError
from fedtrade.trust.linkage import consignee_material

HEADER = ["shipper_name", *ATTESTED_COLUMNS, "origin_country"]


def dict_reader_lines(path: Path) -> list[attestation_pb2.ManifestLine] | str:
    """The reading before csv.reader: DictReader, strptime on every line (the reference)."""
    lines = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            bill = normalize.house_bill(row["house_bill"] or "")
            hs6 = normalize.compact(row["hs6"] or "")
            value = normalize.money(row["declared_value"] or "")
            day = (row["arrival_date"] or "").strip()
            try:
                amount = float(value)
                datetime.strptime(day, "%Y-%m-%d")
            except ValueError:
                return f"{reader.line_num}: declared_value {value!r} or arrival_date {day!r}"
            if not HOUSE_BILL.fullmatch(bill) or not HS6.fullmatch(hs6) or not amount >= 0:
                return f"{reader.line_num}: bad"
            reference = hashlib.blake2b(consignee_material(*normalize_consignee(
                row["consignee_name"] or "", row["consignee_address"] or "")),
                digest_size=16).hexdigest()
            lines.append(attestation_pb2.ManifestLine(
                house_bill=bill, master_bill=normalize.compact(row["mawb"] or ""),
                declared_value=value, currency=normalize.code(row["currency"] or ""),
                hs6=hs6, consignee_ref=reference, arrival_date=day))
    return lines


def write(path: Path, header: list[str], rows: list[list[str]], blank_after: int = -1) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for number, row in enumerate(rows):
            writer.writerow(row)
            if number == blank_after:
                handle.write("\r\n")
    return path


def row(bill: str, day: str = "2025-01-06", value: str = "12.50", hs6: str = "8471.60",
        currency: str = " usd", mawb: str = "023-6662 9441") -> list[str]:
    return ["Shipper", bill, mawb, "Nancy  Shah", "4720 Hill Rd, Tucson AZ", value, currency,
            hs6, day, "CN"]


def test_lines_are_those_dict_reader_read(tmp_path: Path) -> None:
    rows = [row(f"QX31000016{n:02d}", day=day, currency=currency)
            for n, (day, currency) in enumerate(
                [("2025-01-06", "usd"), ("2025-1-6", "EUR "), (" 2025-01-07 ", "usd"),
                 ("2025-01-06", "cny")] * 3)]
    rows.append(row("QX3100001699")[:7])  # a short row: hs6 and arrival date missing
    path = write(tmp_path / "m.csv", HEADER, rows, blank_after=2)
    expected = dict_reader_lines(path)
    assert isinstance(expected, str)  # the short row is refused, by both readings
    with pytest.raises(DataError, match=rf"m\.csv:{expected.split(':')[0]}: declared_value"):
        manifest_lines(path)
    del rows[-1]
    path = write(tmp_path / "m.csv", HEADER, rows, blank_after=2)
    expected = dict_reader_lines(path)
    assert not isinstance(expected, str)
    assert len(expected) == 12
    assert manifest_lines(path) == expected


def test_a_repeated_column_reads_its_last_place_as_before(tmp_path: Path) -> None:
    header = [*HEADER, "currency"]
    rows = [[*row("QX3100001601", currency="usd"), "eur"],
            [*row("QX3100001602", currency="usd"), "cny"]]
    path = write(tmp_path / "m.csv", header, rows)
    lines = manifest_lines(path)
    assert [line.currency for line in lines] == ["EUR", "CNY"]
    assert lines == dict_reader_lines(path)


@pytest.mark.parametrize("day", ["2025-02-30", "2025/01/06", "", "06-01-2025"])
def test_a_bad_date_is_refused_every_time_it_is_seen(tmp_path: Path, day: str) -> None:
    rows = [row("QX3100001601"), row("QX3100001602", day=day), row("QX3100001603", day=day)]
    path = write(tmp_path / "m.csv", HEADER, rows)
    assert isinstance(dict_reader_lines(path), str)
    for _ in range(2):  # the memo of checked dates does not remember a bad one as good
        with pytest.raises(DataError, match=r"m\.csv:3: declared_value .* or arrival_date"):
            manifest_lines(path)


def test_a_header_without_an_attested_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", [c for c in HEADER if c != "hs6"], [])
    with pytest.raises(DataError, match=r"m\.csv:1: the header lacks hs6"):
        manifest_lines(path)
