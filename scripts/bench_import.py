"""Benchmark: import throughput with normalisation, and the importer's peak memory.

Writes two house_bills files of the same N rows: one clean (every value already
canonical, the shape the importer took before normalisation existed) and one
messy (every row has a label-form house bill, a lower-case currency, an HS6 with
a dot and a three-decimal amount, so every row takes the normalising path). Each
is imported into a fresh carrier store in its own process, which reports its
rows/s and peak RSS; the script prints both and their ratio, measured in one
run. ``--baseline REF`` also imports the clean file with the code of git
revision REF (e.g. ``main`` before normalisation), for today's vs. now.
Nothing is asserted.
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
from pathlib import Path

from fedtrade.node.store import import_path

HEADER = ("house_bill,mawb,shipper_name,shipper_address,shipper_country,consignee_name,"
          "consignee_address,pieces,weight_kg,declared_value,currency,description,hs6,"
          "origin_country,known_shipper,screened,preload_status\n")
MASTERS = ("mawb,flight_no,origin_airport,destination_airport,departure_at,eta\n"
           "02012345675,LH8160,FRA,JFK,2025-03-02T10:00:00Z,2025-03-02T18:30:00Z\n")


def _write(folder: Path, rows: int, messy: bool) -> None:
    folder.mkdir(parents=True)
    (folder / "masters.csv").write_text(MASTERS)
    with (folder / "house_bills.csv").open("w") as out:
        out.write(HEADER)
        for i in range(rows):
            if messy:
                line = (f"qx-{i // 10**6:04d}-{i % 10**6:06d},02012345675,Acme,1 Rd,cn,Jane Roe,"
                        f"1 Main St,1,0.35,{i % 1000}.125,usd,earbuds,8518.30,CN,1,1,accepted\n")
            else:
                line = (f"QX{i // 10**6:04d}{i % 10**6:06d},02012345675,Acme,1 Rd,CN,Jane Roe,"
                        f"1 Main St,1,0.35,{i % 1000}.12,USD,earbuds,851830,CN,1,1,accepted\n")
            out.write(line)


def _child(folder: Path) -> None:
    started = time.perf_counter()
    report = import_path(folder / "store.db", "carrier", None, folder, progress=False)
    seconds = time.perf_counter() - started
    rows = sum(report.rows_inserted.values())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak_kib / 1024}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per file")
    parser.add_argument("--baseline", metavar="GITREF",
                        help="also import the clean file with the code of this git revision")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        results = {}
        runs: list[tuple[str, str, str | None]] = [
            ("clean", "clean", None), ("messy", "messy", None)]
        if args.baseline:
            source = Path(tmp) / "baseline-src"
            source.mkdir()
            archive = subprocess.run(["git", "archive", args.baseline], check=True,
                                     capture_output=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(source, filter="tar")
            runs.insert(0, (f"clean@{args.baseline}", "clean", str(source)))
        for name, kind, pythonpath in runs:
            folder = Path(tmp) / kind
            if not folder.exists():
                _write(folder, args.rows, kind == "messy")
            env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
            out = subprocess.run([sys.executable, __file__, "--child", str(folder)],
                                 check=True, capture_output=True, text=True, env=env).stdout
            results[name] = json.loads(out)
            (folder / "store.db").unlink()
    for name, r in results.items():
        print(f"{name:12} {r['rows']:>10,} rows  {r['rows'] / r['seconds']:>9,.0f} rows/s  "
              f"peak RSS {r['peak_mib']:,.0f} MiB")
    ratio = (results["messy"]["rows"] / results["messy"]["seconds"]) / (
        results["clean"]["rows"] / results["clean"]["seconds"])
    print(f"messy/clean throughput ratio: {ratio:.2f} (every messy row is normalised)")
    if args.baseline:
        base = results[f"clean@{args.baseline}"]
        now = results["clean"]["rows"] / results["clean"]["seconds"]
        print(f"clean now / clean@{args.baseline}: {now / (base['rows'] / base['seconds']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
