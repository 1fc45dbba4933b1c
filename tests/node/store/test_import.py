"""import_path: every rule refused with file, line and field; all or nothing; idempotent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fedtrade.node.store import import_path, open_store
from fedtrade.node.store.columns import SqlValue
from fedtrade.trust.errors import ConfigError, DataError, FedtradeError
from tests.node.store.samples import (
    ROLE_TABLES,
    SAMPLES,
    Row,
    dump,
    stored_rows,
    write_csv,
    write_jsonl,
)

ROLE_OF = {table: role for role, tables in ROLE_TABLES.items() for table in tables}


def parents_of(table: str) -> tuple[str, ...]:
    tables = ROLE_TABLES[ROLE_OF[table]]
    return tables[: tables.index(table)]


def store_with_parents(tmp_path: Path, table: str) -> Path:
    """A store of the table's role holding the sample rows of every table before it."""
    db = tmp_path / "store.db"
    role = ROLE_OF.get(table, "broker")
    open_store(db, role).close()
    for parent in parents_of(table) if table in ROLE_OF else ():
        path = write_csv(tmp_path / f"{parent}.csv", parent, SAMPLES[parent])
        import_path(db, role, parent, path, progress=False)
    return db


def refused(
    db: Path, role: str, path: Path, table: str | None = None, max_errors: int = 20
) -> str:
    """Run an import that must fail and leave the store as it was; return the message."""
    open_store(db, role).close()
    before = dump(db)
    with pytest.raises(DataError) as info:
        import_path(db, role, table, path, progress=False, max_errors=max_errors)
    assert dump(db) == before
    message = str(info.value)
    assert message.startswith("import refused, nothing was written")
    return message


def with_value(table: str, index: int, **changes: SqlValue) -> list[Row]:
    rows = [dict(row) for row in SAMPLES[table]]
    rows[index].update(changes)
    return rows


# (table, field, bad CSV cell, what the message must say)
BAD_CELLS = [
    ("sellers", "seller_id", "S\x002", "is not a usable identifier"),
    ("sellers", "legal_name", "", "is missing (expected text)"),
    ("sellers", "country", "XX", "is not an ISO 3166-1 alpha-2 country code"),
    ("sellers", "country", "d e", "is not an ISO 3166-1 alpha-2 country code"),
    ("sellers", "kyc_verified", "yes", "is not a flag (expected a flag: 0 or 1"),
    ("sellers", "high_volume", "2", "is not a flag"),
    ("sellers", "registered_at", "2024-02-30", "is not a real date"),
    ("sellers", "registered_at", "10/03/2024", "is not a date (expected a date YYYY-MM-DD)"),
    ("sellers", "status", "banned", "(expected one of active, suspended, closed)"),
    ("listings", "hs6_hint", "85183", "is not an HS6 code"),
    ("listings", "gtin", "012345678904", "has check digit 4 but the GS1 check digit is 5"),
    ("listings", "price", "-1.00", "is negative (expected an amount >= 0 with at most 2 decimals"),
    ("listings", "price", "19.9.9", "is not a decimal number"),
    ("listings", "price", "19,99", "is not a decimal number"),
    ("listings", "price", "1e3", "is not a decimal number"),
    ("listings", "currency", "XYZ", "is not an active ISO 4217 currency code"),
    ("orders", "ordered_at", "2025-03-02 10:00:00", "is not a timestamp"),
    ("orders", "ordered_at", "2025-03-02T24:00:00Z", "is not a real point in time"),
    ("orders", "total_paid", "", "is missing"),
    ("order_lines", "line_no", "0", "is out of range (expected a whole number >= 1)"),
    ("order_lines", "quantity", "1.5", "is not a whole number"),
    ("order_lines", "quantity", "99999999999999999999", "is out of range"),
    ("order_lines", "quantity", "9" * 5000, "is out of range"),  # int() raised ValueError
    ("listings", "price", "9" * 500 + ".5", "is out of range"),  # once decimal.InvalidOperation
    ("fulfillments", "carrier_code", "d-hl", "is not a carrier code"),
    ("fulfillments", "house_bill", "HB-2", "is not a house bill number"),
    ("fulfillments", "house_bill", "RR123456784US", "looks like a UPU S10 tracking number"),
    ("masters", "mawb", "02012345676", "check digit 6 but serial 1234567 mod 7 is 5"),
    ("masters", "mawb", "020-1234567", "is not 11 digits"),
    ("masters", "flight_no", "LH", "is not a flight number"),
    ("masters", "origin_airport", "fr", "is not an airport code"),
    ("house_bills", "weight_kg", "0", "is not greater than 0"),
    ("house_bills", "pieces", "0", "is out of range"),
    ("house_bills", "declared_value", "-0.01", "is negative"),
    ("house_bills", "preload_status", "ok", "(expected one of accepted, pending, hold, do_not"),
    ("house_bills", "hs6", "001830", "HS chapter 00"),
    ("entries", "entry_number", "ABC-1234567-5", "the CBP check digit is 6"),
    ("entries", "entry_type", "02", "(expected one of 01, 11, 86)"),
    ("entries", "port_code", "47A1", "is not a US port code"),
    ("entries", "estimated_arrival", "2025-3-2", "is not a date"),
    ("entry_lines", "hts10", "851830000", "is not an HTS10 code"),
    ("entry_lines", "mid", "ZZTOYCO12TOR", "ZZ, which is not an ISO 3166 country code"),
    ("entry_lines", "origin_country", "", "is missing"),
    ("recalled_products", "gtin", "96385075", "has check digit 5 but the GS1 check digit is 4"),
    ("entity_list", "mid", "c", "is not a manufacturer ID"),
]


