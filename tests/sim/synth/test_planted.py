"""Planted patterns, checked in the stores the nodes would hold.

The three role folders are imported with the node's own importer into real
SQLite stores; CBP's manifest is loaded next to them. Each pattern is then
detected with plain SQL over the imported data, and the shipments it finds
must be exactly those the ground truth lists: planted where listed, absent
everywhere else.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fedtrade.node.store.importer import import_path
from fedtrade.sim.synth import PATTERNS, RiskRates, SynthSummary, generate
from fedtrade.sim.synth.codes import FX_PER_USD

ROLES = ("marketplace", "carrier", "broker")
THRESHOLD = 800.0

# Each query returns the house bills showing the pattern in the imported data.
DETECTORS: dict[str, str] = {
    "undervaluation": """
        SELECT f.house_bill FROM fulfillments f
        JOIN orders o USING (order_id)
        JOIN c.house_bills h ON h.house_bill = f.house_bill
        WHERE usd(h.declared_value, h.currency) < 0.4 * usd(o.total_paid, o.currency)""",
    "split_shipment": """
        SELECT h.house_bill FROM c.house_bills h JOIN c.masters m USING (mawb)
        JOIN (
            SELECT norm(h2.consignee_name) AS n, norm(h2.consignee_address) AS a,
                   substr(m2.eta, 1, 10) AS day
            FROM c.house_bills h2 JOIN c.masters m2 USING (mawb)
            GROUP BY n, a, day
            HAVING count(*) > 1
        ) g ON g.n = norm(h.consignee_name) AND g.a = norm(h.consignee_address)
               AND g.day = substr(m.eta, 1, 10)""",
    "misclassification": """
        SELECT DISTINCT f.house_bill FROM fulfillments f
        JOIN order_lines USING (order_id) JOIN listings l USING (listing_id)
        JOIN manifest mf ON mf.house_bill = f.house_bill
        WHERE l.hs6_hint IS NOT NULL AND substr(l.hs6_hint, 1, 2) != substr(mf.hs6, 1, 2)""",
    "unverified_seller": """
        SELECT hb FROM shipment_seller JOIN sellers USING (seller_id) WHERE kyc_verified = 0""",
    "new_seller": """
        SELECT ss.hb FROM shipment_seller ss JOIN sellers s USING (seller_id)
        JOIN fulfillments f ON f.house_bill = ss.hb JOIN orders o USING (order_id)
        WHERE julianday(substr(o.ordered_at, 1, 10)) - julianday(s.registered_at) < 30""",
    "linked_suspended_seller": """
        SELECT ss.hb FROM shipment_seller ss WHERE EXISTS (
            SELECT 1 FROM seller_links k JOIN sellers t
              ON t.seller_id IN (k.seller_id, k.linked_seller_id)
            WHERE ss.seller_id IN (k.seller_id, k.linked_seller_id)
              AND t.seller_id != ss.seller_id AND t.status = 'suspended')""",
    "recalled_product": """
        SELECT DISTINCT f.house_bill FROM fulfillments f
        JOIN order_lines USING (order_id) JOIN listings l USING (listing_id)
        JOIN recalled_products r ON r.gtin = l.gtin""",
    "entity_list_manufacturer": """
        SELECT DISTINCT e.house_bill FROM b.entries e JOIN b.entry_lines el USING (entry_number)
        JOIN b.entity_list x ON x.mid = el.mid""",
    "unscreened": """
        SELECT house_bill FROM c.house_bills WHERE screened = 0 OR preload_status != 'accepted'""",
    "manifest_entry_gap": """
        SELECT mf.house_bill FROM manifest mf LEFT JOIN b.entries e ON e.house_bill = mf.house_bill
        WHERE e.entry_number IS NULL
           OR abs(e.total_value_usd - usd(mf.declared_value, mf.currency))
              > 0.2 * usd(mf.declared_value, mf.currency)""",
}


def norm(text: str | None) -> str | None:
    """The normalization a node applies before hashing a name or address."""
    if text is None:
        return None
    return " ".join(re.sub(r"[.,]", " ", text.upper()).split())


def usd(amount: float, currency: str) -> float:
    return amount / FX_PER_USD[currency]


@dataclass
class Federation:
    out: Path
    summary: SynthSummary
    db: sqlite3.Connection

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, args).fetchall()

    def house_bills(self, sql: str) -> set[str]:
        return {str(row[0]) for row in self.rows(sql)}

    def truth(self, pattern: str) -> set[str]:
        return self.house_bills(f"SELECT house_bill FROM truth WHERE pattern = '{pattern}'")


def _load_csv(db: sqlite3.Connection, table: str, path: Path, numeric: tuple[str, ...]) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        db.execute(f"CREATE TEMP TABLE {table} ({', '.join(columns)})")
        db.executemany(
            f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
            ([float(row[c]) if c in numeric else row[c] for c in columns] for row in reader),
        )


def _federation(root: Path, **kwargs: Any) -> Iterator[Federation]:
    out = root / "synth"
    summary = generate(out, progress=False, **kwargs)
    for role in ROLES:
        import_path(root / f"{role}.db", role, None, out / role, progress=False)
    db = sqlite3.connect(root / "marketplace.db")
    db.execute("ATTACH DATABASE ? AS c", (str(root / "carrier.db"),))
    db.execute("ATTACH DATABASE ? AS b", (str(root / "broker.db"),))
    db.create_function("usd", 2, usd, deterministic=True)
    db.create_function("norm", 1, norm, deterministic=True)
    _load_csv(db, "manifest", out / "manifest.csv", ("declared_value",))
    _load_csv(db, "truth", out / "ground_truth.csv", ())
    db.execute("""
        CREATE TEMP VIEW shipment_seller AS
        SELECT DISTINCT f.house_bill AS hb, l.seller_id FROM fulfillments f
        JOIN order_lines USING (order_id) JOIN listings l USING (listing_id)""")
    yield Federation(out, summary, db)
    db.close()


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    rates = RiskRates(**dict.fromkeys(PATTERNS, 0.05))
    yield from _federation(
        tmp_path_factory.mktemp("fed"), shipments=2000, seed=11, rates=rates,
        threshold_usd=THRESHOLD,
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    zero = RiskRates(**dict.fromkeys(PATTERNS, 0.0))
    yield from _federation(tmp_path_factory.mktemp("clean"), shipments=400, seed=5, rates=zero)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pattern_shows_exactly_where_planted(fed: Federation, pattern: str) -> None:
    planted = fed.truth(pattern)
    assert len(planted) >= 10, f"too few {pattern} shipments planted to test"
    assert fed.house_bills(DETECTORS[pattern]) == planted


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Half of all shipments carry each pattern: heavy co-occurrence, short window."""
    rates = RiskRates(**dict.fromkeys(PATTERNS, 0.5))
    yield from _federation(
        tmp_path_factory.mktemp("dense"), shipments=1200, seed=23, rates=rates, days=3,
        threshold_usd=150.0,
    )


