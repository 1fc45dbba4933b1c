"""Confounders (issue 12): each one present at roughly its configured rate, with its own
label in confounders.csv, and honest: the confounder itself never plants a violation."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from fedtrade.protocol.matching import normalize_address, normalize_consignee
from fedtrade.sim.synth import RiskRates, generate
from fedtrade.sim.synth.confounders import (
    CONFOUNDERS,
    MIXES,
    TUNING,
    ConfounderMix,
    mix_named,
)
from fedtrade.sim.synth.world import Params, build_world
from fedtrade.trust.errors import DataError

SHIPMENTS = 4000
MIX = MIXES["heavy"]
VIOLATIONS = {"undervaluation", "split_shipment", "misclassification",
              "linked_suspended_seller", "recalled_product", "entity_list_manufacturer",
              "unscreened", "manifest_entry_gap"}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class World:
    """One generated world, read once: its files keyed the way the checks need them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.labels: dict[str, set[str]] = defaultdict(set)
        for row in _read(root / "confounders.csv"):
            self.labels[row["house_bill"]].add(row["confounder"])
        self.truth: dict[str, set[str]] = defaultdict(set)
        for row in _read(root / "ground_truth.csv"):
            self.truth[row["house_bill"]].add(row["pattern"])
        self.manifest = {r["house_bill"]: r for r in _read(root / "manifest.csv")}
        self.order_of = {r["house_bill"]: r["order_id"]
                         for r in _read(root / "marketplace" / "fulfillments.csv")}
        self.orders = {r["order_id"]: r for r in _read(root / "marketplace" / "orders.csv")}
        self.lines = {(r["order_id"], r["line_no"]): r
                      for r in _read(root / "marketplace" / "order_lines.csv")}
        self.parcel_lines: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in _read(root / "marketplace" / "parcel_lines.csv"):
            self.parcel_lines[row["house_bill"]].append(row)
        self.listings = {r["listing_id"]: r for r in _read(root / "marketplace" / "listings.csv")}
        self.entries = {r["entry_number"]: r for r in _read(root / "broker" / "entries.csv")}
        self.entry_of = {r["house_bill"]: n for n, r in self.entries.items()}
        self.covered: dict[str, set[str]] = defaultdict(set)
        for row in _read(root / "broker" / "entry_house_bills.csv"):
            self.entry_of[row["house_bill"]] = row["entry_number"]
            self.covered[row["entry_number"]].add(row["house_bill"])
        self.forwarders = {normalize_address(r["address"])
                           for r in _read(root / "forwarders.csv")}

    def with_label(self, label: str) -> list[str]:
        return [bill for bill in self.manifest if label in self.labels[bill]]

    def share(self, label: str) -> float:
        return len(self.with_label(label)) / len(self.manifest)

    def goods_paid(self, bill: str) -> float:
        return sum(float(self.lines[row["order_id"], row["line_no"]]["amount_paid"])
                   * int(row["quantity"]) / int(self.lines[row["order_id"],
                                                           row["line_no"]]["quantity"])
                   for row in self.parcel_lines[bill])


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("heavy") / "world"
    generate(root, shipments=SHIPMENTS, seed=11, progress=False, workers=1, confounders=MIX)
    return World(root)


def test_every_confounder_is_labelled(heavy: World) -> None:
    assert {c for found in heavy.labels.values() for c in found} == set(CONFOUNDERS)


@pytest.mark.parametrize("label", [
    "shipping_over_goods", "coupon", "flash_sale", "other_broker", "late_entry",
    "pending_preload", "off_platform", "forwarder", "multi_parcel", "multi_seller",
    "consolidated_entry", "frequent_buyer",
])
def test_each_confounder_comes_at_roughly_its_rate(heavy: World, label: str) -> None:
    # Rates are upper bounds: a confounder is left out where it cannot fit the shipment
    # (a coupon on a split group sized on full prices, a late entry for an entry-gap
    # shipment, an order that would cross the threshold in two parcels, ...).
    rate = getattr(MIX, label)
    assert 0.45 * rate <= heavy.share(label) <= 1.25 * rate, heavy.share(label)