@pytest.mark.parametrize(("table", "field", "cell", "message"), BAD_CELLS)
def test_bad_csv_value_is_refused_with_line_and_field(
    tmp_path: Path, table: str, field: str, cell: str, message: str
) -> None:
    db = store_with_parents(tmp_path, table)
    path = write_csv(tmp_path / f"new_{table}.csv", table, with_value(table, 1, **{field: cell}))
    text = refused(db, ROLE_OF.get(table, "broker"), path, table=table)
    assert f"{path}:3: {field}: " in text, text
    assert message in text, text
    assert "(1 error)" in text


# (table, field, bad JSON value, what the message must say)
BAD_JSON_VALUES: list[tuple[str, str, object, str]] = [
    ("sellers", "kyc_verified", "1", "is a JSON string, not a flag"),
    ("sellers", "kyc_verified", 2, "is not a flag"),
    ("sellers", "country", 840, "is a JSON number, not a string"),
    ("sellers", "status", None, "is missing"),
    ("order_lines", "quantity", True, "is a JSON boolean, not a whole number"),
    ("order_lines", "quantity", 2.5, "is a JSON number, not a whole number"),
    ("listings", "price", "19.99", "is a JSON string, not a number"),
    ("listings", "price", -19.999, "is negative"),
    ("house_bills", "weight_kg", -1, "is not greater than 0"),
    ("house_bills", "description", ["a"], "is a JSON array, not a string"),
]


@pytest.mark.parametrize(("table", "field", "value", "message"), BAD_JSON_VALUES)
def test_bad_json_value_is_refused_with_line_and_field(
    tmp_path: Path, table: str, field: str, value: object, message: str
) -> None:
    db = store_with_parents(tmp_path, table)
    rows: list[dict[str, object]] = [dict(row) for row in SAMPLES[table]]
    rows[2][field] = value
    path = tmp_path / f"new_{table}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    text = refused(db, ROLE_OF[table], path, table=table)
    assert f"{path}:3: {field}: " in text, text
    assert message in text, text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "is not valid JSON (Expecting value"),
        ("[1, 2]", "is not a JSON object"),
        ('{"seller_id": "S9", "seller_id": "S8"}',
         "is not valid JSON (field(s) 'seller_id' appear more than once)"),
        ('{"seller_id": NaN}', "is not valid JSON (NaN is not allowed in JSON)"),
        ('{"seller_id": ' + "[" * 100_000 + "]" * 100_000 + "}",  # once RecursionError
         "nests arrays or objects too deeply"),
    ],
)
def test_malformed_json_line_is_refused(tmp_path: Path, line: str, message: str) -> None:
    db = store_with_parents(tmp_path, "sellers")
    path = write_jsonl(tmp_path / "sellers.jsonl", "sellers", SAMPLES["sellers"])
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + line + "\n")
    text = refused(db, "marketplace", path)
    assert f"{path}:5: {message}" in text, text


