"""Round trips: generated valid rows, written as CSV and as JSON Lines, come back unchanged."""

from __future__ import annotations

import string
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedtrade.node.store import TABLES, import_path
from fedtrade.node.store import columns as c
from fedtrade.node.store import identifiers as ids
from fedtrade.node.store.columns import ColumnType, SqlValue
from fedtrade.node.store.schema import TableSpec
from tests.node.store.samples import Row, stored_rows, write_csv, write_jsonl

UPPER_DIGITS = string.ascii_uppercase + string.digits


def _fixed_digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=n, max_size=n)


def _timestamp(moment: object) -> str:
    return f"{moment:%Y}".zfill(4) + f"{moment:-%m-%dT%H:%M:%SZ}"


def _entry_number(filer: str, serial: str) -> str:
    return f"{filer}-{serial}-{ids.entry_check_digit(filer, serial)}"


def _gtin(body: str) -> str:
    return body + str(ids.gtin_check_digit(body))


STRATEGIES: dict[ColumnType, st.SearchStrategy[SqlValue]] = {
    c.TEXT: st.text(st.characters(codec="utf-8"), min_size=1, max_size=20),
    c.IDENT: st.text(string.ascii_letters + string.digits + "-_./#", min_size=1, max_size=12),
    c.DATE: st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
    c.TIMESTAMP: st.datetimes().map(_timestamp),
    c.FLAG: st.sampled_from([0, 1]),
    c.MONEY: st.integers(0, 10**11).map(lambda cents: cents / 100),
    c.POSITIVE_REAL: st.floats(min_value=0.001, max_value=1e6),
    c.COUNTRY: st.sampled_from(sorted(ids.COUNTRIES)),
    c.CURRENCY: st.sampled_from(sorted(ids.CURRENCIES)),
    c.HS6: st.integers(10_000, 999_999).map(lambda n: f"{n:06d}"),
    c.HTS10: st.integers(10**8, 10**10 - 1).map(lambda n: f"{n:010d}"),
    c.MAWB: st.tuples(_fixed_digits(3), _fixed_digits(7)).map(
        lambda p: f"{p[0]}{p[1]}{ids.mawb_check_digit(p[1])}"
    ),
    c.ENTRY_NUMBER: st.tuples(
        st.text(UPPER_DIGITS, min_size=3, max_size=3).filter(lambda f: f != "000"),
        _fixed_digits(7),
    ).map(lambda p: _entry_number(*p)),
    c.GTIN: st.sampled_from([7, 11, 12, 13]).flatmap(_fixed_digits).map(_gtin),
    c.MID: st.tuples(
        st.sampled_from(sorted(ids.COUNTRIES)), st.text(UPPER_DIGITS, min_size=1, max_size=13)
    ).map("".join),
    c.AIRPORT: st.text(string.ascii_uppercase, min_size=3, max_size=3),
    c.PORT_CODE: _fixed_digits(4),
    c.HOUSE_BILL: st.text(UPPER_DIGITS, min_size=4, max_size=20),
    c.FLIGHT_NO: st.tuples(
        st.sampled_from(string.ascii_uppercase), st.sampled_from(UPPER_DIGITS),
        st.text(string.digits, min_size=1, max_size=4),
    ).map("".join),
    c.CARRIER_CODE: st.text(string.ascii_uppercase, min_size=2, max_size=3),
}


def _column_strategy(spec: TableSpec, name: str) -> st.SearchStrategy[SqlValue]:
    col = next(col for col in spec.columns if col.name == name)
    if col.type.choices:
        base: st.SearchStrategy[SqlValue] = st.sampled_from(col.type.choices)
    elif col.type.sql == "INTEGER" and col.type is not c.FLAG:
        base = st.integers(1, 10**6)
    else:
        base = STRATEGIES[col.type]
    return st.none() | base if col.nullable else base


def _fix_rules(table: str, row: Row) -> Row:
    if table == "sellers" and row["kyc_verified"] == 1 and row["kyc_verified_at"] is None:
        row["kyc_verified_at"] = row["registered_at"]
    if table == "masters":
        departure, eta = sorted([str(row["departure_at"]), str(row["eta"])])
        row.update(departure_at=departure, eta=eta)
    return row


def rows_of(
    table: str, min_size: int = 0, **fixed: st.SearchStrategy[SqlValue]
) -> st.SearchStrategy[list[Row]]:
    spec = TABLES[table]
    row = st.fixed_dictionaries(
        {
            name: fixed[name] if name in fixed else _column_strategy(spec, name)
            for name in spec.column_names
        }
    ).map(lambda r: _fix_rules(table, r))
    pk = spec.primary_key
    return st.lists(
        row, min_size=min_size, max_size=8, unique_by=lambda r: tuple(r[k] for k in pk)
    )


WRITERS: list[Callable[[Path, str, list[Row]], Path]] = [write_csv, write_jsonl]
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _round_trip(role: str, files: list[tuple[str, list[Row]]]) -> None:
    for writer in WRITERS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "in"
            folder.mkdir()
            for table, rows in files:
                suffix = ".csv" if writer is write_csv else ".jsonl"
                writer(folder / f"{table}{suffix}", table, rows)
            db = Path(tmp) / "store.db"
            report = import_path(db, role, None, folder, progress=False)
            for table, rows in files:
                assert stored_rows(db, table) == rows, (writer.__name__, table)
                assert report.rows_inserted[table] == len(rows)


@pytest.mark.parametrize(
    ("role", "table"),
    [
        ("marketplace", "sellers"),
        ("marketplace", "orders"),
        ("carrier", "masters"),
        ("broker", "entries"),
        ("broker", "entity_list"),
        ("carrier", "recalled_products"),
    ],
)
def test_round_trip_single_table(role: str, table: str) -> None:
    @SETTINGS
    @given(rows=rows_of(table))
    def check(rows: list[Row]) -> None:
        _round_trip(role, [(table, rows)])

    check()


@SETTINGS
@given(data=st.data())
def test_round_trip_parent_and_child_files(data: st.DataObject) -> None:
    masters = data.draw(rows_of("masters", min_size=1))
    mawbs = st.sampled_from([m["mawb"] for m in masters])
    house_bills = data.draw(rows_of("house_bills", mawb=mawbs))
    _round_trip("carrier", [("masters", masters), ("house_bills", house_bills)])
