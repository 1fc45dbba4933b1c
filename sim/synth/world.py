"""The shared pools of the synthetic federation: sellers, listings, manufacturers, masters.

Everything here is built once from the seed, before any shipment is generated,
and is the same whatever the number of worker processes. Shipments only pick
from these pools, so the per-shipment work stays small.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from fedtrade.node.store.identifiers import gtin_check_digit, mawb_check_digit
from fedtrade.sim.synth import codes
from fedtrade.sim.synth.confounders import ConfounderMix
from fedtrade.sim.synth.patterns import RiskRates

__all__ = [
    "COMBO_LINKED",
    "COMBO_NEW",
    "COMBO_UNVERIFIED",
    "MAX_LEAD_DAYS",
    "MIN_LEAD_DAYS",
    "Listings",
    "Masters",
    "Params",
    "Sellers",
    "World",
    "build_world",
    "derive_seed",
    "scramble",
]

# Seller-pattern combination bits: a seller pool exists for each combination.
COMBO_UNVERIFIED = 1
COMBO_NEW = 2
COMBO_LINKED = 4

# Whole days from order to arrival; with flights of at most 17 h this leaves time to ship.
MIN_LEAD_DAYS = 2
MAX_LEAD_DAYS = 7
# A new seller registered 1-28 days before each of its orders; others 60+ days before.
NEW_SELLER_MAX_AGE = 28
OLD_SELLER_MIN_AGE = 60

_SHIPMENTS_PER_MASTER = 250
_MIN_MASTERS_PER_BUCKET = 5  # distinct airline prefixes available to one split group
_FIRST_END_DATE = date(2025, 1, 5)
_COUNTRY_INDICES = range(len(codes.COUNTRIES))


def derive_seed(seed: int, *labels: object) -> int:
    """A seed for one named stream, derived from the user's seed (stable across runs)."""
    text = ":".join(str(part) for part in (seed, *labels))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def scramble(index: int, digits: int, salt: int) -> str:
    """``index`` mapped one-to-one onto ``digits`` decimal digits, looking random."""
    modulus = 10**digits
    # 7_654_321 is odd and not divisible by 5, hence coprime to 10**digits: a bijection.
    return f"{(index * 7_654_321 + salt) % modulus:0{digits}d}"


@dataclass(frozen=True)
class Params:
    """What the user asked for; the whole output is a function of these."""

    shipments: int
    seed: int
    rates: RiskRates
    threshold_usd: float
    days: int
    confounders: ConfounderMix = field(default_factory=ConfounderMix)

    @property
    def end_date(self) -> date:
        """Last arrival date: fixed by the seed, never by the clock."""
        return _FIRST_END_DATE + timedelta(days=self.seed % 364)


@dataclass(frozen=True)
class Sellers:
    """Marketplace sellers, column-wise (index = seller number - 1)."""

    name: tuple[str, ...]
    address: tuple[str, ...]
    country: tuple[int, ...]  # index into codes.COUNTRIES
    currency: tuple[str, ...]
    chapter: tuple[str, ...]
    listings: tuple[tuple[int, ...], ...]  # clean listings
    hinted: tuple[tuple[int, ...], ...]  # clean listings with an HS hint
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Listings:
    """Marketplace listings, column-wise (index = listing number - 1)."""

    id: tuple[str, ...]
    seller: tuple[int, ...]
    code: tuple[int, ...]  # index into codes.HS_CODES
    price: tuple[float, ...]  # in the seller's currency
    price_usd: tuple[float, ...]
    origin: tuple[str, ...]
    mid: tuple[str, ...]  # "" when the broker has no MID for it
    certificate: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Masters:
    """The carrier's master air waybills, column-wise."""

    mawb: tuple[str, ...]
    carrier: tuple[str, ...]
    prefix: tuple[str, ...]
    port: tuple[str, ...]
    departure_s: tuple[int, ...]  # seconds since midnight of World.day0
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class World:
    """All pools shipments draw from; days are offsets from ``day0``."""

    params: Params
    day0: date
    first_arrival: int  # day offset from day0
    sellers: Sellers
    listings: Listings
    masters: Masters
    buckets: Mapping[tuple[int, str], tuple[int, ...]]  # (arrival day, region) -> masters
    sellers_by_combo: Mapping[int, tuple[int, ...]]
    new_sellers: Mapping[tuple[int, int], tuple[int, ...]]  # (combo, order day) -> sellers
    recalled_by_combo: Mapping[int, tuple[int, ...]]  # listings
    recalled_new: Mapping[tuple[int, int], tuple[int, ...]]
    listed_mids: Mapping[str, tuple[str, ...]]  # origin country -> entity-listed MIDs
    decoys: Mapping[str, tuple[int, ...]]  # chapter -> decoy code indices of other chapters
    recalled_rows: tuple[tuple[str, ...], ...]
    entity_rows: tuple[tuple[str, ...], ...]
    link_rows: tuple[tuple[str, ...], ...]
    # listings whose GTIN the marketplace keeps in UPC-12 form (confounder upc_ean)
    upc_listings: frozenset[int] = frozenset()

    def day(self, offset: int) -> str:
        return (self.day0 + timedelta(days=offset)).isoformat()