@pytest.mark.parametrize(
    ("table", "field", "number", "problem"),
    [("listings", "price", "1e400", "is not a decimal number"),
     ("listings", "price", "1e-400", "is not a decimal number"),
     ("house_bills", "weight_kg", "1e400", "is out of range"),
     ("house_bills", "weight_kg", "1e-400", "is out of range"),
     ("house_bills", "declared_value", "9" * 400, "is out of range")],
)
def test_json_number_out_of_range_is_a_row_error(
    tmp_path: Path, table: str, field: str, number: str, problem: str
) -> None:
    """Once decimal.InvalidOperation (money) or a stored inf / 0.0 (a real > 0)."""
    db = store_with_parents(tmp_path, table)
    rows: list[dict[str, object]] = [dict(row) for row in SAMPLES[table]]
    rows[2][field] = "NUMBER"
    lines = [json.dumps(row).replace('"NUMBER"', number) for row in rows]
    path = tmp_path / f"new_{table}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = refused(db, ROLE_OF[table], path, table=table)
    assert f"{path}:3: {field}: " in text, text
    assert problem in text, text


def test_unknown_json_field_is_refused(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "sellers")
    rows: list[dict[str, object]] = [dict(row) for row in SAMPLES["sellers"]]
    rows[0]["nickname"] = "acme"
    path = tmp_path / "sellers.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert f"{path}:1: nickname: is not a column of sellers" in refused(db, "marketplace", path)


def test_json_may_omit_nullable_fields_and_use_booleans(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "sellers")
    path = tmp_path / "sellers.jsonl"
    row = {k: v for k, v in SAMPLES["sellers"][1].items() if v is not None}
    row.update(kyc_verified=False, high_volume=True)
    path.write_text(json.dumps(row) + "\n\n", encoding="utf-8")
    import_path(db, "marketplace", None, path, progress=False)
    assert stored_rows(db, "sellers") == [dict(SAMPLES["sellers"][1], high_volume=1)]


@pytest.mark.parametrize(
    ("table", "index", "changes", "field", "message"),
    [
        ("sellers", 1, {"kyc_verified": 1, "kyc_verified_at": None}, "kyc_verified_at",
         "is required when kyc_verified is 1"),
        ("seller_links", 1, {"linked_seller_id": "S2"}, "linked_seller_id",
         "links the seller to itself"),
        ("masters", 1, {"eta": "2025-03-03T00:59:59Z"}, "eta",
         "'2025-03-03T00:59:59Z' is before departure_at '2025-03-03T01:00:00Z' "
         "(expected eta >= departure_at)"),
    ],
)
def test_cross_field_rules(
    tmp_path: Path, table: str, index: int, changes: Row, field: str, message: str
) -> None:
    db = store_with_parents(tmp_path, table)
    path = write_csv(tmp_path / f"new_{table}.csv", table, with_value(table, index, **changes))
    text = refused(db, ROLE_OF[table], path, table=table)
    assert f"{path}:{index + 2}: {field}: {message}" in text, text


def test_foreign_key_must_exist_in_store_or_same_import(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "order_lines")
    rows = with_value("order_lines", 2, listing_id="L404")
    path = write_csv(tmp_path / "order_lines.csv", "order_lines", rows)
    text = refused(db, "marketplace", path)
    assert f"{path}:4: listing_id: 'L404' is not in listings (expected the listing_id" in text