def test_upc_listings_come_at_their_rate_and_recall_lists_carry_the_ean_form(
    heavy: World,
) -> None:
    world = build_world(Params(SHIPMENTS, 11, RiskRates(), 800.0, 14, MIX))
    with_gtin = sum(1 for row in world.listings.rows if row[5])
    assert 0.6 * MIX.upc_ean <= len(world.upc_listings) / with_gtin <= 1.4 * MIX.upc_ean
    upc = {world.listings.id[i]: world.listings.rows[i][5] for i in world.upc_listings}
    assert all(len(gtin) == 12 for gtin in upc.values())
    recalled = {r["gtin"] for r in _read(heavy.root / "marketplace" / "recalled_products.csv")}
    assert not recalled & set(upc.values())  # never the listing's own 12-digit form
    for bill in heavy.with_label("upc_ean"):
        order = heavy.order_of.get(bill)
        if order is not None:
            listed = [heavy.lines[order, r["line_no"]]["listing_id"]
                      for r in heavy.parcel_lines[bill]]
            assert set(listed) & set(upc)
    # recalled UPC listings: the recall list names them in their EAN-13 form only
    assert {"0" + gtin for gtin in upc.values()} & recalled


def test_money_confounders_declare_what_was_paid_for_the_goods(heavy: World) -> None:
    checked = 0
    listing_price = {line_id: float(row["price"]) for line_id, row in heavy.listings.items()}
    for label in ("shipping_over_goods", "coupon", "flash_sale"):
        for bill in heavy.with_label(label):
            row = heavy.manifest[bill]
            order = heavy.orders[heavy.order_of[bill]]
            if "undervaluation" in heavy.truth[bill] or row["currency"] != order["currency"]:
                continue
            paid = heavy.goods_paid(bill)
            # honest: the declaration is (within the generator's 5 % noise) the goods paid
            assert 0.94 * paid <= float(row["declared_value"]) <= 1.01 * paid
            checked += 1
            if label == "shipping_over_goods":
                assert float(order["total_paid"]) > 2 * paid
            lines = [heavy.lines[order["order_id"], r["line_no"]]
                     for r in heavy.parcel_lines[bill]]
            if label == "flash_sale":  # the day's price under the listing's
                assert all(float(li["unit_price"]) < listing_price[li["listing_id"]]
                           for li in lines)
            if label == "coupon":  # list price, paid less
                assert all(float(li["amount_paid"])
                           < float(li["unit_price"]) * int(li["quantity"]) for li in lines)
    assert checked > 300


def test_missing_and_consolidated_entries_are_no_planted_gap(heavy: World) -> None:
    for label in ("other_broker", "late_entry"):
        bills = heavy.with_label(label)
        assert bills
        for bill in bills:
            assert bill not in heavy.entry_of
            assert "manifest_entry_gap" not in heavy.truth[bill]
    consolidated = heavy.with_label("consolidated_entry")
    assert heavy.covered
    for bill in consolidated:
        assert "manifest_entry_gap" not in heavy.truth[bill]
        entry = heavy.entry_of[bill]
        assert heavy.covered[entry]  # an entry covering several house bills
    for entry, others in heavy.covered.items():
        covered = {heavy.entries[entry]["house_bill"], *others}
        assert all("consolidated_entry" in heavy.labels[b] for b in covered)
        rows = [heavy.manifest[b] for b in covered]
        if all(r["currency"] == "USD" for r in rows):
            total = sum(float(r["declared_value"]) for r in rows)
            assert float(heavy.entries[entry]["total_value_usd"]) == pytest.approx(total,
                                                                                abs=0.05)
        assert len({r["mawb"] for r in rows}) == 1  # one master, one seller's parcels