@pytest.mark.parametrize("pattern", PATTERNS)
def test_co_occurring_patterns_show_exactly_where_planted(dense: Federation, pattern: str) -> None:
    planted = dense.truth(pattern)
    assert 400 <= len(planted) <= 800
    assert dense.house_bills(DETECTORS[pattern]) == planted


@pytest.mark.parametrize("pattern", PATTERNS)
def test_zero_rates_plant_nothing(clean: Federation, pattern: str) -> None:
    assert clean.truth(pattern) == set()
    assert clean.house_bills(DETECTORS[pattern]) == set()


def test_summary_counts_match_ground_truth(fed: Federation) -> None:
    for pattern in PATTERNS:
        assert fed.summary.patterns[pattern] == len(fed.truth(pattern))
    assert fed.rows("SELECT count(*) FROM truth")[0][0] == sum(fed.summary.patterns.values())
    assert fed.rows(
        "SELECT count(*) FROM (SELECT DISTINCT house_bill, pattern FROM truth)"
    )[0][0] == sum(fed.summary.patterns.values())


def test_one_shipment_per_manifest_row_seen_by_every_party(fed: Federation) -> None:
    manifest = fed.house_bills("SELECT house_bill FROM manifest")
    assert fed.rows("SELECT count(*) FROM manifest")[0][0] == 2000 == len(manifest)
    assert fed.house_bills("SELECT house_bill FROM fulfillments") == manifest
    assert fed.house_bills("SELECT house_bill FROM c.house_bills") == manifest
    assert fed.house_bills("SELECT house_bill FROM truth") <= manifest
    missing = manifest - fed.house_bills("SELECT house_bill FROM b.entries")
    assert missing <= fed.truth("manifest_entry_gap")
    assert fed.rows("SELECT count(*) FROM orders")[0][0] == 2000


