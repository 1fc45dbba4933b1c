"""The derived tables an import updates by key equal a rebuild from scratch, row for row.

Each role's share of a small synthetic world is imported in parts: a first import, then
a random sequence of further imports (held-out parcels with their children, new links
between rows) and amendments (rows of any of the role's tables replaced by a later
version, links included: a listing moved to another seller, a house bill to another
master, an entry to another house bill). After every step ``parcel_indicators`` and
``consignee_parcels`` must equal what ``indicators.refresh`` rebuilds whole from the
same store. A failing import, and a quarantine import, keep that true.
"""

from __future__ import annotations

import csv
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedtrade.node.store import indicators
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.migrations import open_store
from fedtrade.sim.csvrows import Row, read_rows, write_rows
from fedtrade.sim.synth import generate
from fedtrade.sim.synth.confounders import MIXES
from fedtrade.trust.errors import FedtradeError

ROLES = ("marketplace", "carrier", "broker")
DERIVED = ("parcel_indicators", "consignee_parcels")
# Per role: the table whose rows are held out of the first import, with the children
# that go with them (same key column).
_HELD = {"marketplace": ("fulfillments", "house_bill", ("parcel_lines",)),
         "carrier": ("house_bills", "house_bill", ("house_bill_items",)),
         "broker": ("entries", "entry_number", ("entry_lines", "entry_house_bills"))}

# Per role: pairs of stored rows not linked yet (sellers with sales; an entry and the
# house bill of another entry).
_SELLING = "SELECT l.seller_id FROM listings l JOIN order_lines ol USING (listing_id)"
_LINKS = {
    "marketplace": f"SELECT DISTINCT a.seller_id, b.seller_id FROM ({_SELLING}) a, ({_SELLING}) b "
                   "WHERE a.seller_id != b.seller_id AND NOT EXISTS (SELECT 1 FROM seller_links "
                   "k WHERE k.seller_id = a.seller_id AND k.linked_seller_id = b.seller_id)",
    "broker": "SELECT a.entry_number, b.house_bill FROM entries a, entries b "
              "WHERE a.house_bill != b.house_bill AND NOT EXISTS (SELECT 1 FROM "
              "entry_house_bills x WHERE x.entry_number = a.entry_number "
              "AND x.house_bill = b.house_bill)",
}


# An amendment: (table, column, new value from (rng, row, store), which rows); the value
# may be another row's key, so links move.
Change = tuple[str, str, Callable[[random.Random, Row, sqlite3.Connection], str], str]
_SOLD = "listing_id IN (SELECT listing_id FROM order_lines)"
_LINKED = ("seller_id IN (SELECT seller_id FROM seller_links "
           "UNION SELECT linked_seller_id FROM seller_links)")


def _pick(sql: str) -> Callable[[random.Random, Row, sqlite3.Connection], str]:
    return lambda rng, _row, conn: str(rng.choice(conn.execute(sql).fetchall())[0])


def _one_of(*values: str) -> Callable[[random.Random, Row, sqlite3.Connection], str]:
    return lambda rng, _row, _conn: rng.choice(values)


_CHANGES: dict[str, tuple[Change, ...]] = {
    "marketplace": (
        ("sellers", "status", _one_of("active", "suspended", "closed"), _LINKED),
        ("sellers", "high_volume", _one_of("0", "1"), "1"),
        ("listings", "seller_id", _pick("SELECT seller_id FROM sellers"), _SOLD),
        ("listings", "gtin", _pick("SELECT gtin FROM recalled_products"), _SOLD),
        ("orders", "buyer_name", _one_of("Jane Roe", "ROE, JANE", "John Smith"), "1"),
        ("order_lines", "amount_paid", _one_of("1.00", "999.99", "12.34"), "1"),
        ("fulfillments", "order_id", _pick("SELECT order_id FROM fulfillments"), "1"),
        ("fulfillments", "shipped_at", _one_of("2025-03-01T10:00:00Z", "2025-03-05T10:00:00Z"),
         "1"),
    ),
    "carrier": (
        ("house_bills", "mawb", _pick("SELECT mawb FROM masters"), "1"),
        ("house_bills", "screened", _one_of("0", "1"), "1"),
        ("house_bills", "shipper_name", _pick("SELECT name FROM entity_list"), "1"),
        ("house_bill_items", "value", _one_of("1.00", "5000.00"), "1"),
        ("masters", "eta", lambda _rng, row, _conn: row["departure_at"],
         "mawb IN (SELECT mawb FROM house_bills)"),
    ),
    "broker": (
        ("entries", "house_bill", _pick("SELECT house_bill FROM entries"), "1"),
        ("entries", "release_status", _one_of("pending", "released", "hold"), "1"),
        ("entries", "estimated_arrival", _one_of("2025-03-01", "2025-03-09"), "1"),
        ("entry_lines", "mid", _pick("SELECT mid FROM entity_list WHERE mid IS NOT NULL"), "1"),
        ("entry_lines", "value_usd", _one_of("1.00", "5000.00"), "1"),
    ),
}