def test_foreign_key_against_parent_file_of_the_same_folder(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "masters.csv", "masters", SAMPLES["masters"][:1])
    write_csv(folder / "house_bills.csv", "house_bills",
              [SAMPLES["house_bills"][0], SAMPLES["house_bills"][2]])
    text = refused(db, "carrier", folder)
    assert f"{folder / 'house_bills.csv'}:3: mawb: '58981140743' is not in masters" in text
    assert "(1 error)" in text


def test_duplicate_primary_key_in_file(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "sellers")
    rows = [*SAMPLES["sellers"], SAMPLES["sellers"][0]]
    path = write_csv(tmp_path / "sellers.csv", "sellers", rows)
    text = refused(db, "marketplace", path)
    # Lines are physical lines: the third sample seller's address spans lines 4 and 5.
    assert (f"{path}:6: seller_id: 'S1' appears more than once in this file (first at line 2"
            in text)


def test_duplicate_composite_key_in_file(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "order_lines")
    rows = [*SAMPLES["order_lines"], dict(SAMPLES["order_lines"][1], quantity=3)]
    path = write_csv(tmp_path / "order_lines.csv", "order_lines", rows)
    text = refused(db, "marketplace", path)
    assert f"{path}:5: (order_id, line_no): ('O1', 2) appears more than once" in text


def test_unique_house_bill_in_file_and_in_store(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "fulfillments")
    rows = with_value("fulfillments", 2, house_bill="HB0001")
    path = write_csv(tmp_path / "fulfillments.csv", "fulfillments", rows)
    text = refused(db, "marketplace", path)
    assert f"{path}:4: house_bill: 'HB0001' appears more than once in this file" in text

    first = write_csv(tmp_path / "first.csv", "fulfillments", SAMPLES["fulfillments"][:1])
    import_path(db, "marketplace", "fulfillments", first, progress=False)
    again = write_csv(tmp_path / "fulfillments.csv", "fulfillments",
                      [dict(SAMPLES["fulfillments"][1], house_bill="HB0001")])
    text = refused(db, "marketplace", again)
    assert f"{again}:2: house_bill: 'HB0001' is already used by fulfillment_id 'F1'" in text


