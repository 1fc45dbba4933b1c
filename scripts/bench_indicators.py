"""Benchmark: what a node spends per shipment answering a screening batch, per role.

Generates a world (``fedtrade synth``), imports each role's share into its own
store (or reuses the stores of ``--stores``, migrating them), then on a
read-only connection times, per role, over the manifest in batches:

- ``shipment_indicators`` with every field the role computes (the Screen batch
  a screening run sends);
- a hash join: the same batch joined on house bill against the role's main
  table, reading one column (the floor a keyed lookup cannot beat);
- ``consignee_daily_totals`` over the manifest's days, 3-day windows, with the
  batch's house bills (what a screening run asks per batch).

Only the query runs are timed (no signing, no network): medians of
``--repeats`` passes, in microseconds per shipment, and the ratio of the
indicators to the hash join.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import Execution
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.migrations import open_store
from fedtrade.protocol.catalogue import CATALOGUE, INDICATOR_ROLES
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.synth import generate

ROLES = ("marketplace", "carrier", "broker")
# The role's main table of parcels, joined on house bill for the floor.
_JOIN = {"marketplace": ("fulfillments", "order_id"), "carrier": ("house_bills", "hs6"),
         "broker": ("entries", "entry_type")}
_SETTINGS = QuerySettings(linkage_secret=b"s" * 32)


def _stores(work: Path, shipments: int, kept: Path | None) -> tuple[Path, Path]:
    """The folder holding ``<role>.db`` and the world's manifest: reused when kept."""
    if kept is not None and (kept / "manifest.csv").exists():
        for role in ROLES:
            open_store(kept / f"{role}.db", role).close()  # apply any new migration
        return kept, kept / "manifest.csv"
    folder = kept or work
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    generate(work / "world", shipments=shipments, seed=7, progress=False)
    for role in ROLES:
        import_path(folder / f"{role}.db", role, None, work / "world" / role, progress=False)
    shutil.copy(work / "world" / "manifest.csv", folder / "manifest.csv")
    print(f"world of {shipments:,} shipments generated and imported in "
          f"{time.perf_counter() - started:.1f} s")
    return folder, folder / "manifest.csv"


def _manifest(path: Path) -> tuple[list[dict[str, str]], str, str]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    days = sorted({row["arrival_date"] for row in rows})
    return rows, days[0], days[-1]


def _timed(work: Callable[[], object], repeats: int) -> float:
    work()  # warm the page cache
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _measure(folder: Path, manifest: Path, batch: int, limit: int, repeats: int
             ) -> dict[str, dict[str, float]]:
    rows, first, last = _manifest(manifest)
    rows = rows[:limit]
    batches = [rows[i:i + batch] for i in range(0, len(rows), batch)]
    out: dict[str, dict[str, float]] = {}
    for role in ROLES:
        conn = sqlite3.connect(f"{(folder / f'{role}.db').resolve().as_uri()}?mode=ro", uri=True)
        fields = tuple(f for f in CATALOGUE["shipment_indicators"].output_fields
                       if role in INDICATOR_ROLES[f])

        def indicators(conn: sqlite3.Connection = conn, role: str = role,
                       fields: tuple[str, ...] = fields) -> None:
            for part in batches:
                shipments: dict[str, list[PyValue]] = {
                    "house_bill": [r["house_bill"] for r in part],
                    "declared_value_usd": [float(r["declared_value"]) for r in part],
                    "hs6": [r["hs6"] for r in part]}
                RUNS["shipment_indicators"](Execution(conn, role, {"shipments": shipments},
                                                      fields, b"q" * 16, _SETTINGS))

        table, column = _JOIN[role]

        def hash_join(conn: sqlite3.Connection = conn, table: str = table,
                      column: str = column) -> None:
            for part in batches:
                bills = json.dumps([r["house_bill"] for r in part])
                conn.execute(f"SELECT j.value, t.{column} FROM json_each(?) j "
                             f"LEFT JOIN {table} t ON t.house_bill = j.value "
                             "ORDER BY j.key", (bills,)).fetchall()

        def totals(conn: sqlite3.Connection = conn, role: str = role) -> None:
            spec = CATALOGUE["consignee_daily_totals"]
            for number, part in enumerate(batches):
                params = validate_params(spec, {
                    "date_from": first, "date_to": last, "window_days": 3,
                    "house_bills": [r["house_bill"] for r in part]})
                RUNS["consignee_daily_totals"](Execution(
                    conn, role, params, spec.output_fields, number.to_bytes(16, "big"),
                    _SETTINGS))

        shipments = len(rows)
        out[role] = {name: _timed(work, repeats) / shipments * 1e6 for name, work in
                     (("indicators", indicators), ("hash_join", hash_join),
                      ("consignee_totals", totals))}
        conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_indicators", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=200_000,
                        help="shipments in the generated world (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=5_000,
                        help="shipments per batch (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=50_000,
                        help="manifest shipments asked about (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes per measure (default: %(default)s)")
    parser.add_argument("--stores", type=Path,
                        help="keep the stores in this folder, or reuse (and migrate) them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-indicators-") as tmp:
        folder, manifest = _stores(Path(tmp), args.shipments, args.stores)
        figures = _measure(folder, manifest, args.batch_size, args.limit, args.repeats)
    print(f"microseconds per shipment, medians of {args.repeats} passes over "
          f"{args.limit:,} manifest shipments in batches of {args.batch_size:,}")
    print(f"{'role':<12} {'indicators':>11} {'hash join':>10} {'ratio':>7} {'consignee':>10}")
    for role, f in figures.items():
        print(f"{role:<12} {f['indicators']:>11.1f} {f['hash_join']:>10.1f} "
              f"{f['indicators'] / f['hash_join']:>6.1f}x {f['consignee_totals']:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
