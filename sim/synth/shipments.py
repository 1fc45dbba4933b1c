"""Shipments of one chunk: how each parcel is seen by marketplace, carrier, broker and CBP.

A chunk is a fixed range of shipment indices with its own random stream derived
from the seed and the chunk number, so chunks can be generated in any process
and in any order and still concatenate to the same files. Split-shipment groups
never cross a chunk boundary, and every consignee identity is derived from a
global shipment index, so no two chunks can produce the same consignee.

This is the hot loop of the generator: it works on plain tuples and lists and
writes CSV text in one go per chunk.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from fedtrade.node.store.identifiers import entry_check_digit
from fedtrade.sim.synth import codes
from fedtrade.sim.synth.patterns import PATTERNS, UNDERVALUED_RATIO
from fedtrade.sim.synth.world import (
    COMBO_LINKED,
    COMBO_NEW,
    COMBO_UNVERIFIED,
    MAX_LEAD_DAYS,
    MIN_LEAD_DAYS,
    World,
    derive_seed,
)

__all__ = [
    "CHUNK_FILES",
    "MAX_SHIPMENTS",
    "ChunkResult",
    "Tables",
    "consignee_variants",
    "forwarders",
    "generate_chunk",
    "prepare",
]

# Output files written per shipment, in the order ChunkResult.data holds them.
CHUNK_FILES: tuple[str, ...] = (
    "marketplace/orders",
    "marketplace/order_lines",
    "marketplace/fulfillments",
    "carrier/house_bills",
    "carrier/house_bill_items",
    "broker/entries",
    "broker/entry_lines",
    "manifest",
    "ground_truth",
    "marketplace/parcel_lines",
    "confounders",
    "broker/entry_house_bills",
)

(
    _UNDER, _SPLIT, _MISCLASS, _UNVERIFIED, _NEW, _LINKED, _RECALLED, _ENTITY, _UNSCREENED,
    _GAP,
) = (1 << k for k in range(len(PATTERNS)))
_SELLER_BITS = ((_UNVERIFIED, COMBO_UNVERIFIED), (_NEW, COMBO_NEW), (_LINKED, COMBO_LINKED))
_SELLER_MASK = _UNVERIFIED | _NEW | _LINKED
# Patterns that are violations; new and unverified sellers are evidence only.
_VIOLATIONS = _UNDER | _SPLIT | _MISCLASS | _LINKED | _RECALLED | _ENTITY | _UNSCREENED | _GAP
# Confounders drawn per parcel when it is written (the others are planned with groups).
_PER_PARCEL = ("shipping_over_goods", "coupon", "flash_sale", "other_broker", "late_entry",
               "pending_preload", "off_platform")
_ORDER_MONEY = frozenset({"shipping_over_goods", "coupon", "flash_sale", "off_platform"})
_NO_ENTRY = frozenset({"other_broker", "late_entry"})
_ORDER_GROUPS = frozenset({"multi_parcel", "multi_seller"})
# Historic chance that a party spells a consignee other than the canonical way.
_VARIANT_RATE = 0.3
_FILERS = ("EB7", "K4Q")
_FIRST_ORDER = 10**9 + 1  # order and fulfillment numbers: ten digits, no padding needed
# Entry serials have 7 digits per filer code, shared out over the two filer codes.
MAX_SHIPMENTS = 10_000_000
_INFORMAL_LIMIT_USD = 2500.0
_GROUP_TRIES = 8
_SELLER_TRIES = 12
# The parcels of a split group each declare at most this share of the threshold,
# and together at least the second; the margins absorb rounding and currency.
_PARCEL_MAX = 0.9
_GROUP_MIN = 1.1
# Days a frequent buyer's (and then a splitter's) parcels arrive over: the coordinator's
# default split window.
SPREAD_DAYS = 3


@dataclass(frozen=True)
class _Entry:
    """One house bill's part of an entry, kept until the entry is written."""

    index: int
    plan: _Plan
    identity: tuple[str, str, str, str, str]
    house_bill: str
    arrival_day: str
    total_usd: float
    decoy: int


@dataclass(frozen=True)
class ChunkResult:
    """CSV text (no header) per file in CHUNK_FILES, plus what the summary needs."""

    data: tuple[bytes, ...]
    rows: tuple[int, ...]
    patterns: tuple[int, ...]  # shipments per pattern, in PATTERNS order
    masters_used: frozenset[int]


# "Oak St", ... and "San Diego, CA 921", ...: an address is a house number, one of
# these street lines, one of these places and the last two digits of the ZIP code.
_STREET_LINES = tuple(f"{name} {suffix}" for name in codes.STREET_NAMES
                      for suffix in codes.STREET_SUFFIXES)
_PLACES = tuple(f"{city}, {state} {zip3}" for city, state, zip3 in codes.US_CITIES)
_HOUSES = 9999
_FIRST = codes.FIRST_NAMES
_LAST = codes.LAST_NAMES
_SPELLINGS = 5