def test_manifest_repeats_the_carrier_data(fed: Federation) -> None:
    assert fed.rows("""
        SELECT count(*) FROM manifest mf JOIN c.house_bills h USING (house_bill)
        JOIN c.masters m ON m.mawb = h.mawb
        WHERE mf.mawb != h.mawb OR mf.hs6 != h.hs6 OR mf.declared_value != h.declared_value
           OR mf.currency != h.currency OR mf.consignee_name != h.consignee_name
           OR mf.origin_country != h.origin_country OR mf.arrival_date != substr(m.eta, 1, 10)
    """)[0][0] == 0


def test_values_agree_across_parties(fed: Federation) -> None:
    # Order lines add up to the order; items and entry lines add up to their headers.
    assert fed.rows("""
        SELECT count(*) FROM orders o WHERE abs(o.total_paid -
            (SELECT sum(amount_paid) FROM order_lines ol WHERE ol.order_id = o.order_id)) > 0.005
    """)[0][0] == 0
    assert fed.rows("""
        SELECT count(*) FROM c.house_bills h WHERE abs(h.declared_value -
            (SELECT sum(value) FROM c.house_bill_items i WHERE i.house_bill = h.house_bill)) > 0.005
    """)[0][0] == 0
    assert fed.rows("""
        SELECT count(*) FROM b.entries e WHERE abs(e.total_value_usd -
            (SELECT sum(value_usd) FROM b.entry_lines l WHERE l.entry_number = e.entry_number))
            > 0.005
    """)[0][0] == 0
    # Shipments without undervaluation declare 95-100 % of the price paid.
    ratios = fed.rows("""
        SELECT usd(h.declared_value, h.currency) / usd(o.total_paid, o.currency)
        FROM fulfillments f JOIN orders o USING (order_id)
        JOIN c.house_bills h ON h.house_bill = f.house_bill
        WHERE f.house_bill NOT IN (SELECT house_bill FROM truth WHERE pattern = 'undervaluation')
    """)
    assert all(0.94 <= ratio <= 1.01 for (ratio,) in ratios)


def test_undervalued_shipments_are_undervalued_at_every_party(fed: Federation) -> None:
    low = fed.truth("undervaluation")
    broker_low = fed.house_bills("""
        SELECT e.house_bill FROM b.entries e JOIN fulfillments f ON f.house_bill = e.house_bill
        JOIN orders o USING (order_id)
        WHERE e.total_value_usd < 0.4 * usd(o.total_paid, o.currency)""")
    manifest_low = fed.house_bills("""
        SELECT mf.house_bill FROM manifest mf JOIN fulfillments f USING (house_bill)
        JOIN orders o USING (order_id)
        WHERE usd(mf.declared_value, mf.currency) < 0.4 * usd(o.total_paid, o.currency)""")
    with_entry = fed.house_bills("SELECT house_bill FROM b.entries")
    assert broker_low == low & with_entry
    assert manifest_low == low


def test_split_parcels_are_under_the_threshold_and_over_it_together(fed: Federation) -> None:
    groups = fed.rows("""
        SELECT count(*), sum(usd(h.declared_value, h.currency)),
               max(usd(h.declared_value, h.currency)), count(DISTINCT substr(h.mawb, 1, 3)),
               count(DISTINCT h.consignee_address)
        FROM c.house_bills h JOIN c.masters m USING (mawb)
        GROUP BY norm(h.consignee_name), norm(h.consignee_address), substr(m.eta, 1, 10)
        HAVING count(*) > 1""")
    assert groups
    for parcels, total, biggest, prefixes, _ in groups:
        assert 3 <= parcels <= 5
        assert total > THRESHOLD > biggest
        assert prefixes == parcels  # each parcel under another airline's master
    # The spellings differ, so only normalized identities find the groups.
    assert any(spellings > 1 for *_, spellings in groups)