def test_orders_in_several_parcels_are_one_order_under_the_threshold(heavy: World) -> None:
    by_order: dict[str, list[str]] = defaultdict(list)
    for bill, order in heavy.order_of.items():
        by_order[order].append(bill)
    for label in ("multi_parcel", "multi_seller"):
        bills = heavy.with_label(label)
        orders = {heavy.order_of[b] for b in bills}
        assert len(orders) == len(bills) / 2
        for order in orders:
            parcels = by_order[order]
            assert len(parcels) == 2
            assert not any("split_shipment" in heavy.truth[b] for b in parcels)
            rows = [heavy.manifest[b] for b in parcels]
            if all(r["currency"] == "USD" for r in rows):
                assert sum(float(r["declared_value"]) for r in rows) < 800
            # the order's lines are shared out between its parcels, none twice
            lines = [(r["order_id"], r["line_no"]) for b in parcels
                     for r in heavy.parcel_lines[b]]
            assert sorted(lines) == sorted(k for k in heavy.lines if k[0] == order)
            shippers = {r["shipper_name"] for r in rows}
            assert len(shippers) == (2 if label == "multi_seller" else 1)


def test_off_platform_parcels_are_unknown_to_the_marketplace(heavy: World) -> None:
    bills = heavy.with_label("off_platform")
    assert bills
    assert not set(bills) & set(heavy.order_of)
    assert not set(bills) & set(heavy.parcel_lines)


def test_forwarders_hold_many_honest_parcels_at_one_listed_address(heavy: World) -> None:
    consignees: Counter[tuple[str, str]] = Counter()
    for bill in heavy.with_label("forwarder"):
        row = heavy.manifest[bill]
        assert normalize_address(row["consignee_address"]) in heavy.forwarders
        assert "split_shipment" not in heavy.truth[bill]
        consignees[normalize_consignee(row["consignee_name"], row["consignee_address"])] += 1
    assert max(consignees.values()) > 20  # far over the threshold in any window
    others = [b for b in heavy.manifest if "forwarder" not in heavy.labels[b]]
    assert not any(normalize_address(heavy.manifest[b]["consignee_address"]) in heavy.forwarders
                   for b in others)


def test_name_variants_are_labelled_exactly_where_the_parties_spell_differently(
    heavy: World,
) -> None:
    labelled = 0
    for bill, row in heavy.manifest.items():
        order = heavy.orders.get(heavy.order_of.get(bill, ""))
        entry = heavy.entries.get(heavy.entry_of.get(bill, ""))
        if order is None or entry is None or heavy.entries[heavy.entry_of[bill]]["house_bill"] \
                != bill or "multi_parcel" in heavy.labels[bill] \
                or "multi_seller" in heavy.labels[bill]:
            continue  # three spellings of this bill's consignee to compare
        spellings = {(row["consignee_name"], row["consignee_address"]),
                     (order["buyer_name"], order["buyer_address"]),
                     (entry["consignee_name"], entry["consignee_address"])}
        variant = "name_variant" in heavy.labels[bill]
        labelled += variant
        assert variant == (len(spellings) > 1)
        # every spelling is the same consignee once normalised
        assert len({normalize_consignee(*s) for s in spellings}) == 1
    assert labelled > 500


def test_honest_new_and_unverified_sellers_carry_no_violation(heavy: World) -> None:
    for label, pattern in (("honest_new_seller", "new_seller"),
                           ("honest_unverified_seller", "unverified_seller")):
        bills = heavy.with_label(label)
        assert len(bills) >= 0.5 * getattr(MIX, label) * SHIPMENTS
        for bill in bills:
            assert pattern in heavy.truth[bill]  # the seller property, an indicator
            assert not heavy.truth[bill] & VIOLATIONS


def test_mixes_are_named_and_checked() -> None:
    assert {"none", "realistic", "heavy", "skewed"} <= set(MIXES)
    assert mix_named("skewed") is MIXES["skewed"]
    assert TUNING == ((1, "realistic"),)  # the README's evaluation names the same
    with pytest.raises(DataError, match="unknown confounder mix 'spicy'; known mixes"):
        mix_named("spicy")
    with pytest.raises(DataError, match=r"coupon=1\.5 is not a fraction"):
        ConfounderMix(coupon=1.5)
