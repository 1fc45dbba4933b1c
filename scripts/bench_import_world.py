"""Benchmark: importing a synthetic world per role, then small imports into the full store.

Generates a world (``fedtrade synth``) of N shipments and holds back K parcels of
each role (the marketplace's fulfillments with their parcel_lines, the carrier's
house bills with their items, the broker's entries with their lines). Per role,
in one child process per code tree, it imports the rest into a new store
(``first``), then the K held-back parcels (``add``), then an amendment of K
stored rows of the role's main table (``amend``: orders get another buyer
name, house bills are marked unscreened, entries put on hold). Every step
includes the upkeep of the derived per-parcel tables.

Prints the wall and CPU seconds of every step for this tree and, with
``--baseline REV``, for the code of git revision REV, measured in one run, and
the ratio of CPU seconds (on a shared machine wall time follows the load; CPU
time much less). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_import import baseline_source

from fedtrade.node.store import import_path
from fedtrade.sim.csvrows import write_rows
from fedtrade.sim.synth import generate

ROLES = ("marketplace", "carrier", "broker")
# Per role: the table whose rows are held back, their key, and the children held with them.
_HELD = {"marketplace": ("fulfillments", "house_bill", ("parcel_lines",)),
         "carrier": ("house_bills", "house_bill", ("house_bill_items",)),
         "broker": ("entries", "entry_number", ("entry_lines", "entry_house_bills"))}
# Per role: the amended table, column and new value.
_AMEND = {"marketplace": ("orders", "buyer_name", "Jane Q Roe"),
          "carrier": ("house_bills", "screened", "0"),
          "broker": ("entries", "release_status", "hold")}
STEPS = ("first", "add", "amend")


def _copy(source: Path, target: Path, keep: Callable[[dict[str, str]], bool] | None = None
          ) -> list[dict[str, str]]:
    """Copy a CSV file, keeping the rows ``keep`` accepts (all by default); return the
    rows left out."""
    target.parent.mkdir(parents=True, exist_ok=True)
    left_out = []
    with source.open(newline="") as f, target.open("w", newline="") as out:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(out, reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            if keep is None or keep(row):
                writer.writerow(row)
            else:
                left_out.append(row)
    return left_out


def _split(world: Path, work: Path, role: str, held: int) -> None:
    """``work/first``, ``work/add`` and ``work/amend`` of a role from the world's files."""
    table, key, children = _HELD[role]
    source = world / role
    with (source / f"{table}.csv").open(newline="") as f:
        keys = [row[key] for row in csv.DictReader(f)]
    back = set(keys[-held:])
    for path in source.glob("*.csv"):
        if path.stem in (table, *children):
            rows = _copy(path, work / "first" / path.name, lambda r: r[key] not in back)
            if rows:
                write_rows(work / "add" / path.name, rows)
        else:
            _copy(path, work / "first" / path.name)
    amended, column, value = _AMEND[role]
    with (source / f"{amended}.csv").open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if amended != table or row[key] not in back]
    write_rows(work / "amend" / f"{amended}.csv",
           [{**row, column: value, "version": "1"} for row in rows[:held]])


def _child(work: Path, role: str) -> None:
    out = {}
    for step in STEPS:
        wall, cpu = time.perf_counter(), time.process_time()
        report = import_path(work / "store.db", role, None, work / step, progress=False)
        out[step] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                     "rows": sum(f.rows_inserted + f.rows_amended for f in report.files)}
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_import_world", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=100_000,
                        help="shipments in the generated world (default: %(default)s)")
    parser.add_argument("--held", type=int, default=1_000,
                        help="parcels held back, and rows amended, per role "
                             "(default: %(default)s)")
    parser.add_argument("--role", choices=[*ROLES, "all"], default="all")
    parser.add_argument("--baseline", metavar="GITREF",
                        help="also run the code of this git revision")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-role", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.child_role)
        return 0
    roles = ROLES if args.role == "all" else (args.role,)
    results: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-world-") as tmp:
        world = Path(tmp) / "world"
        generate(world, shipments=args.shipments, seed=7, progress=False)
        trees: list[tuple[str, Path | None]] = [("now", None)]
        if args.baseline:
            trees.insert(0, (args.baseline, baseline_source(Path(tmp), args.baseline)))
        for role in roles:
            work = Path(tmp) / role
            _split(world, work, role, args.held)
            for name, pythonpath in trees:
                env = dict(os.environ, PYTHONPATH=str(pythonpath)) if pythonpath else None
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(work), "--child-role", role],
                    check=True, capture_output=True, text=True, env=env).stdout
                results[role, name] = json.loads(out)
                (work / "store.db").unlink()
    print(f"{args.shipments:,} shipments, {args.held:,} parcels held back and rows amended; "
          "seconds wall / CPU per step")
    for role in roles:
        print(f"{role}:")
        for step in STEPS:
            cells = [f"{name}: {r[step]['wall']:7.1f} / {r[step]['cpu']:6.2f} s "
                     f"({int(r[step]['rows']):,} rows)"
                     for (rl, name), r in results.items() if rl == role]
            line = f"  {step:<6} " + "   ".join(cells)
            if args.baseline:
                then, now = results[role, args.baseline][step], results[role, "now"][step]
                line += f"   CPU now/then {now['cpu'] / then['cpu']:.3f}"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
