"""`fedtrade-node attest` reads the manifest with pyarrow (csv.reader for files it cannot
map line by line: ``test_attest_rows``), with memoised date and code checks, consignees
normalised and fields already canonical recognised a run of rows at a time: the lines it
signs are the ones the csv.DictReader reading gave. It signs and writes a few blocks at a
time; its file appears only for a whole good manifest."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from fedtrade.node.attest import ATTESTED_COLUMNS, attest_manifest, manifest_lines
from fedtrade.protocol import normalize
from fedtrade.protocol.attestation import read_attestations
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.matching import normalize_consignee
from fedtrade.protos import attestation_pb2
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey
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


# printed forms each field takes in real manifests, canonical and not, all accepted
_MESSY = st.fixed_dictionaries({
    "bill": st.sampled_from(["QX3100001601", "qx-3100-001602", "QX3100 001603", "QX31",
                             "QX\u00df3100001604", " QX3100001605", "9400100000000000000007"]),
    "mawb": st.sampled_from(["02012345675", "020-1234 5675", "", "ab.12", "\uff10201"]),
    "value": st.sampled_from(["12.50", "12.5", " 12.50", "8.004", "1e3", "0", "\uff11",
                              "999999999999999.99", "1000000000000000.00"]),
    "currency": st.sampled_from(["USD", " usd", "Eur", "CNY ", "USDX", ""]),
    "hs6": st.sampled_from(["851830", "8518.30", "8518 30"]),
    "day": st.sampled_from(["2025-01-06", "2025-1-6", " 2025-01-07", "2025-01-06 ",
                            "\uff12\uff10\uff12\uff15-01-06"]),
    "name": st.sampled_from(["Nancy  Shah", "SHAH, NANCY", "Mr \u015eenol", ""]),
    "address": st.sampled_from(["4720 Hill Rd, Tucson AZ", "4720 HILL ROAD #4", "M\u00fcller St"]),
})
# now and then a field refused
_BAD = st.sampled_from([{}] * 12 + [
    {"bill": "Q1"}, {"value": "-1"}, {"value": "ten"}, {"hs6": "85183"}, {"hs6": "85183X"},
    {"hs6": "\uff16\uff11\uff10\uff19\uff11\uff10"}, {"day": "2025-02-30"},
    {"day": "2025-01-06T00"}, {"day": ""}])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_MESSY, _BAD), min_size=1, max_size=25))
def test_messy_lines_are_those_dict_reader_read(
        tmp_path_factory: pytest.TempPathFactory,
        rows: list[tuple[dict[str, str], dict[str, str]]]) -> None:
    fields = [{**good, **bad} for good, bad in rows]
    path = write(tmp_path_factory.mktemp("m") / "m.csv", HEADER, [
        ["Shipper", r["bill"] if r["bill"] == "Q1" else f"{r['bill']}{n}", r["mawb"], r["name"],
         r["address"], r["value"], r["currency"], r["hs6"], r["day"], "CN"]
        for n, r in enumerate(fields)])
    expected = dict_reader_lines(path)
    event("refused" if isinstance(expected, str) else "accepted")
    if isinstance(expected, str):
        with pytest.raises(DataError, match=rf"m\.csv:{expected.split(':')[0]}: "):
            manifest_lines(path)
    else:
        assert manifest_lines(path) == expected


def _attest(tmp_path: Path, rows: list[list[str]], block_lines: int) -> tuple[Path, int]:
    out = tmp_path / "m.attest.jsonl"
    blocks = attest_manifest(write(tmp_path / "m.csv", HEADER, rows), out,
                             SigningKey.generate(), "carrier-1", block_lines=block_lines,
                             valid_hours=1)
    return out, blocks


def test_blocks_hold_the_lines_in_order(tmp_path: Path) -> None:
    rows = [row(f"QX31000016{n:02d}") for n in range(7)]
    out, blocks = _attest(tmp_path, rows, 3)
    assert blocks == 3
    signed = []
    for envelope in read_attestations(out):
        block = attestation_pb2.ManifestBlock()
        block.ParseFromString(envelope.payload)
        signed.append([line.house_bill for line in block.lines])
    assert signed == [[f"QX31000016{n:02d}" for n in chunk]
                      for chunk in ([0, 1, 2], [3, 4, 5], [6])]


@pytest.mark.parametrize(("rows", "problem"), [
    # a house bill listed again two blocks later: found once every line is read
    ([row(f"QX31000016{n:02d}") for n in range(5)] + [row("QX-3100-0016 03")],
     r"m\.csv:7: house bill QX3100001603 is listed twice"),
    # a bad line after a repeat: the repeat, on the earlier line, is named
    ([row("QX3100001601"), row("QX3100001602"), row("QX3100001601"), row("QX3100001603"),
      row("QX3100001604", value="ten")], r"m\.csv:4: house bill QX3100001601 is listed twice"),
    # a bad line in the third block, after two were signed
    ([row(f"QX31000016{n:02d}") for n in range(5)] + [row("QX3100001699", hs6="85")],
     r"m\.csv:7: hs6 '85' is not 6 digits"),
])
def test_a_bad_manifest_leaves_no_file(tmp_path: Path, rows: list[list[str]],
                                       problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        _attest(tmp_path, rows, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]