def _derived(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in DERIVED}


def _check_equal_to_rebuild(db: Path, role: str) -> None:
    store = open_store(db, role)
    try:
        conn = store.conn
        kept = _derived(conn)
        conn.execute("BEGIN")
        indicators.refresh(conn, role)
        rebuilt = _derived(conn)
        conn.execute("ROLLBACK")
    finally:
        store.close()
    assert kept == rebuilt


def _stored_rows(db: Path, table: str, rng: random.Random, count: int, where: str = "1"
                 ) -> list[Row]:
    conn = sqlite3.connect(db)
    try:
        cursor = conn.execute(f"SELECT * FROM {table} WHERE {where}")
        names = [d[0] for d in cursor.description]
        rows = [{n: "" if v is None else str(v) for n, v in zip(names, r, strict=True)}
                for r in cursor.fetchall()]
    finally:
        conn.close()
    return rng.sample(rows, min(count, len(rows)))


class _Store:
    """One role's store, built in steps from a world's files."""

    def __init__(self, world: Path, work: Path, role: str, parts: int) -> None:
        self.role, self.work = role, work
        self.db = work / f"{role}.db"
        self.steps = 0
        table, key, children = _HELD[role]
        source = world / role
        first = work / "first"
        rows = read_rows(source / f"{table}.csv")
        # the second half, dealt round the parts
        held = {row[key]: n % parts for n, row in enumerate(rows[len(rows) // 2:])}
        # the broker's entity list, held by every role (names, MIDs)
        files = {p.stem: p for p in [*source.glob("*.csv"), world / "broker/entity_list.csv"]}
        for name, path in files.items():
            file_rows = read_rows(path)
            header = _read_header(path)
            if name not in (table, *children):
                write_rows(first / f"{name}.csv", file_rows, header)
                continue
            if name == "parcel_lines":  # every third parcel carries its order's lines
                file_rows = [r for n, r in enumerate(file_rows) if n % 3]
            write_rows(first / f"{name}.csv", [r for r in file_rows if r[key] not in held], header)
            for part in range(parts):
                picked = [r for r in file_rows if held.get(r[key]) == part]
                if picked:
                    write_rows(work / f"part{part}" / f"{name}.csv", picked, header)
        self.parts = sorted(p for p in work.glob("part*"))
        import_path(self.db, role, None, first, progress=False)

    def add_part(self, number: int) -> None:
        if self.parts:
            import_path(self.db, self.role, None, self.parts[number % len(self.parts)],
                        progress=False)

    def amend(self, rng: random.Random, change: Change, count: int) -> None:
        table, column, value, where = change
        rows = _stored_rows(self.db, table, rng, count, where)
        conn = sqlite3.connect(self.db)
        try:
            amended = [{**row, column: value(rng, row, conn), "version": str(self.steps + 1)}
                       for row in rows]
        finally:
            conn.close()
        if amended:
            self._import(table, amended)

    def link(self, rng: random.Random, count: int) -> None:
        """New links between stored rows: a marketplace seller linked to another seller
        (both selling), a broker's entry covering other entries' house bills."""
        if self.role == "carrier":
            return
        pairs = _LINKS[self.role]
        conn = sqlite3.connect(self.db)
        try:
            rows = conn.execute(pairs).fetchall()
        finally:
            conn.close()
        picked = rng.sample(rows, min(count, len(rows)))
        if self.role == "marketplace":
            self._import("seller_links", [{"seller_id": a, "linked_seller_id": b,
                                           "reason": "shared_address"} for a, b in picked])
        else:  # every other one a house bill no entry files for, so this one is chosen
            self._import("entry_house_bills", [
                {"entry_number": a, "house_bill": b if n % 2 else f"ZZ{b[2:]}"}
                for n, (a, b) in enumerate(picked)])

    def _import(self, table: str, rows: list[Row]) -> None:
        self.steps += 1
        path = write_rows(self.work / f"step{self.steps}" / f"{table}.csv", rows)
        import_path(self.db, self.role, table, path, progress=False)


def _read_header(path: Path) -> list[str]:
    with path.open(newline="") as f:
        return next(csv.reader(f))


@pytest.fixture(autouse=True)
def by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rebuild by key whatever share of these small stores a step touches (a large share
    is otherwise rebuilt whole)."""
    monkeypatch.setattr(indicators, "_WHOLE_SHARE", 1.0)


@pytest.fixture(scope="module", params=["none", "heavy"])
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A clean world, and one with the heaviest confounder mix (name and address variants,
    multi-seller orders, consolidated entries, late and foreign entries)."""
    folder = tmp_path_factory.mktemp("world")
    generate(folder, shipments=120, seed=11, progress=False, workers=1,
             confounders=MIXES[request.param])
    return folder


_STEP = st.tuples(st.sampled_from(("add", "amend", "amend", "link")),
                  st.integers(0, 99), st.integers(1, 12))


@pytest.mark.parametrize("role", ROLES)
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEP, min_size=1, max_size=5), seed=st.integers(0, 2**32))
def test_imports_and_amendments_keep_the_derived_tables_equal_to_a_rebuild(
    world: Path, tmp_path_factory: pytest.TempPathFactory, role: str,
    steps: list[tuple[str, int, int]], seed: int,
) -> None:
    rng = random.Random(seed)
    store = _Store(world, tmp_path_factory.mktemp(role), role, parts=3)
    _check_equal_to_rebuild(store.db, role)
    for kind, number, count in steps:
        if kind == "add":
            store.add_part(number)
        elif kind == "link":
            store.link(rng, count)
        else:
            changes = _CHANGES[role]
            store.amend(rng, changes[number % len(changes)], count)
        _check_equal_to_rebuild(store.db, role)


@pytest.mark.parametrize("role", ROLES)
def test_every_kind_of_change_in_turn_keeps_the_derived_tables_equal_to_a_rebuild(
    world: Path, tmp_path: Path, role: str
) -> None:
    """Each amendment of ``_CHANGES``, a new link and new parcels, one after the other."""
    rng = random.Random(role)
    store = _Store(world, tmp_path, role, parts=2)
    store.link(rng, 12)
    _check_equal_to_rebuild(store.db, role)
    for change in _CHANGES[role]:
        store.amend(rng, change, 12)
        _check_equal_to_rebuild(store.db, role)
    store.add_part(0)
    _check_equal_to_rebuild(store.db, role)


def _everything(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        tables = [t for (t,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in tables}
    finally:
        conn.close()


# Per role: a free-text column of an imported table, changed by the failing amendment.
_FREE_TEXT = {"marketplace": ("orders", "buyer_name"), "carrier": ("house_bills", "shipper_name"),
              "broker": ("entries", "consignee_name")}


class _Refuse:
    """A publish step that fails once it has seen the derived tables as updated."""

    def begin(self, conn: sqlite3.Connection) -> None:
        pass

    def __call__(self, conn: sqlite3.Connection) -> None:
        _seen.append(_derived(conn))
        raise FedtradeError("the publish step failed")


_seen: list[dict[str, list[tuple[object, ...]]]] = []


@pytest.mark.parametrize("role", ROLES)
def test_a_failing_import_or_amendment_leaves_the_store_as_before(
    world: Path, tmp_path: Path, role: str
) -> None:
    """Stopped while writing rows, or after the derived rows were updated (``publish``
    runs last in the import's transaction): nothing of either is kept."""
    store = _Store(world, tmp_path, role, parts=1)
    before = _everything(store.db)
    table, column = _FREE_TEXT[role]
    rows = _stored_rows(store.db, table, random.Random(1), 3)
    amended = write_rows(tmp_path / "amend" / f"{table}.csv",
                     [{**row, column: row[column] + " B", "version": "5"} for row in rows])
    for path, part_table in ((store.parts[0], None), (amended, table)):
        with pytest.raises(FedtradeError, match="fail_after_rows"):
            import_path(store.db, role, part_table, path, progress=False, fail_after_rows=1)
        assert _everything(store.db) == before
        _seen.clear()
        with pytest.raises(FedtradeError, match="publish step failed"):
            import_path(store.db, role, part_table, path, progress=False, publish=_Refuse())
        assert _seen[0] != {t: before[t] for t in DERIVED}  # updated, then rolled back
        assert _everything(store.db) == before
    store.add_part(0)
    report = import_path(store.db, role, table, amended, progress=False)
    assert report.files[0].rows_amended == len(rows)
    _check_equal_to_rebuild(store.db, role)


def test_a_quarantine_import_keeps_the_derived_tables_equal_to_a_rebuild(
    world: Path, tmp_path: Path
) -> None:
    store = _Store(world, tmp_path, "marketplace", parts=1)
    part = store.parts[0]
    fulfillments = read_rows(part / "fulfillments.csv")
    fulfillments[0]["shipped_at"] = "yesterday"
    write_rows(part / "fulfillments.csv", fulfillments)
    report = import_path(store.db, "marketplace", None, part, progress=False,
                         quarantine=tmp_path / "rejects")
    assert report.files[0].rows_rejected >= 1
    assert sum(f.rows_inserted for f in report.files) > 0
    _check_equal_to_rebuild(store.db, "marketplace")
