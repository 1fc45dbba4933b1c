"""Benchmark: a small import into a large marketplace store whose data is on PostgreSQL,
publishing only what it changed vs copying the whole store (the earlier publish), in one run.

A synthetic world (``--shipments``) is imported into the SQLite import store and
published to PostgreSQL whole, except ``--rows`` parcel lines held back. Two copies of
that store (each with a database holding its publish) then take the same two imports,
one copy with the incremental publish, one with the whole copy; a third copy imports
without publishing (the SQLite part alone):

- ``new rows``: the parcel lines held back (new rows, and the derived rows of their
  parcels);
- ``amendment``: ``--rows`` orders with a new buyer address (version 1; the derived
  consignee rows of their parcels change).

Reported per import: wall seconds, CPU seconds of this process (reading, SQLite, the
publish's client side) and of the PostgreSQL cluster (its server processes), and the
rows sent. The machine is shared, so compare CPU and ratios rather than wall time. The
cluster is a throwaway one on loopback (``scripts/pg-throwaway``) unless
``FEDTRADE_BENCH_PG_DSN`` names another (its server CPU is then not measured).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from bench_state import new_database, throwaway_server  # beside this script

from fedtrade.node.store.importer import import_path
from fedtrade.node.store.pgdata import Publisher, publish
from fedtrade.sim.csvrows import read_rows, write_rows
from fedtrade.sim.synth import generate

ROLE = "marketplace"
_TICK = os.sysconf("SC_CLK_TCK")


def _parent(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _server_cpu(server: str) -> Callable[[], float]:
    """Seconds of CPU the cluster's processes used so far (postmaster, its children and the
    children it reaped), or 0.0 when the cluster is not on this machine."""
    with psycopg.connect(server) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    postmaster = _parent(Path(f"/proc/{row[0]}/stat"))
    if postmaster is None:
        return lambda: 0.0

    def ticks(pid: int, reaped: bool) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return sum(int(v) for v in fields[11:15 if reaped else 13])

    def cpu() -> float:
        children = [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
                    if _parent(stat) == postmaster]
        return (ticks(postmaster, True) + sum(ticks(c, False) for c in children)) / _TICK
    return cpu


def _files(world: Path, rows: int, work: Path) -> tuple[Path, Path, Path]:
    """The base folder (parcel lines held back), the held-back lines, the amendment."""
    base = work / "base"
    shutil.copytree(world / ROLE, base)
    lines = read_rows(base / "parcel_lines.csv")
    write_rows(base / "parcel_lines.csv", lines[:-rows])
    held = write_rows(work / "new" / "parcel_lines.csv", lines[-rows:])
    orders = read_rows(base / "orders.csv")[:rows]
    amended = write_rows(work / "amend" / "orders.csv", [
        {**o, "buyer_address": o["buyer_address"] + " Apt 2", "version": "1"} for o in orders])
    return base, held, amended


def bench(server: str, args: argparse.Namespace, work: Path) -> None:
    generate(work / "world", shipments=args.shipments, seed=7, progress=False)
    base, held, amended = _files(work / "world", args.rows, work)
    store = work / "base.db"
    started = time.perf_counter()
    import_path(store, ROLE, None, base, progress=False, publish=Publisher(ROLE, new_database(
        server)))
    with sqlite3.connect(store) as conn:
        stored = sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("orders", "order_lines", "parcel_lines", "parcel_indicators"))
    print(f"world of {args.shipments:,} shipments ({stored:,} orders, order and parcel lines "
          f"and parcel indicators), imported and published whole in "
          f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    server_cpu = _server_cpu(server)
    pushes: dict[str, Publisher | None] = {}
    for name, whole in (("incremental", False), ("whole copy", True), ("no publish", None)):
        copy = shutil.copyfile(store, work / f"{name}.db")
        if whole is None:
            pushes[name] = None
            continue
        dsn = new_database(server)
        with sqlite3.connect(copy) as conn:
            publish(conn, ROLE, dsn)  # the copy's own database, at the copy's generation
        pushes[name] = Publisher(ROLE, dsn, whole)
    print(f"{'import of ' + str(args.rows) + ' rows':<24} {'publish':<12} {'wall s':>7} "
          f"{'CPU s':>6} {'PG CPU s':>9} {'rows sent':>10}")
    for label, path in (("new rows", held), ("amendment", amended)):
        for name, push in pushes.items():
            wall, cpu, pg = time.perf_counter(), time.process_time(), server_cpu()
            import_path(work / f"{name}.db", ROLE, None, path, progress=False, publish=push)
            wall, cpu, pg = (time.perf_counter() - wall, time.process_time() - cpu,
                             server_cpu() - pg)
            sent = "" if push is None or push.last is None else sum(push.last.rows.values())
            print(f"{label:<24} {name:<12} {wall:>7.2f} {cpu:>6.2f} {pg:>9.2f} {sent:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench_pg_data_import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=100_000,
                        help="shipments in the generated world (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=1_000,
                        help="rows in each measured import (default: %(default)s)")
    args = parser.parse_args()
    with throwaway_server("bench_pg_data_import") as server, \
            tempfile.TemporaryDirectory() as work:
        bench(server, args, Path(work))


if __name__ == "__main__":
    main()