def test_consignee_is_the_same_person_at_every_party(fed: Federation) -> None:
    assert fed.rows("""
        SELECT count(*) FROM fulfillments f JOIN orders o USING (order_id)
        JOIN c.house_bills h ON h.house_bill = f.house_bill
        JOIN b.entries e ON e.house_bill = f.house_bill
        WHERE norm(o.buyer_name) != norm(h.consignee_name)
           OR norm(o.buyer_address) != norm(h.consignee_address)
           OR norm(e.consignee_name) != norm(h.consignee_name)
           OR norm(e.consignee_address) != norm(h.consignee_address)""")[0][0] == 0
    # Raw spellings vary between parties, which is what normalization is for.
    assert fed.rows("""
        SELECT count(*) FROM fulfillments f JOIN orders o USING (order_id)
        JOIN c.house_bills h ON h.house_bill = f.house_bill
        WHERE o.buyer_address != h.consignee_address""")[0][0] > 100


def test_misclassified_codes_disagree_on_every_hinted_line(fed: Federation) -> None:
    agreeing = fed.house_bills("""
        SELECT DISTINCT f.house_bill FROM fulfillments f
        JOIN order_lines USING (order_id) JOIN listings l USING (listing_id)
        JOIN manifest mf ON mf.house_bill = f.house_bill
        WHERE substr(l.hs6_hint, 1, 2) = substr(mf.hs6, 1, 2)""")
    assert not agreeing & fed.truth("misclassification")
    broker_off = fed.house_bills("""
        SELECT DISTINCT e.house_bill FROM b.entries e JOIN b.entry_lines l USING (entry_number)
        JOIN manifest mf ON mf.house_bill = e.house_bill
        WHERE substr(l.hts10, 1, 2) != substr(mf.hs6, 1, 2)""")
    assert broker_off
    assert broker_off <= fed.truth("misclassification")


def test_each_shipment_has_one_seller_and_new_sellers_registered_before_ordering(
    fed: Federation,
) -> None:
    assert fed.rows(
        "SELECT count(*) FROM (SELECT hb FROM shipment_seller GROUP BY hb HAVING count(*) > 1)"
    )[0][0] == 0
    ages = fed.rows("""
        SELECT julianday(substr(o.ordered_at, 1, 10)) - julianday(s.registered_at)
        FROM shipment_seller ss JOIN sellers s USING (seller_id)
        JOIN fulfillments f ON f.house_bill = ss.hb JOIN orders o USING (order_id)""")
    assert all(age >= 1 for (age,) in ages)
    assert all(not 28 < age < 60 for (age,) in ages)


def test_events_happen_in_order(fed: Federation) -> None:
    assert fed.rows("""
        SELECT count(*) FROM fulfillments f JOIN orders o USING (order_id)
        JOIN c.house_bills h ON h.house_bill = f.house_bill JOIN c.masters m ON m.mawb = h.mawb
        WHERE NOT (o.ordered_at < f.shipped_at AND f.shipped_at < m.departure_at
                   AND m.departure_at < m.eta)""")[0][0] == 0
    first, last = fed.summary.first_arrival.isoformat(), fed.summary.last_arrival.isoformat()
    assert fed.rows(
        "SELECT min(arrival_date), max(arrival_date) FROM manifest"
    )[0] == (first, last)


def test_entry_type_follows_the_threshold(fed: Federation) -> None:
    assert fed.rows("""
        SELECT count(*) FROM b.entries WHERE entry_type != CASE
            WHEN total_value_usd <= ? THEN '86' WHEN total_value_usd <= 2500 THEN '11'
            ELSE '01' END""", THRESHOLD)[0][0] == 0
