"""Benchmark: a Screen batch's query per role, SQLite vs PostgreSQL vs two PostgreSQL
processes on one store, in one run.

A synthetic world is imported per role into SQLite and published to PostgreSQL
(``node.store.pgdata``, the ``store.data: postgresql`` import); the import and the
publish are timed. Then each role answers ``shipment_indicators`` (every field the role
has) for batches of manifest house bills: the node's query execution only, the part the
data backend changes (signatures, the attestation check and the audit entry are the same
on both). Reported: microseconds of wall time per shipment, one process on SQLite, one on
PostgreSQL, and two processes on the one PostgreSQL store at once (the replica setup;
their combined throughput). The PostgreSQL cluster is a throwaway one on loopback
(``scripts/pg-throwaway``) unless ``FEDTRADE_BENCH_PG_DSN`` names another.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_state import new_database, throwaway_server  # beside this script

from fedtrade.node.catalogue import RUNS
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.node.queries.spec import POSTGRESQL, SQLITE, Execution
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.statestore.postgres import connect
from fedtrade.node.store.importer import import_path
from fedtrade.node.store.pgdata import publish
from fedtrade.protocol.catalogue import CATALOGUE, INDICATOR_ROLES
from fedtrade.protocol.wire import PyValue
from fedtrade.sim.synth import generate

ROLES = ("marketplace", "carrier", "broker")


def _batches(manifest: Path, size: int, limit: int) -> list[dict[str, list[PyValue]]]:
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    return [{"house_bill": [r["house_bill"] for r in part],
             "declared_value_usd": [float(r["declared_value"]) for r in part],
             "hs6": [r["hs6"] for r in part]}
            for part in (rows[i:i + size] for i in range(0, len(rows), size))]


def _screen(conn: SqlConn, dialect: str, role: str,
            batches: list[dict[str, list[PyValue]]]) -> float:
    """Seconds to answer every batch once."""
    fields = tuple(f for f in CATALOGUE["shipment_indicators"].output_fields
                   if role in INDICATOR_ROLES[f])
    started = time.perf_counter()
    for batch in batches:
        RUNS["shipment_indicators"](Execution(conn, role, {"shipments": batch}, fields,
                                              b"q" * 16, QuerySettings(), dialect=dialect))
    return time.perf_counter() - started


def _worker(dsn: str, role: str, manifest: str, size: int, limit: int, go: str) -> None:
    batches = _batches(Path(manifest), size, limit)
    conn = connect(dsn, read_only=True)
    _screen(conn, POSTGRESQL, role, batches[:1])  # warm
    while not Path(go).exists():
        time.sleep(0.001)
    _screen(conn, POSTGRESQL, role, batches)
    print(json.dumps({"ended": time.time()}))


def _two_processes(dsn: str, role: str, manifest: Path, size: int, limit: int,
                   work: Path) -> float:
    """Wall seconds from the start signal to the last of two processes' end."""
    go = work / f"go-{role}"
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", dsn, role, str(manifest),
                                 str(size), str(limit), str(go)], stdout=subprocess.PIPE,
                                text=True) for _ in range(2)]
    time.sleep(3.0)  # both connected, warmed and waiting
    started = time.time()
    go.touch()
    ends = [float(json.loads(worker.communicate()[0])["ended"]) for worker in workers]
    if any(worker.returncode for worker in workers):
        raise SystemExit("bench_pg_data: a worker process failed")
    return max(ends) - started


def bench(server: str, args: argparse.Namespace, work: Path) -> None:
    generate(work / "world", shipments=args.shipments, seed=7, progress=False)
    manifest = work / "world" / "manifest.csv"
    batches = _batches(manifest, args.batch_size, args.limit)
    asked = sum(len(b["house_bill"]) for b in batches)
    print(f"world of {args.shipments:,} shipments; {asked:,} manifest shipments asked in "
          f"batches of {args.batch_size:,}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'role':<12} {'import s':>9} {'publish s':>10} {'SQLite':>10} {'PostgreSQL':>11} "
          f"{'PG x2 procs':>12}   (µs per shipment, wall)")
    for role in ROLES:
        store = work / f"{role}.db"
        started = time.perf_counter()
        import_path(store, role, None, work / "world" / role, progress=False)
        imported = time.perf_counter() - started
        dsn = new_database(server)
        started = time.perf_counter()
        with sqlite3.connect(store) as lite:
            publish(lite, role, dsn)
        published = time.perf_counter() - started
        lite = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
        pg = connect(dsn, read_only=True)
        for conn, dialect in ((lite, SQLITE), (pg, POSTGRESQL)):
            _screen(conn, dialect, role, batches[:1])  # warm the caches
        us = [min(_screen(conn, dialect, role, batches) for _ in range(args.repeats))
              / asked * 1e6 for conn, dialect in ((lite, SQLITE), (pg, POSTGRESQL))]
        two = _two_processes(dsn, role, manifest, args.batch_size, args.limit, work)
        us.append(two / (2 * asked) * 1e6)
        lite.close()
        pg.close()
        print(f"{role:<12} {imported:>9.1f} {published:>10.1f} {us[0]:>10.1f} "
              f"{us[1]:>7.1f} {us[1] / us[0]:>3.1f}x {us[2]:>7.1f} {us[2] / us[0]:>3.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench_pg_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=50_000,
                        help="shipments in the generated world (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=5_000,
                        help="shipments per batch (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=20_000,
                        help="manifest shipments asked about (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="single-process runs, the fastest is kept (default: %(default)s)")
    args = parser.parse_args()
    with throwaway_server("bench_pg_data") as server, tempfile.TemporaryDirectory() as work:
        bench(server, args, Path(work))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]),
                sys.argv[7])
    else:
        main()
