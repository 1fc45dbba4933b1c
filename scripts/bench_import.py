"""Benchmark: import throughput with normalisation, per role, and the importer's peak memory.

For each table (the carrier's house_bills, the marketplace's orders, the
broker's entries) writes two files of the same N rows: one clean (every value
already canonical, the shape the importer took before normalisation existed)
and one messy (every row has values only normalisation accepts: label-form
house bills and entry numbers, lower-case currencies, dotted HS6 and MAWBs,
timestamps with offsets, three-decimal amounts, so every row takes the
normalising path). Each is imported into a fresh store in its own process,
which reports its rows/s and peak RSS; the script prints them and their ratios,
measured in one run. ``--baseline REF`` also imports the clean file with the
code of git revision REF (e.g. the commit before normalisation), for then vs.
now. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fedtrade.node.store import identifiers as ids
from fedtrade.node.store import import_path


@dataclass(frozen=True)
class _Table:
    role: str
    header: str
    clean: Callable[[int], str]
    messy: Callable[[int], str]
    parents: dict[str, str] = field(default_factory=dict)


def _bill(i: int, messy: bool) -> str:
    if messy:
        return f"qx-{i // 10**6:04d}-{i % 10**6:06d}"
    return f"QX{i // 10**6:04d}{i % 10**6:06d}"


def _entry(i: int, messy: bool) -> str:
    filer, serial = f"B{i // 10**7:02d}", f"{i % 10**7:07d}"
    digit = ids.entry_check_digit(filer, serial)
    return f"{filer.lower()} {serial} {digit}" if messy else f"{filer}-{serial}-{digit}"


TABLES = {
    "house_bills": _Table(
        "carrier",
        "house_bill,mawb,shipper_name,shipper_address,shipper_country,consignee_name,"
        "consignee_address,pieces,weight_kg,declared_value,currency,description,hs6,"
        "origin_country,known_shipper,screened,preload_status\n",
        lambda i: (f"{_bill(i, False)},02012345675,Acme,1 Rd,CN,Jane Roe,1 Main St,1,0.35,"
                   f"{i % 1000}.12,USD,earbuds,851830,CN,1,1,accepted\n"),
        lambda i: (f"{_bill(i, True)},02012345675,Acme,1 Rd,cn,Jane Roe,1 Main St,1,0.35,"
                   f"{i % 1000}.125,usd,earbuds,8518.30,CN,1,1,accepted\n"),
        {"masters.csv": "mawb,flight_no,origin_airport,destination_airport,departure_at,eta\n"
                        "02012345675,LH8160,FRA,JFK,2025-03-02T10:00:00Z,2025-03-02T18:30:00Z\n"},
    ),
    "orders": _Table(
        "marketplace",
        "order_id,buyer_name,buyer_address,ordered_at,total_paid,currency\n",
        lambda i: f"O{i},Jane Roe,1 Main St,2025-03-01T10:15:00Z,{i % 1000}.12,USD\n",
        lambda i: f"O{i},Jane Roe,1 Main St,2025-03-01T18:15:00+08:00,{i % 1000}.125,usd\n",
    ),
    "entries": _Table(
        "broker",
        "entry_number,entry_type,importer_of_record,consignee_name,consignee_address,port_code,"
        "estimated_arrival,mawb,house_bill,total_value_usd,release_status\n",
        lambda i: (f"{_entry(i, False)},86,,Jane Roe,1 Main St,4701,2025-03-02,02012345675,"
                   f"{_bill(i, False)},{i % 1000}.12,released\n"),
        lambda i: (f"{_entry(i, True)},86,,Jane Roe,1 Main St,4701,2025-03-02,020-12345675,"
                   f"{_bill(i, True)},{i % 1000}.125,released\n"),
    ),
}


def _write(folder: Path, table: str, rows: int, messy: bool) -> None:
    spec = TABLES[table]
    folder.mkdir(parents=True)
    for name, text in spec.parents.items():
        (folder / name).write_text(text)
    line = spec.messy if messy else spec.clean
    with (folder / f"{table}.csv").open("w") as out:
        out.write(spec.header)
        for i in range(rows):
            out.write(line(i))


def _child(folder: Path, role: str) -> None:
    started = time.perf_counter()
    report = import_path(folder / "store.db", role, None, folder, progress=False)
    seconds = time.perf_counter() - started
    rows = sum(report.rows_inserted.values())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak_kib / 1024}))


def baseline_source(tmp: Path, ref: str) -> Path:
    """The tree of git revision ``ref``, extracted under ``tmp``."""
    source = tmp / "baseline-src"
    source.mkdir()
    archive = subprocess.run(["git", "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="tar")
    return source


def _rate(result: dict[str, float]) -> float:
    return result["rows"] / result["seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per file")
    parser.add_argument("--table", choices=[*TABLES, "all"], default="all",
                        help="the table (and so the role) to import; default: one per role")
    parser.add_argument("--baseline", metavar="GITREF",
                        help="also import the clean file with the code of this git revision")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--role", default="carrier", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.role)
        return 0
    tables = list(TABLES) if args.table == "all" else [args.table]
    results: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        source = baseline_source(Path(tmp), args.baseline) if args.baseline else None
        for table in tables:
            runs: list[tuple[str, str, Path | None]] = [
                ("clean", "clean", None), ("messy", "messy", None)]
            if source is not None:
                runs.insert(0, (f"clean@{args.baseline}", "clean", source))
            for name, kind, pythonpath in runs:
                folder = Path(tmp) / table / kind
                if not folder.exists():
                    _write(folder, table, args.rows, kind == "messy")
                env = dict(os.environ, PYTHONPATH=str(pythonpath)) if pythonpath else None
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(folder), "--role",
                     TABLES[table].role], check=True, capture_output=True, text=True, env=env,
                ).stdout
                results[table, name] = json.loads(out)
                (folder / "store.db").unlink()
            (Path(tmp) / table / "clean" / f"{table}.csv").unlink()
            (Path(tmp) / table / "messy" / f"{table}.csv").unlink()
    for table in tables:
        print(f"{table} ({TABLES[table].role}):")
        for (t, name), r in results.items():
            if t == table:
                print(f"  {name:18} {r['rows']:>11,} rows  {_rate(r):>9,.0f} rows/s  "
                      f"peak RSS {r['peak_mib']:,.0f} MiB")
        clean = _rate(results[table, "clean"])
        print(f"  messy/clean: {_rate(results[table, 'messy']) / clean:.2f} "
              "(every messy row is normalised)")
        if args.baseline:
            base = _rate(results[table, f"clean@{args.baseline}"])
            print(f"  clean now/clean@{args.baseline}: {clean / base:.2f}, "
                  f"messy now/clean@{args.baseline}: {_rate(results[table, 'messy']) / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