def _combo_weights(rates: RiskRates) -> dict[int, float]:
    flags = (
        (COMBO_UNVERIFIED, rates.unverified_seller),
        (COMBO_NEW, rates.new_seller),
        (COMBO_LINKED, rates.linked_suspended_seller),
    )
    weights: dict[int, float] = {}
    for combo in range(8):
        weight = 1.0
        for bit, rate in flags:
            weight *= rate if combo & bit else 1.0 - rate
        if weight > 0.0:
            weights[combo] = weight
    return weights


class _Builder:
    """Holds the random stream and growing pools while the world is assembled."""

    def __init__(self, params: Params) -> None:
        self.p = params
        self.rng = random.Random(derive_seed(params.seed, "world"))
        end = params.end_date
        self.first_arrival = MAX_LEAD_DAYS + 1
        self.day0 = end - timedelta(days=params.days - 1 + self.first_arrival)
        self.order_days = range(
            self.first_arrival - MAX_LEAD_DAYS,
            self.first_arrival + params.days - MIN_LEAD_DAYS,
        )
        self.country_weights = [c.weight for c in codes.COUNTRIES]
        self.country_cumulative = list(itertools.accumulate(self.country_weights))
        chapters: dict[str, list[int]] = {}
        for index, code in enumerate(codes.HS_CODES):
            chapters.setdefault(code.chapter, []).append(index)
        self.chapters = chapters
        self.chapter_names = sorted(chapters)
        self.chapter_cumulative = list(
            itertools.accumulate(len(chapters[c]) for c in self.chapter_names)
        )
        self.used_mids: set[str] = set()
        self.used_names: set[str] = set()

    # --- names -------------------------------------------------------------------------

    def company_name(self, country: codes.Country, words: tuple[str, ...],
                     trades: tuple[str, ...]) -> tuple[str, str]:
        """A distinct company name in the country's style, and its two name words."""
        rnd = self.rng.random
        tries = 0
        while True:
            first = words[int(rnd() * len(words))]
            second = words[int(rnd() * len(words))]
            trade = trades[int(rnd() * len(trades))]
            tries += 1
            # Large worlds run out of word combinations: number the later ones.
            number = f" {tries}" if tries > 10 else ""
            name = country.name_pattern.format(f"{first} {second} {trade}{number}")
            if first != second and name not in self.used_names:
                self.used_names.add(name)
                return name, f"{first} {second}"

    def street_address(self, country: codes.Country) -> tuple[str, int, str]:
        rnd = self.rng.random
        number = 1 + int(rnd() * 2999)
        city = country.cities[int(rnd() * len(country.cities))]
        street = codes.CITY_STREETS[int(rnd() * len(codes.CITY_STREETS))]
        return f"{number} {street}, {city}, {country.iso2}", number, city

    def manufacturer(self, country: codes.Country) -> tuple[str, str, str]:
        """(name, address, MID) built the way CBP builds a manufacturer ID."""
        while True:
            name, words = self.company_name(
                country, codes.MANUFACTURER_WORDS, codes.MANUFACTURER_TRADES
            )
            address, number, city = self.street_address(country)
            first, second = (w.upper() for w in words.split())
            city_letters = "".join(ch for ch in city.upper() if ch.isalpha())[:3]
            mid = f"{country.mid_prefix}{first[:3]}{second[:3]}{number}{city_letters}"[:15]
            if mid not in self.used_mids:
                self.used_mids.add(mid)
                return name, address, mid

    # --- pools -------------------------------------------------------------------------

    def manufacturers(self) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
        """Normal manufacturers' MIDs per country, and entity-listed ones (name, MID)."""
        listings = max(200, self.p.shipments // 10)
        normal: dict[str, list[str]] = {}
        listed: dict[str, list[tuple[str, str]]] = {}
        total = sum(self.country_weights)
        for country in codes.COUNTRIES:
            count = max(3, round(listings / 25 * country.weight / total))
            normal[country.iso2] = [self.manufacturer(country)[2] for _ in range(count)]
            listed_count = 3 if country.iso2 == "CN" else 1
            listed[country.iso2] = [
                (name, mid)
                for name, _, mid in (self.manufacturer(country) for _ in range(listed_count))
            ]
        return normal, listed

    def new_seller_grid(self) -> list[int]:
        """Registration days such that every order day has sellers aged 1-28 days."""
        first, last = self.order_days[0], self.order_days[-1]
        start = first - 21
        points = max(1, math.ceil((last - first - 7) / 7) + 1)
        return [start + 7 * k for k in range(points)]


def build_world(params: Params) -> World:
    """Assemble all pools for ``params``; deterministic in the parameters."""
    b = _Builder(params)
    rng = b.rng
    rates = params.rates
    weights = _combo_weights(rates)
    normal_mids, listed_mids = b.manufacturers()
    grid = b.new_seller_grid()
    total_sellers = max(40, params.shipments // 50)
    listings_per_seller = max(200, params.shipments // 10) / total_sellers
    want_recalled = rates.recalled_product > 0.0

    s_name: list[str] = []
    s_address: list[str] = []
    s_country: list[int] = []
    s_home: list[str] = []
    s_currency: list[str] = []
    s_chapter: list[str] = []
    s_registered: list[int] = []
    s_rows: list[tuple[str, ...]] = []
    s_clean: list[list[int]] = []
    s_hinted: list[list[int]] = []
    recalled_of: list[list[int]] = []

    l_id: list[str] = []
    l_seller: list[int] = []
    l_code: list[int] = []
    l_price: list[float] = []
    l_price_usd: list[float] = []
    l_origin: list[str] = []
    l_mid: list[str] = []
    l_cert: list[str] = []
    l_rows: list[tuple[str, ...]] = []
    recalled_rows: list[tuple[str, ...]] = []

    gtin_salt = derive_seed(params.seed, "gtin") % 10**9
    # UPC-12 listings draw from their own stream, so the other mixes' pools stay the same.
    upc_rate = params.confounders.upc_ean
    upc_rnd = random.Random(derive_seed(params.seed, "upc")).random
    upc: set[int] = set()
    end = params.end_date

    country_of = {c.iso2: c for c in codes.COUNTRIES}
    brands = codes.BRANDS
    hs_codes = codes.HS_CODES
    rnd = rng.random

    def add_listing(seller: int, code_index: int, recalled: bool) -> int:
        index = len(l_id)
        code = hs_codes[code_index]
        home = s_home[seller]
        # Hong Kong traders mostly ship mainland goods; others sometimes source from China.
        origin = "CN" if rnd() < (0.7 if home == "HK" else 0.1) else home
        lo, hi = code.price_usd
        usd = lo * (hi / lo) ** rnd()  # log-uniform: cheap items are the common ones
        currency = s_currency[seller]
        fx = codes.FX_PER_USD[currency]
        if currency == "USD":
            price = max(1.0, math.floor(usd)) - 0.01
        elif fx >= 100:
            price = float(round(usd * fx, -1 if fx < 1000 else -2))
        else:
            price = round(usd * fx, 2)
        hinted = recalled or not s_hinted[seller] or rnd() < 0.85
        gtin = ""
        if recalled or rnd() < 0.85:
            if rnd() < 0.1:
                body = "0" + scramble(index, 10, gtin_salt)
            else:
                body = country_of[origin].gs1_prefix + scramble(index, 9, gtin_salt)
            gtin = body + str(gtin_check_digit(body))
        listed_gtin = gtin
        if gtin and upc_rate and upc_rnd() < upc_rate:
            # a UPC-12 listed as such; recall lists carry its EAN-13 form ("0" + UPC-12)
            body = "0" + scramble(index, 10, gtin_salt)
            listed_gtin = body + str(gtin_check_digit(body))
            gtin = "0" + listed_gtin
            upc.add(index)
        brand = brands[int(rnd() * len(brands))] if rnd() < 0.8 else ""
        model = f"{brand[:2].upper()}-{100 + int(rnd() * 9900)}" if brand and rnd() < 0.7 else ""
        mids = normal_mids[origin]
        mid = mids[int(rnd() * len(mids))] if rnd() < 0.92 else ""
        cert = ""
        if code.needs_certificate or (code.chapter in ("85", "94") and rnd() < 0.3):
            kind = "CPC" if code.needs_certificate else "GCC"
            cert = f"CPSC-{kind}-{end.year}-{1 + int(rnd() * 999999):06d}"
        title = f"{brand} {code.noun}" if brand else code.noun
        listing_id = f"LST{index + 1:08d}"
        l_id.append(listing_id)
        l_seller.append(seller)
        l_code.append(code_index)
        l_price.append(price)
        l_price_usd.append(price / fx)
        l_origin.append(origin)
        l_mid.append(mid)
        l_cert.append(cert)
        l_rows.append((
            listing_id, f"SEL{seller + 1:07d}", title, code.category,
            code.hs6 if hinted else "", listed_gtin, brand, model, f"{price:.2f}", currency, origin,
        ))
        if recalled:
            recalled_of[seller].append(index)
            recalled_rows.append(_recall_row(rng, gtin, title, end, params.days))
        else:
            s_clean[seller].append(index)
            if hinted:
                s_hinted[seller].append(index)
        return index

    def add_seller(
        combo: int, registered: int, status: str = "active", country_index: int | None = None
    ) -> int:
        index = len(s_name)
        covering = country_index is not None
        if country_index is None:
            country_index = rng.choices(_COUNTRY_INDICES, cum_weights=b.country_cumulative)[0]
        country = codes.COUNTRIES[country_index]
        name, _ = b.company_name(country, codes.SELLER_WORDS, codes.SELLER_TRADES)
        address, _, _ = b.street_address(country)
        currency = "USD" if rng.random() < 0.7 and not covering else country.currency
        chapter = rng.choices(b.chapter_names, cum_weights=b.chapter_cumulative)[0]
        verified = not combo & COMBO_UNVERIFIED
        new = bool(combo & COMBO_NEW)
        registered_on = b.day0 + timedelta(days=registered)
        verified_on = ""
        if verified:
            delay = 0 if new else rng.randint(1, 30)
            verified_on = (registered_on + timedelta(days=delay)).isoformat()
        tax_id = ""
        if verified or rng.random() < 0.5:
            tax_id = f"{country.iso2}{10**8 + int(rng.random() * 9 * 10**10)}"
        high_volume = "1" if not new and rng.random() < 0.4 else "0"
        seller_id = f"SEL{index + 1:07d}"
        s_name.append(name)
        s_address.append(address)
        s_country.append(country_index)
        s_home.append(country.iso2)
        s_currency.append(currency)
        s_chapter.append(chapter)
        s_registered.append(registered)
        s_clean.append([])
        s_hinted.append([])
        recalled_of.append([])
        s_rows.append((
            seller_id, name, address, country.iso2, tax_id, "1" if verified else "0",
            verified_on, high_volume, registered_on.isoformat(), status,
        ))
        return index

    old_latest = b.order_days[0] - OLD_SELLER_MIN_AGE
    sellers_by_combo: dict[int, list[int]] = {}
    main_combo = max(weights, key=weights.__getitem__)
    for combo, weight in weights.items():
        new = bool(combo & COMBO_NEW)
        count = max(len(grid) if new else 2, round(total_sellers * weight))
        # The least popular sellers of the main pool cover every country (and currency)
        # once, so that even a small world ships from all of them.
        covered = len(codes.COUNTRIES) if combo == main_combo else 0
        count = max(count, covered)
        members = sellers_by_combo.setdefault(combo, [])
        for k in range(count):
            registered = grid[k % len(grid)] if new else old_latest - rng.randint(0, 2000)
            fixed = k - (count - covered)
            seller = add_seller(combo, registered, "active", fixed if fixed >= 0 else None)
            members.append(seller)
            n_listings = 1 + int(rng.random() * (2 * listings_per_seller - 1))
            chapter_codes = b.chapters[s_chapter[seller]]
            for _ in range(n_listings):
                add_listing(seller, chapter_codes[int(rnd() * len(chapter_codes))], False)
            # Every combination (and, for new sellers, every registration day) needs
            # recalled listings so that recalled_product can co-occur with it.
            recalls = k < len(grid) if new else (k == 0 or rnd() < 0.05)
            if want_recalled and recalls:
                add_listing(seller, chapter_codes[int(rnd() * len(chapter_codes))], True)

    link_rows = _seller_links(rng, sellers_by_combo, add_seller, old_latest)
    for _ in range(max(3, total_sellers // 100)):
        add_seller(0, old_latest - rng.randint(0, 2000), status="closed")
    # Recalls of products this marketplace never listed: the list is a public one.
    for extra in range(max(5, len(recalled_rows) // 2)):
        body = "0" + scramble(len(l_id) + extra, 10, gtin_salt)
        gtin = body + str(gtin_check_digit(body))
        recalled_rows.append(_recall_row(rng, gtin, rng.choice(codes.HS_CODES).noun, end,
                                         params.days))

    new_sellers: dict[tuple[int, int], tuple[int, ...]] = {}
    recalled_new: dict[tuple[int, int], tuple[int, ...]] = {}
    recalled_by_combo: dict[int, tuple[int, ...]] = {}
    for combo, members in sellers_by_combo.items():
        recalled_by_combo[combo] = tuple(x for s in members for x in recalled_of[s])
        if combo & COMBO_NEW:
            for day in b.order_days:
                eligible = tuple(
                    s for s in members
                    if 1 <= day - s_registered[s] <= NEW_SELLER_MAX_AGE
                )
                new_sellers[combo, day] = eligible
                recalled_new[combo, day] = tuple(x for s in eligible for x in recalled_of[s])

    decoys: dict[str, tuple[int, ...]] = {}
    by_hs6 = {code.hs6: i for i, code in enumerate(codes.HS_CODES)}
    for chapter in b.chapter_names:
        decoys[chapter] = tuple(
            by_hs6[h] for h in codes.DECOY_HS6 if h[:2] != chapter
        )

    entity_rows = _entity_rows(rng, b, listed_mids, end)
    masters, buckets = _masters(b, params)
    return World(
        params=params,
        day0=b.day0,
        first_arrival=b.first_arrival,
        sellers=Sellers(
            tuple(s_name), tuple(s_address), tuple(s_country), tuple(s_currency),
            tuple(s_chapter), tuple(tuple(x) for x in s_clean),
            tuple(tuple(x) for x in s_hinted), tuple(s_rows),
        ),
        listings=Listings(
            tuple(l_id), tuple(l_seller), tuple(l_code), tuple(l_price), tuple(l_price_usd),
            tuple(l_origin), tuple(l_mid), tuple(l_cert), tuple(l_rows),
        ),
        masters=masters,
        buckets=buckets,
        sellers_by_combo={c: tuple(m) for c, m in sellers_by_combo.items()},
        new_sellers=new_sellers,
        recalled_by_combo=recalled_by_combo,
        recalled_new=recalled_new,
        listed_mids={c: tuple(mid for _, mid in v) for c, v in listed_mids.items()},
        decoys=decoys,
        recalled_rows=tuple(recalled_rows),
        entity_rows=entity_rows,
        link_rows=link_rows,
        upc_listings=frozenset(upc),
    )


_HAZARDS = (
    "fire hazard", "burn hazard", "choking hazard", "laceration hazard", "shock hazard",
    "strangulation hazard", "excess lead", "battery overheating",
)
_RECALL_SOURCES = (("CPSC", "CPSC"), ("HC", "Health Canada"), ("EUSG", "EU Safety Gate"))


def _recall_row(
    rng: random.Random, gtin: str, title: str, end: date, days: int
) -> tuple[str, ...]:
    short, source = _RECALL_SOURCES[0] if rng.random() < 0.7 else rng.choice(_RECALL_SOURCES)
    recalled_on = end - timedelta(days=days + rng.randint(1, 700))
    recall_id = f"{short}-{recalled_on:%y}-{rng.randint(1, 999):03d}-{gtin[-4:]}"
    return gtin, recall_id, source, recalled_on.isoformat(), f"{title} - {rng.choice(_HAZARDS)}"


def _seller_links(
    rng: random.Random, sellers_by_combo: dict[int, list[int]],
    add_seller: Callable[[int, int, str], int], old_latest: int,
) -> tuple[tuple[str, ...], ...]:
    """Links from flagged sellers to suspended accounts; harmless links among the others."""
    reasons = ("shared_bank_account", "shared_address", "shared_phone", "shared_device")
    linked = [s for c, m in sellers_by_combo.items() if c & COMBO_LINKED for s in m]
    plain = [s for c, m in sellers_by_combo.items() if not c & COMBO_LINKED for s in m]
    suspended = [
        add_seller(0, old_latest - rng.randint(0, 1500), "suspended")
        for _ in range(max(1, math.ceil(len(linked) / 2)) if linked else 0)
    ]
    pairs: dict[tuple[int, int], str] = {}
    for seller in linked:
        for target in rng.sample(suspended, min(len(suspended), 1 + (rng.random() < 0.3))):
            pairs[seller, target] = rng.choice(reasons)
    for seller in plain:
        if len(plain) > 1 and rng.random() < 0.04:
            target = rng.choice(plain)
            if target != seller:
                pairs[seller, target] = rng.choice(reasons)
    return tuple(
        (f"SEL{a + 1:07d}", f"SEL{b + 1:07d}", reason) for (a, b), reason in sorted(pairs.items())
    )


def _entity_rows(
    rng: random.Random, b: _Builder, listed: dict[str, list[tuple[str, str]]], end: date
) -> tuple[tuple[str, ...], ...]:
    """Entity-listed manufacturers (with MIDs) and denied parties known by name only."""
    rows: list[tuple[str, ...]] = []
    for country in codes.COUNTRIES:
        list_name = "UFLPA" if country.iso2 == "CN" else "Entity List"
        for name, mid in listed[country.iso2]:
            added = end - timedelta(days=rng.randint(60, 1500))
            rows.append((name, country.iso2, mid, list_name, added.isoformat()))
    for _ in range(20):
        country = rng.choices(codes.COUNTRIES, b.country_weights)[0]
        name, _ = b.company_name(country, codes.MANUFACTURER_WORDS, codes.MANUFACTURER_TRADES)
        added = end - timedelta(days=rng.randint(60, 1500))
        rows.append((name, country.iso2, "", "DPL", added.isoformat()))
    return tuple(
        (f"ENT{index + 1:06d}", *row) for index, row in enumerate(rows)
    )


def _masters(b: _Builder, params: Params) -> tuple[Masters, dict[tuple[int, str], tuple[int, ...]]]:
    """Master air waybills for every arrival day and origin region."""
    rng = b.rng
    total_weight = sum(b.country_weights)
    share: dict[str, float] = {}
    for country in codes.COUNTRIES:
        share[country.region] = share.get(country.region, 0.0) + country.weight / total_weight
    gateways = codes.GATEWAYS
    gateway_weights = [g.weight for g in gateways]
    salt = derive_seed(params.seed, "mawb") % 10**7
    mawb: list[str] = []
    carrier: list[str] = []
    prefix: list[str] = []
    port: list[str] = []
    departure: list[int] = []
    rows: list[tuple[str, ...]] = []
    buckets: dict[tuple[int, str], tuple[int, ...]] = {}
    for day in range(b.first_arrival, b.first_arrival + params.days):
        for region, airlines in codes.REGIONS.items():
            expected = params.shipments * share[region] / params.days
            count = max(_MIN_MASTERS_PER_BUCKET, math.ceil(expected / _SHIPMENTS_PER_MASTER))
            order = rng.sample(airlines, len(airlines))
            members: list[int] = []
            for j in range(count):
                airline = order[j % len(order)]
                hub = rng.choice(airline.hubs)
                gateway = rng.choices(gateways, gateway_weights)[0]
                arrive = day * 86400 + rng.randint(0, 287) * 300
                leave = arrive - int(airline.block_hours * 3600) + rng.randint(-6, 6) * 300
                flight = int(hashlib.sha256(
                    f"{airline.code}{hub}{gateway.airport}".encode()).hexdigest(), 16) % 9000
                serial = scramble(len(mawb), 7, salt)
                number = f"{airline.prefix}{serial}{mawb_check_digit(serial)}"
                members.append(len(mawb))
                mawb.append(number)
                carrier.append(airline.code)
                prefix.append(airline.prefix)
                port.append(gateway.port_code)
                departure.append(leave)
                rows.append((
                    number, f"{airline.code}{flight + 100}", hub, gateway.airport,
                    _stamp(b.day0, leave), _stamp(b.day0, arrive),
                ))
            buckets[day, region] = tuple(members)
    masters = Masters(
        tuple(mawb), tuple(carrier), tuple(prefix), tuple(port), tuple(departure), tuple(rows),
    )
    return masters, buckets


def _stamp(day0: date, seconds: int) -> str:
    day, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{day0 + timedelta(days=day)}T{hours:02d}:{minutes:02d}:{secs:02d}Z"
