"""The synthetic federation layout: files, identifiers, determinism, refusals."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fedtrade.node.store import identifiers as ids
from fedtrade.protocol.matching import normalize_consignee
from fedtrade.sim.synth import PATTERNS, RiskRates, generate
from fedtrade.sim.synth.confounders import MIXES
from fedtrade.sim.synth.writer import CHUNK_SHIPMENTS, COLUMNS
from fedtrade.trust.errors import DataError

LAYOUT = {
    "marketplace/sellers.csv", "marketplace/seller_links.csv", "marketplace/listings.csv",
    "marketplace/orders.csv", "marketplace/order_lines.csv", "marketplace/fulfillments.csv",
    "marketplace/recalled_products.csv", "carrier/masters.csv", "carrier/house_bills.csv",
    "carrier/house_bill_items.csv", "broker/entries.csv", "broker/entry_lines.csv",
    "broker/entity_list.csv", "manifest.csv", "ground_truth.csv", "synth.json",
    "marketplace/parcel_lines.csv", "confounders.csv", "broker/entry_house_bills.csv",
    "forwarders.csv",
}

# Every identifier column of every file, with the node's own validator for it.
VALIDATORS: dict[str, Callable[[str], None]] = {
    "mawb": ids.validate_mawb,
    "hs6": ids.validate_hs6,
    "hs6_hint": ids.validate_hs6,
    "hts10": ids.validate_hts10,
    "entry_number": ids.validate_entry_number,
    "gtin": ids.validate_gtin,
    "mid": ids.validate_mid,
    "country": ids.validate_country,
    "shipper_country": ids.validate_country,
    "origin_country": ids.validate_country,
    "currency": ids.validate_currency,
    "origin_airport": ids.validate_airport,
    "destination_airport": ids.validate_airport,
    "port_code": ids.validate_port_code,
    "house_bill": ids.validate_house_bill,
    "flight_no": ids.validate_flight_no,
    "carrier_code": ids.validate_carrier_code,
}


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "synth"
    generate(out, shipments=1500, seed=3, progress=False)
    return out


def test_layout_is_the_documented_one(small: Path) -> None:
    files = {str(p.relative_to(small)) for p in small.rglob("*") if p.is_file()}
    assert files == LAYOUT
    for name, columns in COLUMNS.items():
        with (small / f"{name}.csv").open(encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == list(columns)


def test_every_identifier_validates(small: Path) -> None:
    checked = 0
    for path in small.rglob("*.csv"):
        for row in _read(path):
            for column, value in row.items():
                if column in VALIDATORS and value:
                    VALIDATORS[column](value)
                    checked += 1
    assert checked > 30_000


def test_identifiers_are_unique_where_they_are_keys(small: Path) -> None:
    for name, column in [
        ("manifest", "house_bill"), ("carrier/masters", "mawb"),
        ("broker/entries", "entry_number"), ("marketplace/listings", "listing_id"),
        ("marketplace/recalled_products", "gtin"), ("broker/entity_list", "mid"),
    ]:
        values = [row[column] for row in _read(small / f"{name}.csv") if row[column]]
        assert len(values) == len(set(values)), f"{name}.{column} repeats a value"
    gtins = [r["gtin"] for r in _read(small / "marketplace/listings.csv") if r["gtin"]]
    assert len(gtins) == len(set(gtins))


def test_values_look_real(small: Path) -> None:
    origins = {row["origin_country"] for row in _read(small / "manifest.csv")}
    assert {"CN", "HK", "VN", "IN", "TR", "GB", "DE", "MX", "KR", "JP"} <= origins
    currencies = {row["currency"] for row in _read(small / "marketplace/orders.csv")}
    assert {"USD", "EUR", "CNY", "GBP"} <= currencies
    chapters = {row["hs6"][:2] for row in _read(small / "carrier/house_bills.csv")}
    assert {"61", "62", "64", "95", "84", "85", "33", "71", "87", "94"} <= chapters
    prefixes = {row["mawb"][:3] for row in _read(small / "carrier/masters.csv")}
    assert len(prefixes) >= 10


def test_synth_json_records_the_parameters(small: Path) -> None:
    settings = json.loads((small / "synth.json").read_text(encoding="utf-8"))
    assert settings["seed"] == 3
    assert settings["shipments"] == 1500
    assert settings["threshold_usd"] == 800.0
    assert settings["rates"] == RiskRates().as_dict()
    assert settings["days"] == 14


def test_same_parameters_give_identical_files(tmp_path: Path, small: Path) -> None:
    generate(tmp_path / "again", shipments=1500, seed=3, progress=False)
    assert _digests(tmp_path / "again") == _digests(small)


def test_another_seed_gives_another_world(tmp_path: Path, small: Path) -> None:
    generate(tmp_path / "other", shipments=1500, seed=4, progress=False)
    mine, theirs = _digests(small), _digests(tmp_path / "other")
    # without a confounder mix, these are the header alone in every world
    alone = {"confounders.csv", "broker/entry_house_bills.csv"}
    assert all(mine[name] != theirs[name] for name in mine if name not in alone)


def test_output_does_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    shipments = 2 * CHUNK_SHIPMENTS + 7  # three chunks, the last one tiny
    one = generate(tmp_path / "one", shipments=shipments, seed=9, workers=1, progress=False)
    two = generate(tmp_path / "two", shipments=shipments, seed=9, workers=2, progress=False)
    assert _digests(tmp_path / "one") == _digests(tmp_path / "two")
    assert one.rows == two.rows
    assert one.rows["manifest"] == shipments


def test_threshold_zero_disables_split_shipments(tmp_path: Path) -> None:
    summary = generate(tmp_path / "out", shipments=500, seed=1, threshold_usd=0,
                       rates=RiskRates(split_shipment=0.5), progress=False)
    assert summary.patterns["split_shipment"] == 0
    types = {row["entry_type"] for row in _read(tmp_path / "out/broker/entries.csv")}
    assert "86" not in types


def test_a_rate_of_one_plants_the_pattern_everywhere(tmp_path: Path) -> None:
    rates = RiskRates(**{**dict.fromkeys(PATTERNS, 0.0), "unverified_seller": 1.0})
    summary = generate(tmp_path / "out", shipments=300, seed=2, rates=rates, progress=False)
    assert summary.patterns == {p: 300 if p == "unverified_seller" else 0 for p in PATTERNS}
    report = str(summary)
    assert report.startswith(f"wrote 300 shipments (seed 2, arrivals {summary.first_arrival}")
    assert "  unverified_seller: 300" in report
    assert "  manifest.csv: 300 rows" in report


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path / "out", shipments=50, seed=1, progress=True)
    captured = capsys.readouterr()
    assert "synth" in captured.err
    assert captured.out == ""


def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DataError, match="is not empty; choose a new --out folder"):
        generate(out, shipments=10, seed=1, progress=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    with pytest.raises(DataError, match="is not a folder"):
        generate(out / "keep.txt", shipments=10, seed=1, progress=False)


def test_an_empty_existing_folder_is_used(tmp_path: Path) -> None:
    generate(tmp_path, shipments=10, seed=1, progress=False)
    assert (tmp_path / "manifest.csv").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shipments": 0}, "shipments=0 is out of range"),
        ({"seed": -1}, "seed=-1 is not a whole number"),
        ({"threshold_usd": -5.0}, "threshold_usd=-5.0 is not an amount"),
        ({"threshold_usd": 10.0}, "too low to plant split shipments"),
        ({"days": 0}, "days=0 is out of range"),
    ],
)
def test_bad_parameters_are_refused_before_writing(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    params: dict[str, Any] = {"shipments": 10, "seed": 1, **kwargs}
    with pytest.raises(DataError, match=message):
        generate(tmp_path / "out", progress=False, **params)
    assert not (tmp_path / "out").exists()


def test_confounders_are_labelled_and_leave_violations_alone(tmp_path: Path) -> None:
    """A confounder mix adds honest risk-like signals, each listed with its shipment; the
    "none" mix labels nothing (each confounder is checked in test_confounders.py)."""
    plain = tmp_path / "plain"
    mixed = tmp_path / "mixed"
    generate(plain, shipments=800, seed=5, progress=False)
    generate(mixed, shipments=800, seed=5, progress=False, confounders=MIXES["heavy"])
    assert (plain / "confounders.csv").read_text() == "house_bill,confounder\n"
    assert (plain / "broker" / "entry_house_bills.csv").read_text() == \
        "entry_number,house_bill\n"
    confounded: dict[str, set[str]] = {}
    for row in _read(mixed / "confounders.csv"):
        confounded.setdefault(row["house_bill"], set()).add(row["confounder"])
    # frequent buyers: honest (no split planted), one consignee's parcels within 3 days,
    # together over the threshold: the split rule's own signal on an honest consignee
    truth = {(r["house_bill"], r["pattern"]) for r in _read(mixed / "ground_truth.csv")}
    buyers: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in _read(mixed / "manifest.csv"):
        if "frequent_buyer" in confounded.get(row["house_bill"], ()):
            assert (row["house_bill"], "split_shipment") not in truth
            key = normalize_consignee(row["consignee_name"], row["consignee_address"])
            buyers.setdefault(key, []).append(row)
    assert buyers
    for rows in buyers.values():
        days = sorted(date.fromisoformat(r["arrival_date"]) for r in rows)
        assert len(rows) >= 2
        assert (days[-1] - days[0]).days <= 2
        if all(r["currency"] == "USD" for r in rows):
            assert sum(float(r["declared_value"]) for r in rows) > 800
