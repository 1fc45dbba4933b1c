"""Real-world exports: normalisation on the way in, quarantine imports and their reports."""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedtrade.node.cli import main as node_main
from fedtrade.node.store import identifiers as ids
from fedtrade.node.store.columns import TIMESTAMP
from fedtrade.node.store.importer import RejectLimit, import_path
from fedtrade.node.store.migrations import open_store
from fedtrade.protocol import normalize
from fedtrade.sim.federation import NODE_IDS, Federation
from fedtrade.trust.errors import DataError, FedtradeError
from tests.node.store.samples import SAMPLES, Row, dump, stored_rows, write_csv, write_jsonl

# A 22-digit USPS IMpb tracking number (GS1 mod-10 check digit) and a UPU S10 number.
IMPB = "9400100000000000000006"
S10 = "RR123456785US"


def _separated(draw: st.DrawFn, text: str) -> str:
    """``text`` as an export might write it: random case, separators and spaces."""
    out = []
    for char in text:
        out.append(char.lower() if draw(st.booleans()) else char)
        out.append(draw(st.sampled_from(["", "", "-", " ", ".", "/"])))
    return draw(st.sampled_from(["", " "])) + "".join(out).strip("-./") + draw(
        st.sampled_from(["", " "]))


@st.composite
def house_bills(draw: st.DrawFn) -> str:
    body = draw(st.from_regex(r"[A-Z]{2}[0-9]{2,12}", fullmatch=True))
    return draw(st.sampled_from([body, IMPB, S10]))


@st.composite
def written_forms(draw: st.DrawFn) -> tuple[str, str]:
    bill = draw(house_bills())
    return bill, _separated(draw, bill)


@given(written_forms())
def test_every_written_form_of_a_house_bill_normalises_to_it(case: tuple[str, str]) -> None:
    canonical, written = case
    assert normalize.house_bill(written) == canonical
    assert normalize.house_bill(canonical) is canonical
    ids.validate_house_bill(normalize.house_bill(written))


@given(st.text(max_size=30))
def test_normalisers_are_idempotent(text: str) -> None:
    for normalise in (normalize.house_bill, normalize.compact, normalize.code,
                      normalize.entry_number, normalize.timestamp, normalize.money,
                      normalize.strip):
        once = normalise(text)
        assert normalise(once) == once


@given(st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30),
                   timezones=st.timezones()))
def test_timestamps_with_offsets_become_valid_utc(moment: datetime.datetime) -> None:
    written = moment.replace(microsecond=0).isoformat()
    canon = normalize.timestamp(written)
    if moment.utcoffset() is None:
        assert canon == written  # no offset: its zone is unknown, the validator refuses it
        return
    TIMESTAMP.from_csv(canon)
    assert datetime.datetime.fromisoformat(canon) == datetime.datetime.fromisoformat(written)


@given(st.decimals(min_value=0, max_value=10**9, places=4))
def test_money_rounds_half_even_to_cents(amount: object) -> None:
    from decimal import ROUND_HALF_EVEN, Decimal

    assert isinstance(amount, Decimal)
    canon = normalize.money(str(amount))
    assert Decimal(canon) == amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize(("kind", "written", "canonical", "validator"), [
    ("hts", "8715.00.9600", "8715009600", ids.validate_hts10),
    ("hs6", "8518.30", "851830", ids.validate_hs6),
    ("mawb", "020-1234567 5", "02012345675", ids.validate_mawb),
    ("mid", "cnshebat 123sha", "CNSHEBAT123SHA", ids.validate_mid),
    ("gtin", "4006381-333931", "4006381333931", ids.validate_gtin),
    ("entry", "abc 1234567 6", "ABC-1234567-6", ids.validate_entry_number),
    ("bill", "qx-3100-001697", "QX3100001697", ids.validate_house_bill),
    ("impb", "9400 1000 0000 0000 0000 06", IMPB, ids.validate_house_bill),
])
def test_written_identifiers_normalise_to_valid_ones(
    kind: str, written: str, canonical: str, validator: object
) -> None:
    normalise = {"entry": normalize.entry_number, "bill": normalize.house_bill,
                 "impb": normalize.house_bill}.get(kind, normalize.compact)
    assert normalise(written) == canonical
    assert callable(validator)
    validator(canonical)


