"""The manifest's own consignee totals: sliding windows, one consignee however it is
spelt, and known forwarding addresses that are never a split (issue 12)."""

from __future__ import annotations

import csv
from pathlib import Path

from fedtrade.coordinator.linkage import _Group, manifest_totals
from fedtrade.coordinator.manifest import (
    MANIFEST_COLUMNS,
    Batch,
    ManifestScan,
    SplitRule,
    scan_manifest,
)
from fedtrade.protocol.matching import normalize_address
from fedtrade.protocol.rates import RateTable

_FORWARDER = "4299 Express Lane, Suite 100, Sarasota FL"
_ROWS = [  # house bill, name, address, arrival day, declared USD
    ("HB0001", "Jane Roe", "12 Main Street, Apt 4, Springfield IL", "2026-11-01", 300.0),
    ("HB0002", "MS JANE ROE", "12 MAIN ST APARTMENT 4 SPRINGFIELD IL", "2026-11-03", 350.0),
    ("HB0003", "Roe, Jane", "12 Main St. #4, Springfield, IL", "2026-11-04", 200.0),
    ("HB0004", "Parcel Forward LLC", _FORWARDER, "2026-11-01", 500.0),
    ("HB0005", "PARCEL FORWARD LLC", "4299 EXPRESS LN STE 100 SARASOTA FL", "2026-11-02", 450.0),
]


def _scan(
    tmp_path: Path, window: int, forwarders: frozenset[str] = frozenset()
) -> tuple[ManifestScan, Batch, list[str]]:
    path = tmp_path / "manifest.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, MANIFEST_COLUMNS)
        writer.writeheader()
        for bill, name, address, day, usd in _ROWS:
            writer.writerow({"house_bill": bill, "mawb": "02012345675", "consignee_name": name,
                             "consignee_address": address, "shipper_name": "Acme",
                             "shipper_country": "CN", "origin_country": "CN",
                             "declared_value": f"{usd:.2f}", "currency": "USD",
                             "hs6": "851830", "arrival_date": day})
    rates = RateTable.constant({"USD": 1.0})
    scan = scan_manifest(path, rates, split=SplitRule(800.0, window, forwarders))
    (batch,) = scan.batches(100)
    flagged = [bill for i, bill in enumerate(batch.house_bill)
               if "split_shipment" in batch.manifest_only_patterns(i)]
    return scan, batch, flagged


def test_a_window_of_days_sees_a_split_one_day_cannot(tmp_path: Path) -> None:
    _, _, per_day = _scan(tmp_path, 1)
    assert per_day == []  # never two parcels of one consignee on one day
    _, _, three_days = _scan(tmp_path, 3)
    # 1-3 Nov: 300 + 350 = 650; 3-5 Nov: 350 + 200 = 550; the forwarder 950 in 1-3 Nov
    assert three_days == ["HB0004", "HB0005"]
    _, _, four_days = _scan(tmp_path, 4)
    assert four_days == ["HB0001", "HB0002", "HB0003", "HB0004", "HB0005"]  # 850 in 1-4 Nov


def test_a_known_forwarding_address_is_no_split(tmp_path: Path) -> None:
    forwarders = frozenset({normalize_address(_FORWARDER)})
    _, batch, flagged = _scan(tmp_path, 4, forwarders)
    assert flagged == ["HB0001", "HB0002", "HB0003"]
    assert batch.at_forwarder.tolist() == [False, False, False, True, True]


def test_the_manifest_total_joins_the_nodes_totals_as_a_role(tmp_path: Path) -> None:
    scan, batch, _ = _scan(tmp_path, 4)
    jane = int(batch.consignee[0])
    assert int(batch.consignee[1]) == int(batch.consignee[2]) == jane  # however spelt
    # the nodes placed two of Jane Roe's parcels in a group; the manifest knows her third
    forwarder = int(batch.consignee[3])
    manifest, later, both, none = manifest_totals(scan, [
        ({jane}, "2026-11-01"), ({jane}, "2026-11-02"), ({forwarder, jane}, "2026-11-01"),
        (set(), "2026-11-01")])
    assert manifest == (3, 850.0)
    assert later == (2, 550.0)
    assert both == (5, 1800.0)
    assert none == (0, 0)
    group = _Group({"carrier-1": ("carrier", 2, 650.0), "carrier-2": ("carrier", 1, 100.0),
                    "broker-1": ("broker", 2, 640.0)}, {"HB0001", "HB0002"})
    # per role: carrier 750 (two carriers), broker 640, manifest 850: the largest counts
    assert group.value_usd(manifest) == (850.0, 3, "manifest")
    assert group.value_usd((0, 0.0)) == (750.0, 3, "carrier")