def _address_mixer() -> tuple[int, int]:
    modulus = _HOUSES * len(_STREET_LINES) * len(_PLACES)
    # Near the golden ratio of the modulus, so that consecutive keys land far apart;
    # coprime to it, so that the map key -> address is one-to-one.
    multiplier = int(modulus * 0.6180339887)
    while math.gcd(multiplier, modulus) != 1:
        multiplier += 1
    return modulus, multiplier


_ADDRESS_MODULUS, _ADDRESS_MULTIPLIER = _address_mixer()


def _identity(key: int, salt: int) -> tuple[str, str, str, str, str]:
    """(name, name with dotted initial, street line, apartment or "", place) of ``key``."""
    k, house = divmod((key * _ADDRESS_MULTIPLIER + salt) % _ADDRESS_MODULUS, _HOUSES)
    place_index, street_index = divmod(k, len(_STREET_LINES))
    mix = (key * 2_654_435_761 + salt) & 0xFFFFFFFF
    first = _FIRST[mix % len(_FIRST)]
    last = _LAST[(mix >> 8) % len(_LAST)]
    apt = str(1 + (mix >> 24) % 40) if (mix >> 12) % 10 < 3 else ""
    place = f"{_PLACES[place_index]}{(mix >> 4) % 100:02d}"
    street_line = f"{house + 1} {_STREET_LINES[street_index]}"
    if (mix >> 21) % 5 == 0:
        initial = chr(65 + (mix >> 16) % 26)
        return f"{first} {initial} {last}", f"{first} {initial}. {last}", street_line, apt, place
    name = f"{first} {last}"
    return name, name, street_line, apt, place


def _spell(identity: tuple[str, str, str, str, str], variant: int) -> tuple[str, str]:
    """Spelling ``variant`` (0-4) of a consignee's name and address."""
    plain, dotted, street, apt, place = identity
    if variant == 0:
        return dotted, f"{street} Apt {apt}, {place}" if apt else f"{street}, {place}"
    if variant == 1:
        address = f"{street} Apt {apt}, {place}" if apt else f"{street}, {place}"
        return plain.upper(), address.upper()
    if variant == 2:
        return (dotted.replace(" ", "  ", 1),
                f"{street}. Apt. {apt}, {place}" if apt else f"{street}., {place}")
    if variant == 3:
        street = street.replace(" ", "  ", 1)
        place = place.replace(",", "")
        return plain.lower(), f"{street} APT {apt} {place}" if apt else f"{street} {place}"
    address = f"{street}. Apt. {apt}, {place}" if apt else f"{street}., {place}"
    return dotted.upper(), address.lower()


def consignee_variants(key: int, salt: int) -> tuple[tuple[str, str], ...]:
    """The five (name, address) spellings of the consignee with identity ``key``.

    All spellings of one identity are equal after upper-casing, deleting ``.`` and
    ``,`` and collapsing white space; distinct keys give distinct addresses.
    """
    identity = _identity(key, salt)
    return tuple(_spell(identity, variant) for variant in range(_SPELLINGS))


# Parcel forwarders (fictional): one consignee name and warehouse address for the parcels
# of many buyers abroad. forwarders.csv lists them for risk.split.forwarding_addresses.
_FORWARDER_NAMES = ("Harbor Relay Forwarding LLC", "Parcel Bridge Reship Inc",
                    "Oceanway Mailbox Co", "Northgate Package Services LLC")


def forwarders(seed: int) -> tuple[tuple[str, str, str, str, str], ...]:
    """The identities (as ``_identity`` returns them) of the world's parcel forwarders."""
    rng = random.Random(derive_seed(seed, "forwarders"))
    return tuple(
        (name, name, f"{1 + rng.randrange(_HOUSES)} {rng.choice(_STREET_LINES)}", "",
         f"{rng.choice(_PLACES)}{rng.randrange(100):02d}")
        for name in _FORWARDER_NAMES
    )


class _Plan:
    """One shipment's decisions before it is written out."""

    __slots__ = (
        "arrival", "entry", "factor", "flags", "forwarder", "key", "labels", "line_base",
        "lines", "master", "order_day", "order_of", "order_paid", "paid", "seller", "variants",
    )

    def __init__(
        self, key: int, arrival: int, order_day: int, flags: int, seller: int,
        lines: list[tuple[int, int]], paid: float, factor: float, master: int,
        variants: tuple[int, int, int],
    ) -> None:
        self.key = key
        self.arrival = arrival
        self.order_day = order_day
        self.flags = flags
        self.seller = seller
        self.lines = lines
        self.paid = paid  # in the order currency
        self.factor = factor
        self.master = master
        self.variants = variants  # marketplace, carrier, broker spelling
        self.forwarder = -1  # index into forwarders(), or -1: the consignee of ``key``
        self.order_of = -1  # shipment whose order this parcel belongs to (-1: its own)
        self.line_base = 0  # order lines of the order's earlier parcels
        self.order_paid = paid  # goods paid for the whole order (owner of the order)
        self.entry = 0  # 0 own entry; 1 on a consolidated entry; 2 its last bill
        self.labels: set[str] = set()  # confounders decided when planning