def test_tracking_numbers_with_a_wrong_check_digit_are_refused() -> None:
    with pytest.raises(DataError, match="USPS IMpb"):
        ids.validate_house_bill(IMPB[:-1] + "7")
    with pytest.raises(DataError, match="UPU S10"):
        ids.validate_house_bill("RR123456784US")


def _carrier_store(tmp_path: Path) -> Path:
    db = tmp_path / "store.db"
    open_store(db, "carrier").close()
    import_path(db, "carrier", "masters", write_csv(tmp_path / "m.csv", "masters",
                                                    SAMPLES["masters"]), progress=False)
    return db


def _bill(house_bill: str, **changes: object) -> Row:
    row = dict(SAMPLES["house_bills"][0], house_bill=house_bill)
    row.update(changes)  # type: ignore[arg-type]
    return row


def test_messy_values_are_normalised_and_reported(tmp_path: Path) -> None:
    db = _carrier_store(tmp_path)
    rows = [_bill("qx-3100-001697", currency="usd", declared_value="556.636"),
            _bill("9400 1000 0000 0000 0000 06", hs6="8518.30")]
    report = import_path(db, "carrier", "house_bills",
                         write_csv(tmp_path / "hb.csv", "house_bills", rows), progress=False)
    stored = {r["house_bill"]: r for r in stored_rows(db, "house_bills")}
    assert set(stored) == {"QX3100001697", IMPB}
    assert stored["QX3100001697"]["currency"] == "USD"
    assert stored["QX3100001697"]["declared_value"] == 556.64
    assert stored[IMPB]["hs6"] == "851830"
    assert report.normalised["house_bills.house_bill: separators and spaces removed, "
                             "upper case"] == 2
    assert report.normalised["house_bills.declared_value: rounded half-even to cents"] == 1
    assert report.lossy == ((str(tmp_path / "hb.csv"), 2, "declared_value", "556.636", "556.64"),)


def test_a_22_digit_postal_tracking_number_is_a_house_bill_in_json_too(tmp_path: Path) -> None:
    db = _carrier_store(tmp_path)
    path = write_jsonl(tmp_path / "house_bills.jsonl", "house_bills", [_bill(IMPB)])
    import_path(db, "carrier", None, path, progress=False)
    assert [r["house_bill"] for r in stored_rows(db, "house_bills")] == [IMPB]


def _messy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "carrier"
    folder.mkdir()
    write_csv(folder / "masters.csv", "masters", SAMPLES["masters"])
    write_csv(folder / "house_bills.csv", "house_bills", [
        _bill("HB0001"),
        _bill("HB0002", consignee_address=""),          # line 3: refused
        _bill("HB0003", weight_kg="heavy"),             # line 4: refused
        _bill("HB0004"),
    ])
    items = [dict(SAMPLES["house_bill_items"][0], house_bill=b, item_no=n)
             for b in ("HB0001", "HB0002", "HB0003") for n in (1, 2)]
    items.append(dict(SAMPLES["house_bill_items"][0], house_bill="HB0009", item_no=1))
    write_csv(folder / "house_bill_items.csv", "house_bill_items", items)
    return folder