def test_row_stored_with_other_values_is_refused(tmp_path: Path) -> None:
    db = store_with_parents(tmp_path, "sellers")
    import_path(db, "marketplace", None,
                write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"]), progress=False)
    rows = with_value("sellers", 1, address="Elsewhere 1", status="active")
    path = write_csv(tmp_path / "sellers_v2.csv", "sellers", rows)
    text = refused(db, "marketplace", path, table="sellers")
    assert (f"{path}:3: seller_id: 'S2' is already in the store with different values "
            "(address, status); fix the file or remove the row") in text


def test_reimport_same_file_is_skipped(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    path = write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"])
    first = import_path(db, "marketplace", None, path, progress=False)
    assert first.rows_inserted == {"sellers": 3}
    second = import_path(db, "marketplace", None, path, progress=False)
    assert second.files == ()
    assert [(s.table, s.path) for s in second.skipped] == [("sellers", path)]
    assert "skipped, the same file was imported into sellers" in second.summary()
    assert stored_rows(db, "sellers") == SAMPLES["sellers"]


def test_overlapping_file_inserts_only_new_rows(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    import_path(db, "marketplace", None,
                write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"][:2]),
                progress=False)
    path = write_jsonl(tmp_path / "sellers.jsonl", "sellers", SAMPLES["sellers"])
    report = import_path(db, "marketplace", None, path, progress=False)
    (item,) = report.files
    assert (item.rows_inserted, item.rows_unchanged) == (1, 2)
    assert stored_rows(db, "sellers") == SAMPLES["sellers"]


def test_folder_is_imported_parents_first(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = tmp_path / "marketplace"
    folder.mkdir()
    # Alphabetical order would put children first (fulfillments < orders, listings < sellers).
    for table in ROLE_TABLES["marketplace"]:
        write_csv(folder / f"{table}.csv", table, SAMPLES[table])
    write_jsonl(folder / "recalled_products.jsonl", "recalled_products",
                SAMPLES["recalled_products"])
    (folder / "README.txt").write_text("ignored", encoding="utf-8")
    report = import_path(db, "marketplace", None, folder, progress=False)
    assert [item.table for item in report.files] == [
        "sellers", "seller_links", "listings", "orders", "order_lines", "fulfillments",
        "recalled_products",
    ]
    for table in [*ROLE_TABLES["marketplace"], "recalled_products"]:
        assert stored_rows(db, table) == SAMPLES[table]


def test_folder_is_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    open_store(db, "carrier").close()
    folder = tmp_path / "carrier"
    folder.mkdir()
    write_csv(folder / "masters.csv", "masters", SAMPLES["masters"])
    write_csv(folder / "house_bills.csv", "house_bills",
              with_value("house_bills", 2, currency="usx"))
    text = refused(db, "carrier", folder)
    assert f"{folder / 'house_bills.csv'}:4: currency: 'USX'" in text
    assert stored_rows(db, "masters") == []


def test_folder_with_another_roles_table_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "carrier"
    folder.mkdir()
    write_csv(folder / "masters.csv", "masters", SAMPLES["masters"])
    write_csv(folder / "entries.csv", "entries", SAMPLES["entries"])
    write_csv(folder / "notes.csv", "masters", [])
    with pytest.raises(DataError) as info:
        import_path(tmp_path / "store.db", "carrier", None, folder, progress=False)
    text = str(info.value)
    assert f"{folder / 'entries.csv'}: table 'entries' belongs to the broker role" in text
    assert f"{folder / 'notes.csv'}: 'notes' is not a table of a carrier store" in text


def test_folder_with_two_files_for_one_table_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "carrier"
    folder.mkdir()
    write_csv(folder / "masters.csv", "masters", SAMPLES["masters"])
    write_jsonl(folder / "masters.jsonl", "masters", SAMPLES["masters"])
    with pytest.raises(DataError, match=r"both masters\.csv and masters\.jsonl are for table"):
        import_path(tmp_path / "store.db", "carrier", None, folder, progress=False)


def test_table_can_be_picked_from_a_folder_or_named_for_a_file(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    folder = tmp_path / "carrier"
    folder.mkdir()
    write_csv(folder / "masters.csv", "masters", SAMPLES["masters"])
    write_csv(folder / "house_bills.csv", "house_bills", SAMPLES["house_bills"])
    report = import_path(db, "carrier", "masters", folder, progress=False)
    assert report.rows_inserted == {"masters": 3}
    export = write_csv(tmp_path / "export-2025-03-04.csv", "house_bills", SAMPLES["house_bills"])
    assert import_path(db, "carrier", "house_bills", export, progress=False).rows_inserted == {
        "house_bills": 3
    }


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("mawb,flight_no,origin_airport,destination_airport,departure_at",
         "header: missing column(s) eta"),
        ("mawb,flight_no,origin_airport,destination_airport,departure_at,eta,gate",
         "header: unknown column(s) 'gate'"),
        ("mawb,mawb,flight_no,origin_airport,destination_airport,departure_at,eta",
         "header: duplicate column(s) 'mawb'"),
        ("MAWB,flight_no,origin_airport,destination_airport,departure_at,eta",
         "header: unknown column(s) 'MAWB'; missing column(s) mawb"),
    ],
)
def test_bad_header_is_refused_at_line_1(tmp_path: Path, header: str, message: str) -> None:
    path = tmp_path / "masters.csv"
    path.write_text(header + "\n02012345675,LH8160,FRA,JFK,2025-03-02T10:00:00Z\n",
                    encoding="utf-8")
    text = refused(tmp_path / "store.db", "carrier", path)
    assert f"{path}:1: {message}" in text
    assert "(expected the columns mawb, flight_no, origin_airport" in text


def test_csv_structure_problems(tmp_path: Path) -> None:
    empty = tmp_path / "masters.csv"
    empty.write_text("", encoding="utf-8")
    assert f"{empty}:1: the file is empty" in refused(tmp_path / "store.db", "carrier", empty)

    path = write_csv(tmp_path / "more_masters.csv", "masters", SAMPLES["masters"])
    with path.open("a", encoding="utf-8") as f:
        f.write("02012345675,LH8160\n")
    text = refused(tmp_path / "store.db", "carrier", path, table="masters")
    assert f"{path}:5: has 2 fields but the header has 6" in text


def test_text_that_is_not_utf8_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"])
    with path.open("ab") as f:
        f.write(b"S9,M\xfcller GmbH,Berlin,DE,,0,,0,2024-01-01,active\n")
    text = refused(tmp_path / "store.db", "marketplace", path)
    assert re.search(rf"{re.escape(str(path))}:6: is not UTF-8 text .*save the file as UTF-8", text)


def test_utf8_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"][:2])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    import_path(tmp_path / "store.db", "marketplace", None, path, progress=False)
    assert stored_rows(tmp_path / "store.db", "sellers") == SAMPLES["sellers"][:2]


def test_only_the_first_errors_are_listed(tmp_path: Path) -> None:
    rows = [dict(SAMPLES["sellers"][0], seller_id=f"S{i}", country="ZZ") for i in range(30)]
    path = write_csv(tmp_path / "sellers.csv", "sellers", rows)
    text = refused(tmp_path / "store.db", "marketplace", path, max_errors=5)
    listed = [line for line in text.splitlines() if line.startswith(f"  {path}:")]
    assert [line.split(":")[1] for line in listed] == ["2", "3", "4", "5", "6"]
    assert text.splitlines()[-1] == "  ... and 25 more errors"
    assert "(30 errors)" in text


def test_failed_import_leaves_the_store_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    import_path(db, "marketplace", None,
                write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"][:1]),
                progress=False)
    folder = tmp_path / "marketplace"
    folder.mkdir()
    for table in ROLE_TABLES["marketplace"]:
        write_csv(folder / f"{table}.csv", table, SAMPLES[table])
    before = dump(db)
    for rows in (1, 2, 9):  # inside the first file, at its last row, deep in the folder
        with pytest.raises(FedtradeError, match=f"fail_after_rows={rows}"):
            import_path(db, "marketplace", None, folder, progress=False, fail_after_rows=rows)
        assert dump(db) == before
    report = import_path(db, "marketplace", None, folder, progress=False)
    assert report.files[0].rows_unchanged == 1
    assert sum(report.rows_inserted.values()) == 17


def test_wrong_role_store_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    open_store(db, "marketplace").close()
    path = write_csv(tmp_path / "masters.csv", "masters", SAMPLES["masters"])
    before = dump(db)
    with pytest.raises(ConfigError, match="created for role 'marketplace', not 'carrier'"):
        import_path(db, "carrier", None, path, progress=False)
    assert dump(db) == before


@pytest.mark.parametrize(
    ("name", "table", "message"),
    [
        ("masters.xlsx", None, "unsupported file type '.xlsx'"),
        ("masters.csv", "entries", "table 'entries' belongs to the broker role"),
        ("manifest.csv", None, "'manifest' is not a table of a carrier store"),
        ("missing.csv", None, "no such file or folder"),
    ],
)
def test_unusable_path_is_refused(tmp_path: Path, name: str, table: str | None,
                                  message: str) -> None:
    path = tmp_path / name
    if name != "missing.csv":
        write_csv(path, "masters", SAMPLES["masters"])
    with pytest.raises(DataError, match=re.escape(message)):
        import_path(tmp_path / "store.db", "carrier", table, path, progress=False)


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"])
    import_path(tmp_path / "store.db", "marketplace", None, path, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "sellers.csv" in captured.err
    assert "rows/s" in captured.err
