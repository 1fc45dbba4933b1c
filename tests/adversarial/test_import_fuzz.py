"""Hostile import rows: a row error naming file, line and field, or success; never a traceback."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedtrade.node.store import import_path
from fedtrade.trust.errors import DataError
from tests.node.store.samples import SAMPLES, write_csv

TABLE = "listings"  # money, decimals and text; its parent sellers are imported first
FIELDS = sorted(SAMPLES[TABLE][0])

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=50),
    st.floats(allow_nan=False, allow_infinity=False),
)
# Raw JSON texts json.dumps would never write: huge exponents, long digits, deep nesting.
RAW_NUMBERS = st.one_of(
    st.builds(lambda e: f"1e{e}", st.integers(-100_000, 100_000)),
    st.builds(lambda n: "9" * n, st.integers(1, 6000)),
    st.builds(lambda n: "0." + "0" * n + "1", st.integers(1, 2000)),
    st.builds(lambda n: "[" * n + "]" * n, st.one_of(st.integers(1, 5), st.integers(900, 200_000))),
    st.builds(lambda n: '{"a":' * n + "1" + "}" * n, st.integers(900, 5000)),
)


@st.composite
def jsonl_line(draw: st.DrawFn) -> str:
    row: dict[str, object] = dict(draw(st.sampled_from(SAMPLES[TABLE])))
    kind = draw(st.sampled_from(["value", "raw", "text", "drop"]))
    field = draw(st.sampled_from(FIELDS))
    if kind == "value":
        row[field] = draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3)))
    elif kind == "raw":
        row[field] = "RAW"
        return json.dumps(row).replace('"RAW"', draw(RAW_NUMBERS))
    elif kind == "text":
        return draw(st.text(max_size=80)).replace("\n", " ")
    else:
        row.pop(field)
    return json.dumps(row)


@st.composite
def csv_cell(draw: st.DrawFn) -> tuple[str, str]:
    return draw(st.sampled_from(FIELDS)), draw(st.one_of(
        st.text(max_size=40),
        st.builds(lambda n: "9" * n, st.integers(1, 6000)),
        st.builds(lambda n: "9" * n + ".5", st.integers(1, 600)),
        st.builds(lambda e: f"1e{e}", st.integers(-500, 500)),
    ))


def import_refused_cleanly(path: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store.db"
        sellers = write_csv(Path(folder) / "sellers.csv", "sellers", SAMPLES["sellers"])
        import_path(store, "marketplace", "sellers", sellers, progress=False)
        try:
            import_path(store, "marketplace", TABLE, path, progress=False)
        except DataError as exc:
            message = str(exc)
        else:
            return
    problems = message.splitlines()[1:]
    assert problems, message
    assert all(line.strip().startswith(f"{path}:") for line in problems)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(jsonl_line(), min_size=1, max_size=4))
def test_fuzzed_json_lines_are_row_errors_or_imported(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{TABLE}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        import_refused_cleanly(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cell=csv_cell())
def test_fuzzed_csv_cells_are_row_errors_or_imported(cell: tuple[str, str]) -> None:
    field, value = cell
    rows = [dict(row) for row in SAMPLES[TABLE]]
    rows[1][field] = value
    with tempfile.TemporaryDirectory() as folder:
        import_refused_cleanly(write_csv(Path(folder) / f"{TABLE}.csv", TABLE, rows))