def test_quarantine_keeps_every_good_row_and_reports_every_bad_row_once(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = _messy_folder(tmp_path)
    rejects = tmp_path / "rejects"
    report = import_path(db, "carrier", None, folder, quarantine=rejects, progress=False)
    assert sorted(str(r["house_bill"]) for r in stored_rows(db, "house_bills")) == [
        "HB0001", "HB0004"]
    assert sorted(str((r["house_bill"], r["item_no"]))
                  for r in stored_rows(db, "house_bill_items")) == [
        str(("HB0001", 1)), str(("HB0001", 2))]
    with (rejects / "house_bills.csv").open(newline="") as f:
        bills = list(csv.DictReader(f))
    assert [b["house_bill"] for b in bills] == ["HB0002", "HB0003"]
    assert bills[0]["import_error"].endswith("house_bills.csv:3: consignee_address: is missing "
                                             "(expected text)")
    assert "house_bills.csv:4: weight_kg: 'heavy'" in bills[1]["import_error"]
    with (rejects / "house_bill_items.csv").open(newline="") as f:
        items = list(csv.DictReader(f))
    # each dependant once, with its parent's line, not as a foreign-key error
    assert [(i["house_bill"], i["item_no"]) for i in items] == [
        ("HB0002", "1"), ("HB0002", "2"), ("HB0003", "1"), ("HB0003", "2"), ("HB0009", "1")]
    assert "house_bills row refused in this import" in items[0]["import_error"]
    assert "house_bills.csv:3" in items[0]["import_error"]
    assert "is not in house_bills" in items[4]["import_error"]
    assert [(f.table, f.rows_read, f.rows_inserted, f.rows_rejected) for f in report.files] == [
        ("masters", 3, 3, 0), ("house_bills", 4, 2, 2), ("house_bill_items", 7, 2, 5)]
    assert sum(report.rejected.values()) == 7
    # the fixed rejects import as they are (the import_error column is ignored)
    fixed = (rejects / "house_bills.csv").read_text().replace(",heavy,", ",1.5,")
    fixed = fixed.replace("Jane Roe,,", "Jane Roe,2 Side St,")
    (rejects / "house_bills.csv").write_text(fixed)
    again = import_path(db, "carrier", None, rejects, quarantine=tmp_path / "r2",
                        progress=False)
    assert again.rows_inserted == {"house_bills": 2, "house_bill_items": 4}
    assert [p.name for p in (tmp_path / "r2").iterdir()] == ["house_bill_items.csv"]
    assert "HB0009" in (tmp_path / "r2" / "house_bill_items.csv").read_text()


def test_default_import_stays_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with pytest.raises(DataError, match="nothing was written"):
        import_path(db, "carrier", None, _messy_folder(tmp_path), progress=False)
    assert stored_rows(db, "masters") == []


def test_interrupted_quarantine_import_leaves_store_and_rejects_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = _messy_folder(tmp_path)
    open_store(db, "carrier").close()
    before = dump(db)
    with pytest.raises(FedtradeError, match="test hook"):
        import_path(db, "carrier", None, folder, quarantine=tmp_path / "rejects",
                    progress=False, fail_after_rows=3)
    assert dump(db) == before
    assert list((tmp_path / "rejects").iterdir()) == []


def test_max_rejects_aborts_a_quarantine_import(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = _messy_folder(tmp_path)
    with pytest.raises(DataError, match=r"7 of 14 rows were refused, more than --max-rejects 40%"):
        import_path(db, "carrier", None, folder, quarantine=tmp_path / "r",
                    max_rejects=RejectLimit.parse("40%"), progress=False)
    assert stored_rows(db, "masters") == []
    assert (tmp_path / "r" / "house_bills.csv").exists()
    report = import_path(db, "carrier", None, folder, quarantine=tmp_path / "r",
                         max_rejects=RejectLimit.parse("7"), progress=False)
    assert report.rows_inserted["house_bills"] == 2
    with pytest.raises(DataError, match="--max-rejects"):
        RejectLimit.parse("lots")


def test_cli_quarantine_with_json_report(
    tmp_path: Path, federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    config = federation.node_configs[NODE_IDS["carrier"]]
    folder = _messy_folder(tmp_path)
    code = node_main(["import", "--config", str(config), str(folder), "--quarantine",
                      str(tmp_path / "rej"), "--report", str(tmp_path / "report.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 rows refused" in out
    assert "refused rows written to" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert [f["rejected"] for f in report["files"]] == [0, 2, 5]
    assert sum(report["rejected_by_reason"].values()) == 7