class _Chunk:
    """Plans and writes the shipments of one chunk with the chunk's own random stream."""

    def __init__(self, tables: Tables, chunk: int) -> None:
        world = tables.world
        self.w = world
        p = world.params
        self.rng = random.Random(derive_seed(p.seed, "chunk", chunk))
        self.rnd = self.rng.random
        rates = p.rates
        self.rates = [(1 << k, rates.get(name)) for k, name in enumerate(PATTERNS)
                      if name != "split_shipment" and rates.get(name) > 0.0]
        mix = p.confounders
        rates_of = mix.as_dict()
        self.confounders = [(name, rates_of[name]) for name in _PER_PARCEL
                            if rates_of[name] > 0.0]
        frequent = mix.frequent_buyer
        # orders in two parcels (one seller or two); a group of 2 starts with probability
        # q at a free slot, so the expected share of such parcels is 2q / (1 + q)
        orders = mix.multi_parcel + mix.multi_seller
        self.order_start = orders / (2.0 - orders) if 0 < orders < 1 else 0.0
        self.multi_seller = mix.multi_seller / orders if orders else 0.0
        # consolidated entries of 2-4 bills (3 on average): share 3q / (1 + 2q)
        consolidated = mix.consolidated_entry
        self.consolidated_start = (consolidated / (3.0 - 2.0 * consolidated)
                                   if 0 < consolidated < 1 else 0.0)
        self.forwarder_rate = mix.forwarder
        self.forwarders = tables.forwarders
        self.honest = (mix.honest_new_seller, mix.honest_unverified_seller)
        self.label_honest = any(self.honest)
        self.canonical = 1.0 - (mix.name_variant or _VARIANT_RATE)
        self.label_variants = mix.name_variant > 0
        self.upc = tables.world.upc_listings
        self.pending_entry: list[_Entry] = []
        # honest groups of on average 2.5 parcels, started like split groups
        self.frequent_start = frequent / (2.5 - 1.5 * frequent) if frequent > 0 else 0.0
        # with frequent buyers in the mix, splitters spread their parcels over days too
        self.spread_days = SPREAD_DAYS if frequent > 0 else 1
        self.frequent: set[int] = set()
        self.threshold = p.threshold_usd
        split = rates.split_shipment if self.threshold > 0 else 0.0
        # A group of on average 4 parcels starts with probability q at a free slot, so
        # the expected share of split parcels is 4q / (1 + 3q) = split.
        self.group_start = split / (4.0 - 3.0 * split) if split > 0 else 0.0
        self.salt = derive_seed(p.seed, "consignee") % _ADDRESS_MODULUS
        # Carriers and brokers number their documents sequentially from where their
        # series stands; the series start is drawn from the seed.
        self.first_house_bill = 10**9 + derive_seed(p.seed, "house_bill") % (8 * 10**9)
        self.first_entry = derive_seed(p.seed, "entry") % (10**7 - MAX_SHIPMENTS // len(_FILERS))
        self.t = tables
        self.out: list[list[str]] = [[] for _ in CHUNK_FILES]
        self.counts = [0] * len(PATTERNS)
        self.used: set[int] = set()

    # --- decisions ---------------------------------------------------------------------

    def draw_flags(self) -> int:
        rnd = self.rnd
        flags = 0
        for bit, rate in self.rates:
            if rnd() < rate:
                flags |= bit
        return flags

    def pick_seller(self, flags: int, order_day: int) -> tuple[int, int]:
        """(seller, recalled listing or -1) for the seller patterns in ``flags``."""
        w = self.w
        combo = 0
        for bit, combo_bit in _SELLER_BITS:
            if flags & bit:
                combo |= combo_bit
        r = self.rnd()
        if flags & _RECALLED:
            pool = (w.recalled_new[combo, order_day] if combo & COMBO_NEW
                    else w.recalled_by_combo[combo])
            listing = pool[int(r * len(pool))]
            return w.listings.seller[listing], listing
        sellers = (w.new_sellers[combo, order_day] if combo & COMBO_NEW
                   else w.sellers_by_combo[combo])
        return sellers[int(len(sellers) * r * r)], -1

    def normal_lines(self, seller: int, recalled: int, hinted: bool) -> list[tuple[int, int]]:
        rnd = self.rnd
        w = self.w
        pool = w.sellers.hinted[seller] if hinted else w.sellers.listings[seller]
        r = rnd()
        count = 1 if r < 0.65 else 2 if r < 0.9 else 3
        chosen = [recalled] if recalled >= 0 else []
        for _ in range(count - len(chosen)):
            listing = pool[int(rnd() * len(pool))]
            if listing not in chosen:
                chosen.append(listing)
        price_usd = w.listings.price_usd
        lines = []
        for listing in chosen:
            r = rnd()
            if r < 0.75 or price_usd[listing] > 200:
                qty = 1
            else:
                qty = 2 if r < 0.9 else 3 + int((r - 0.9) * 40)  # 3 to 6
            lines.append((listing, qty))
        return lines

    def target_lines(self, seller: int, recalled: int, hinted: bool,
                     target_usd: float) -> list[tuple[int, int]] | None:
        """Lines paying at most ``target_usd`` and at least 85 % of it, or None."""
        w = self.w
        price_usd = w.listings.price_usd
        pool = list(w.sellers.hinted[seller] if hinted else w.sellers.listings[seller])
        self.rng.shuffle(pool)
        if recalled >= 0:
            pool.insert(0, recalled)
        lines: list[tuple[int, int]] = []
        left = target_usd
        for listing in pool[:5]:
            qty = min(20, int(left / price_usd[listing]))
            if qty >= 1:
                lines.append((listing, qty))
                left -= qty * price_usd[listing]
            elif listing == recalled:
                return None
            if left < 0.15 * target_usd:
                return lines
        return None

    def factor(self, flags: int) -> float:
        if flags & _UNDER:
            return 0.1 + self.rnd() * (UNDERVALUED_RATIO - 0.1 - 0.05)
        return 0.95 + self.rnd() * 0.05

    def paid(self, lines: list[tuple[int, int]]) -> float:
        price = self.w.listings.price
        return sum(price[listing] * qty for listing, qty in lines)

    def variant(self) -> int:
        """Which spelling of the consignee a party uses: mostly the canonical one."""
        rnd = self.rnd
        return 0 if rnd() < self.canonical else 1 + int(rnd() * 4)

    def honest_seller(self, flags: int) -> int:
        """``flags`` with a new or unverified seller added to a shipment with no violation."""
        if flags & (_VIOLATIONS | _SELLER_MASK):
            return flags
        new, unverified = self.honest
        if new and self.rnd() < new:
            flags |= _NEW
        if unverified and self.rnd() < unverified:
            flags |= _UNVERIFIED
        return flags

    def plan_single(self, index: int) -> _Plan:
        rnd = self.rnd
        w = self.w
        flags = self.draw_flags()
        if self.label_honest:
            flags = self.honest_seller(flags)
        arrival = w.first_arrival + int(rnd() * w.params.days)
        order_day = arrival - MIN_LEAD_DAYS - int(rnd() * (MAX_LEAD_DAYS - MIN_LEAD_DAYS + 1))
        seller, recalled = self.pick_seller(flags, order_day)
        lines = self.normal_lines(seller, recalled, bool(flags & _MISCLASS))
        bucket = w.buckets[arrival, self.t.region[seller]]
        master = bucket[int(rnd() * len(bucket))]
        plan = _Plan(index, arrival, order_day, flags, seller, lines, self.paid(lines),
                     self.factor(flags), master,
                     (self.variant(), self.variant(), self.variant()))
        if self.forwarder_rate and rnd() < self.forwarder_rate:
            plan.forwarder = int(rnd() * len(self.forwarders))
            plan.labels.add("forwarder")
        return plan

    def plan_order(self, first: int) -> list[_Plan] | None:
        """An order in two parcels to one consignee, from one seller or (multi_seller) two
        of the same currency, together under the threshold: no split. None if none fits."""
        w = self.w
        rnd = self.rnd
        one = self.plan_single(first)
        two_sellers = rnd() < self.multi_seller
        flags = self.draw_flags()
        if two_sellers:
            for _ in range(_SELLER_TRIES):
                seller, recalled = self.pick_seller(flags, one.order_day)
                if seller != one.seller and \
                        w.sellers.currency[seller] == w.sellers.currency[one.seller]:
                    break
            else:
                return None
        else:
            flags = (flags & ~(_SELLER_MASK | _RECALLED)) | (one.flags & _SELLER_MASK)
            seller, recalled = one.seller, -1
        lines = self.normal_lines(seller, recalled, bool(flags & _MISCLASS))
        arrival = min(one.arrival + int(rnd() * 2), w.first_arrival + w.params.days - 1)
        bucket = w.buckets[arrival, self.t.region[seller]]
        two = _Plan(one.key, arrival, one.order_day, flags, seller, lines, self.paid(lines),
                    self.factor(flags), bucket[int(rnd() * len(bucket))],
                    (one.variants[0], self.variant(), self.variant()))
        fx = codes.FX_PER_USD[w.sellers.currency[seller]]
        declared = (one.paid * one.factor + two.paid * two.factor) / fx
        if self.threshold > 0 and declared >= _PARCEL_MAX * self.threshold:
            return None
        label = "multi_seller" if two_sellers else "multi_parcel"
        two.forwarder = one.forwarder
        two.labels = set(one.labels)
        two.order_of, two.line_base = first, len(one.lines)
        one.order_paid = one.paid + two.paid
        for plan in (one, two):
            plan.labels.add(label)
        return [one, two]

    def plan_consolidated(self, first: int, size: int) -> list[_Plan]:
        """``size`` parcels of one seller to different consignees on one master, filed on
        one entry covering all their house bills (no planted gap: the entry exists)."""
        one = self.plan_single(first)
        one.flags &= ~_GAP
        plans = [one]
        for j in range(1, size):
            flags = ((self.draw_flags() & ~(_SELLER_MASK | _RECALLED | _GAP))
                     | (one.flags & _SELLER_MASK))
            lines = self.normal_lines(one.seller, -1, bool(flags & _MISCLASS))
            plans.append(_Plan(first + j, one.arrival, one.order_day, flags, one.seller, lines,
                               self.paid(lines), self.factor(flags), one.master,
                               (self.variant(), self.variant(), self.variant())))
        for plan in plans:
            plan.entry = 1
            plan.labels.add("consolidated_entry")
        plans[-1].entry = 2
        return plans

    def plan_group(self, first: int, size: int, split: bool = True) -> list[_Plan] | None:
        """``size`` parcels to one consignee arriving within ``spread_days`` days (one day
        without frequent buyers in the mix), together over the threshold, or None: a split
        shipment, or with ``split`` False an honest frequent buyer's parcels."""
        w = self.w
        rnd = self.rnd
        threshold = self.threshold
        currency = w.sellers.currency
        spread = self.spread_days if split else SPREAD_DAYS
        for _ in range(_GROUP_TRIES):
            arrival = w.first_arrival + int(rnd() * max(1, w.params.days - spread + 1))
            used_prefixes: set[str] = set()
            plans: list[_Plan] = []
            declared = 0.0
            base = int(rnd() * 5)
            for j in range(size):
                day = arrival + (int(rnd() * spread) if spread > 1 else 0)
                plan = self.plan_parcel(first, day, used_prefixes, (base + j) % 5, split)
                if plan is None:
                    break
                plans.append(plan)
                declared += plan.paid / codes.FX_PER_USD[currency[plan.seller]] * plan.factor
            if len(plans) == size and declared >= _GROUP_MIN * threshold:
                return plans
        return None

    def plan_parcel(self, key: int, arrival: int, used_prefixes: set[str],
                    carrier_variant: int, split: bool = True) -> _Plan | None:
        w = self.w
        rnd = self.rnd
        flags = self.draw_flags() | _SPLIT if split else self.draw_flags() & ~_SPLIT
        factor = self.factor(flags)
        target_declared = self.threshold * (0.45 + rnd() * (_PARCEL_MAX - 0.45 - 0.05))
        for _ in range(_SELLER_TRIES):
            lead = MIN_LEAD_DAYS + int(rnd() * (MAX_LEAD_DAYS - MIN_LEAD_DAYS + 1))
            order_day = arrival - lead
            seller, recalled = self.pick_seller(flags, order_day)
            lines = self.target_lines(seller, recalled, bool(flags & _MISCLASS),
                                      target_declared / factor)
            if lines is None:
                continue
            bucket = [m for m in w.buckets[arrival, self.t.region[seller]]
                      if w.masters.prefix[m] not in used_prefixes]
            master = bucket[int(rnd() * len(bucket))]
            used_prefixes.add(w.masters.prefix[master])
            return _Plan(key, arrival, order_day, flags, seller, lines, self.paid(lines),
                         factor, master, (self.variant(), carrier_variant, self.variant()))
        return None

    # --- output ------------------------------------------------------------------------

    def run(self, start: int, stop: int) -> None:
        index = start
        rnd = self.rnd
        while index < stop:
            if self.group_start and stop - index >= 3 and rnd() < self.group_start:
                size = min(3 + int(rnd() * 3), stop - index)
                group = self.plan_group(index, size)
                if group is not None:
                    for offset, plan in enumerate(group):
                        self.emit(index + offset, plan)
                    index += size
                    continue
            if self.frequent_start and stop - index >= 2 and rnd() < self.frequent_start:
                size = 2 + int(rnd() * 2)
                group = self.plan_group(index, size, split=False)
                if group is not None:
                    for offset, plan in enumerate(group):
                        self.frequent.add(index + offset)
                        self.emit(index + offset, plan)
                    index += size
                    continue
            if self.order_start and stop - index >= 2 and rnd() < self.order_start:
                group = self.plan_order(index)
                if group is not None:
                    self.emit(index, group[0])
                    self.emit(index + 1, group[1])
                    index += 2
                    continue
            if self.consolidated_start and stop - index >= 2 \
                    and rnd() < self.consolidated_start:
                size = min(2 + int(rnd() * 3), stop - index)
                for offset, plan in enumerate(self.plan_consolidated(index, size)):
                    self.emit(index + offset, plan)
                index += size
                continue
            self.emit(index, self.plan_single(index))
            index += 1

    def parcel_confounders(self, index: int, plan: _Plan) -> set[str]:
        """The confounders of one parcel: drawn ones that fit it, and the planned ones."""
        rnd = self.rnd
        flags = plan.flags
        # Drawn only when the mix has them, so the mix "none" leaves the output unchanged.
        confounders = {name for name, rate in self.confounders if rnd() < rate}
        if index in self.frequent:
            confounders.add("frequent_buyer")
        if flags & _SPLIT or index in self.frequent:
            confounders -= {"coupon", "flash_sale"}  # the group was sized on the full price
        if plan.labels & _ORDER_GROUPS:
            confounders -= _ORDER_MONEY  # an order of several parcels: plain prices
        if plan.entry:
            confounders -= _NO_ENTRY
        if "flash_sale" in confounders:
            confounders.discard("coupon")
        if "other_broker" in confounders:
            confounders.discard("late_entry")
        if "off_platform" in confounders:
            confounders -= _ORDER_MONEY - {"off_platform"}
        if flags & (_GAP | _UNSCREENED):
            confounders -= _NO_ENTRY | {"pending_preload"}
        confounders |= plan.labels
        if self.label_variants and len(set(plan.variants)) > 1:
            confounders.add("name_variant")
        if self.label_honest and not flags & _VIOLATIONS:
            if flags & _NEW:
                confounders.add("honest_new_seller")
            if flags & _UNVERIFIED:
                confounders.add("honest_unverified_seller")
        if self.upc and any(listing in self.upc for listing, _ in plan.lines):
            confounders.add("upc_ean")
        return confounders

    def emit(self, index: int, plan: _Plan) -> None:
        """Append the CSV lines of one shipment to every output file."""
        t = self.t
        rnd = self.rnd
        (_, _, _, house_bills, items, _, _, manifest, truth, _, confounded, _) = self.out
        flags = plan.flags
        confounders = self.parcel_confounders(index, plan)
        seller = plan.seller
        master = plan.master
        lines = plan.lines
        self.used.add(master)
        currency = t.currency[seller]
        carrier = t.carrier[master]
        mawb = t.mawb[master]
        house_bill = f"{carrier}{self.first_house_bill + index}"
        identity = (_identity(plan.key, self.salt) if plan.forwarder < 0
                    else self.forwarders[plan.forwarder])
        v_market, v_carrier, _ = plan.variants
        flash = "flash_sale" in confounders
        discount = 0.5 + rnd() * 0.3 if "coupon" in confounders or flash else 1.0
        paid = plan.paid * discount
        if "off_platform" not in confounders:
            self.emit_order(index, plan, house_bill, identity, v_market, discount, flash,
                            "shipping_over_goods" in confounders)

        # carrier: house bill, items and the manifest CBP receives from it
        single = len(lines) == 1
        main = lines[0][0] if single else max(lines, key=_line_amount(t.price))[0]
        decoy = -1
        if flags & _MISCLASS:
            pool = self.w.decoys[t.chapter[seller]]
            decoy = pool[int(rnd() * len(pool))]
        declared_usd = paid / _FX[currency] * plan.factor
        hb_currency = currency if currency != "USD" and rnd() < 0.15 else "USD"
        declared = round(declared_usd * _FX[hb_currency], 2)
        declared_text = f"{declared:.2f}"
        weight = 0.05
        for listing, qty in lines:
            lo, span = _WEIGHT[t.code[listing]]
            weight += qty * (lo + rnd() * span)
        declared_code = t.code[main] if decoy < 0 else decoy
        hs6 = _HS6[declared_code]
        origin = t.origin[main]
        if flags & _UNSCREENED:
            r = rnd()
            screening = (("1," if r < 0.5 else "0,")
                         + ("0,pending" if r < 0.6 else "0,accepted" if r < 0.85 else "0,hold"))
        elif "pending_preload" in confounders:
            screening = "1,1,pending"
        else:
            screening = "1,1,accepted"
        name, address = _spell(identity, v_carrier)
        consignee = f"{name},{_csv(address)}"
        pieces = 1 if single or rnd() < 0.7 else len(lines)
        house_bills.append(
            f"{house_bill},{mawb},{t.shipper[seller]},{consignee},{pieces},{weight:.2f},"
            f"{declared_text},{hb_currency},{_DESCRIPTION_UPPER[declared_code]},{hs6},{origin},"
            f"{screening}\n"
        )
        arrival_day = t.days[plan.arrival]
        manifest.append(
            f"{house_bill},{mawb},{consignee},{t.manifest_shipper[seller]},{origin},"
            f"{declared_text},{hb_currency},{hs6},{arrival_day}\n"
        )
        if single:
            code = t.code[main] if decoy < 0 else decoy
            items.append(f"{house_bill},1,{_ITEM[code]},{lines[0][1]},{declared_text}\n")
        else:
            values = _split(declared, [t.price[listing] * qty for listing, qty in lines])
            for n, (listing, qty) in enumerate(lines):
                code = t.code[listing] if decoy < 0 else decoy
                items.append(f"{house_bill},{n + 1},{_ITEM[code]},{qty},{values[n]:.2f}\n")

        # broker: the entry, unless a planted gap removed it or it is filed elsewhere
        entry_usd = round(declared_usd, 2)
        if flags & _GAP:
            if not flags & _ENTITY and rnd() < 0.5:
                entry_usd = -1.0
            elif flags & _UNDER or rnd() < 0.5:
                entry_usd = round(entry_usd * (0.55 + rnd() * 0.2), 2)
            else:
                entry_usd = round(entry_usd * (1.3 + rnd() * 0.3), 2)
        if entry_usd >= 0 and not confounders & _NO_ENTRY:
            self.pending_entry.append(
                _Entry(index, plan, identity, house_bill, arrival_day, entry_usd, decoy))
        if plan.entry != 1:  # a consolidated entry is written with its last bill
            if self.pending_entry:
                self.emit_entry(self.pending_entry)
            self.pending_entry = []

        for confounder in sorted(confounders):
            confounded.append(f"{house_bill},{confounder}\n")
        if flags:
            counts = self.counts
            for k, pattern in enumerate(PATTERNS):
                if flags & (1 << k):
                    truth.append(f"{house_bill},{pattern}\n")
                    counts[k] += 1

    def emit_order(
        self, index: int, plan: _Plan, house_bill: str,
        identity: tuple[str, str, str, str, str], variant: int, discount: float,
        flash: bool, shipping: bool,
    ) -> None:
        """The marketplace's rows of one parcel: its order (once per order), its lines,
        the fulfillment with the house bill, and which order lines the parcel carries."""
        t = self.t
        rnd = self.rnd
        orders, order_lines, fulfillments, *_ = self.out
        parcel_lines = self.out[9]
        seller = plan.seller
        currency = t.currency[seller]
        owner = index if plan.order_of < 0 else plan.order_of
        order_id = f"ORD{_FIRST_ORDER + owner}"
        clock = t.clock
        days = t.days
        ordered = plan.order_day * 86400 + int(rnd() * 86400)
        if plan.order_of >= 0:  # a later parcel of the order: ship after the order's time
            ordered = (plan.order_day + 1) * 86400 - 1
        departure = t.departure[plan.master]
        shipped = ordered + 3600 + int(rnd() * max(0, departure - ordered - 4 * 3600))
        if plan.order_of < 0:
            name, address = _spell(identity, variant)
            paid = plan.order_paid * discount
            total = paid * (2.05 + rnd() * 1.5) if shipping else paid
            orders.append(
                f"{order_id},{name},{_csv(address)},{days[ordered // 86400]}"
                f"{clock[ordered % 86400]},{total:.2f},{currency}\n"
            )
        fulfillments.append(
            f"FUL{_FIRST_ORDER + index},{order_id},{t.carrier[plan.master]},{house_bill},"
            f"{days[shipped // 86400]}{clock[shipped % 86400]}\n"
        )
        for line_no, (listing, qty) in enumerate(plan.lines, plan.line_base + 1):
            parcel_lines.append(f"{house_bill},{order_id},{line_no},{qty}\n")
            if flash:  # the listing's price that day, and what was paid at it
                unit = round(t.price[listing] * discount, 2)
                order_lines.append(f"{order_id},{line_no},{t.listing_id[listing]},{qty},"
                                   f"{unit:.2f},{unit * qty:.2f}\n")
            elif discount < 1.0:
                order_lines.append(
                    f"{order_id},{line_no},{t.listing_id[listing]},{qty},"
                    f"{t.price_text[listing]},{t.price[listing] * qty * discount:.2f}\n"
                )
            elif qty == 1:
                order_lines.append(f"{order_id},{line_no},{t.single_line[listing]}")
            else:
                order_lines.append(
                    f"{order_id},{line_no},{t.listing_id[listing]},{qty},"
                    f"{t.price_text[listing]},{t.price[listing] * qty:.2f}\n"
                )

    def emit_entry(self, members: list[_Entry]) -> None:
        """One entry for ``members`` (several house bills: a consolidated entry)."""
        t = self.t
        rnd = self.rnd
        first = members[0]
        plan = first.plan
        master = plan.master
        serial = f"{self.first_entry + first.index // len(_FILERS):07d}"
        filer = _FILERS[first.index % len(_FILERS)]
        entry = f"{filer}-{serial}-{entry_check_digit(filer, serial)}"
        name, address = _spell(first.identity, plan.variants[2])
        total_usd = round(sum(m.total_usd for m in members), 2)
        if self.threshold > 0 and total_usd <= self.threshold:
            kind_and_importer = f"86,,{name}"
        elif total_usd <= _INFORMAL_LIMIT_USD:
            kind_and_importer = f"11,{name},{name}"
        else:
            kind_and_importer = f"01,{name},{name}"
        total_text = f"{total_usd:.2f}"
        self.out[5].append(
            f"{entry},{kind_and_importer},{_csv(address)},{t.port[master]},"
            f"{first.arrival_day},{t.mawb[master]},{first.house_bill},{total_text},"
            f"{'released' if rnd() < 0.7 else 'pending'}\n"
        )
        entry_lines = self.out[6]
        if len(members) == 1 and len(plan.lines) == 1 and first.decoy < 0 \
                and not plan.flags & _ENTITY:
            listing, qty = plan.lines[0]
            entry_lines.append(f"{entry},1,{t.entry_head[listing]},{qty},{total_text},"
                               f"{t.entry_tail[listing]}")
            return
        line_no = 0
        for member in members:
            if member is not first:
                self.out[11].append(f"{entry},{member.house_bill}\n")
            lines = member.plan.lines
            entity = member.plan.flags & _ENTITY
            entity_line = int(rnd() * len(lines)) if entity else -1
            values = _split(member.total_usd,
                            [t.price[listing] * qty for listing, qty in lines])
            for n, (listing, qty) in enumerate(lines):
                if member.decoy >= 0 and (n + member.index) % 2 == 0:
                    head = f"{_ENTRY_CODE[member.decoy]},{t.origin[listing]}"
                else:
                    head = t.entry_head[listing]
                tail = t.entry_tail[listing]
                if n == entity_line:
                    listed = self.w.listed_mids[t.origin[listing]]
                    tail = f"{listed[int(rnd() * len(listed))]},{t.certificate[listing]}\n"
                line_no += 1
                entry_lines.append(f"{entry},{line_no},{head},{qty},{values[n]:.2f},{tail}")

    def result(self) -> ChunkResult:
        return ChunkResult(
            tuple("".join(lines).encode() for lines in self.out),
            tuple(len(lines) for lines in self.out),
            tuple(self.counts),
            frozenset(self.used),
        )


def _csv(text: str) -> str:
    """``text`` as a CSV field: quoted when it holds a comma (it never holds quotes)."""
    return f'"{text}"' if "," in text else text


_FX = codes.FX_PER_USD
_HS6 = tuple(code.hs6 for code in codes.HS_CODES)
_DESCRIPTION_UPPER = tuple(_csv(code.description.upper()) for code in codes.HS_CODES)
_ITEM = tuple(f"{_csv(code.description)},{code.hs6}" for code in codes.HS_CODES)
_ENTRY_CODE = tuple(f"{code.hts10},{_csv(code.description)}" for code in codes.HS_CODES)
_WEIGHT = tuple((lo, hi - lo) for lo, hi in (code.weight_kg for code in codes.HS_CODES))


def _line_amount(price: tuple[float, ...]) -> Callable[[tuple[int, int]], float]:
    def amount(line: tuple[int, int]) -> float:
        return price[line[0]] * line[1]

    return amount


@dataclass(frozen=True)
class Tables:
    """Per-process lookup tables and ready-made CSV fragments for one world."""

    world: World
    days: tuple[str, ...]
    clock: tuple[str, ...]
    region: tuple[str, ...]
    chapter: tuple[str, ...]
    currency: tuple[str, ...]
    shipper: tuple[str, ...]  # shipper_name,shipper_address,shipper_country
    manifest_shipper: tuple[str, ...]  # shipper_name,shipper_country
    listing_id: tuple[str, ...]
    code: tuple[int, ...]
    price: tuple[float, ...]
    price_text: tuple[str, ...]
    origin: tuple[str, ...]
    certificate: tuple[str, ...]
    single_line: tuple[str, ...]  # listing_id,1,unit_price,amount_paid for one piece
    entry_head: tuple[str, ...]  # hts10,description,origin_country
    entry_tail: tuple[str, ...]  # mid,certificate_ref
    carrier: tuple[str, ...]
    mawb: tuple[str, ...]
    port: tuple[str, ...]
    departure: tuple[int, ...]
    forwarders: tuple[tuple[str, str, str, str, str], ...]


def prepare(world: World) -> Tables:
    """Lookup tables for generating chunks of ``world``; build once per process."""
    sellers = world.sellers
    listings = world.listings
    countries = [codes.COUNTRIES[c] for c in sellers.country]
    names = [_csv(name) for name in sellers.name]
    price_text = tuple(f"{price:.2f}" for price in listings.price)
    return Tables(
        world=world,
        days=tuple(world.day(d) for d in range(world.first_arrival + world.params.days + 1)),
        clock=tuple(f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60)
                    for s in range(60)),
        region=tuple(c.region for c in countries),
        chapter=sellers.chapter,
        currency=sellers.currency,
        shipper=tuple(
            f"{name},{_csv(address)},{country.iso2}"
            for name, address, country in zip(names, sellers.address, countries, strict=True)
        ),
        manifest_shipper=tuple(
            f"{name},{country.iso2}" for name, country in zip(names, countries, strict=True)
        ),
        listing_id=listings.id,
        code=listings.code,
        price=listings.price,
        price_text=price_text,
        origin=listings.origin,
        certificate=listings.certificate,
        single_line=tuple(
            f"{listing_id},1,{text},{text}\n"
            for listing_id, text in zip(listings.id, price_text, strict=True)
        ),
        entry_head=tuple(
            f"{_ENTRY_CODE[code]},{origin}"
            for code, origin in zip(listings.code, listings.origin, strict=True)
        ),
        entry_tail=tuple(
            f"{mid},{certificate}\n"
            for mid, certificate in zip(listings.mid, listings.certificate, strict=True)
        ),
        carrier=world.masters.carrier,
        mawb=world.masters.mawb,
        port=world.masters.port,
        departure=world.masters.departure_s,
        forwarders=forwarders(world.params.seed),
    )


def _split(total: float, weights: list[float]) -> list[float]:
    """``total`` shared in proportion to ``weights``, in cents that add up exactly."""
    if len(weights) == 1:
        return [total]
    whole = sum(weights)
    parts = [round(total * weight / whole, 2) for weight in weights[:-1]]
    parts.append(round(total - sum(parts), 2))
    if parts[-1] < 0:
        parts = [total] + [0.0] * (len(weights) - 1)
    return parts


def generate_chunk(tables: Tables, chunk: int, start: int, stop: int) -> ChunkResult:
    """All per-shipment rows for shipments ``start`` (inclusive) to ``stop``."""
    generator = _Chunk(tables, chunk)
    generator.run(start, stop)
    return generator.result()
