"""Benchmark: the state operations of one request, SQLite vs PostgreSQL vs two PostgreSQL
processes on one store, in one run.

One operation is what every request does to the state store: claim its query id
(``reserve_query_id``) and append its audit entry with the id (``record``). Measured:
operations per second on one SQLite store (WAL, synchronous=NORMAL), on one PostgreSQL
store from one process, and from two processes at once (the replica setup). The
PostgreSQL cluster is a throwaway one (``scripts/pg-throwaway``, fsync=off, loopback)
unless ``FEDTRADE_BENCH_PG_DSN`` names another; neither backend waits for the disk on
commit here, so the comparison is at equal (low) durability.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from fedtrade.node.audit import AuditEntry
from fedtrade.node.statestore import PostgresStateStore, SqliteStateStore, StateStore

ROOT = Path(__file__).resolve().parent.parent
THROWAWAY = ROOT / "scripts" / "pg-throwaway"
ROLE = "marketplace"


def _entry(query_id: str) -> AuditEntry:
    return AuditEntry("2026-12-01T12:00:00Z", query_id, "cbp-coordinator", "TARGETING",
                      "CASE-1", "seller_flags", "p" * 64, "a" * 64, "answered", "")


def _run(store: StateStore, operations: int) -> float:
    """Seconds for ``operations`` reserve + record pairs."""
    started = time.perf_counter()
    for _ in range(operations):
        query_id = secrets.token_hex(16)
        store.reserve_query_id(query_id)
        store.record(_entry(query_id), seen=query_id)
    return time.perf_counter() - started


def _worker(dsn: str, database: Path, operations: int, go: Path) -> None:
    store = PostgresStateStore(database, ROLE, dsn)
    while not go.exists():
        time.sleep(0.001)
    print(json.dumps({"seconds": _run(store, operations), "ended": time.time()}))
    store.close()


def _two_processes(dsn: str, database: Path, operations: int, work: Path) -> float:
    """Operations per second of two processes on one store, from start to the last end."""
    go = work / "go"
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", dsn, str(database),
                                 str(operations), str(go)], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    time.sleep(2.0)  # both connected and waiting
    started = time.time()
    go.touch()
    ends = [float(json.loads(worker.communicate()[0])["ended"]) for worker in workers]
    if any(worker.returncode for worker in workers):
        raise SystemExit("a worker process failed")
    return 2 * operations / (max(ends) - started)


def new_database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return make_conninfo(server, dbname=name)


@contextmanager
def throwaway_server(bench_name: str) -> Iterator[str]:
    """The DSN of ``FEDTRADE_BENCH_PG_DSN``, else of a throwaway cluster stopped afterwards."""
    server = os.environ.get("FEDTRADE_BENCH_PG_DSN", "")
    cluster = tempfile.mkdtemp(prefix="fedtrade-bench-pg-")  # its own: postgres must enter it
    try:
        if not server:
            started = subprocess.run([str(THROWAWAY), "start", cluster], capture_output=True,
                                     text=True)
            if started.returncode != 0:
                raise SystemExit(f"{bench_name}: PostgreSQL did not start: {started.stderr}")
            server = started.stdout.strip()
        yield server
    finally:
        subprocess.run([str(THROWAWAY), "stop", cluster], check=False)


def bench(server: str, operations: int, work: Path) -> dict[str, float]:
    rates: dict[str, float] = {}
    sqlite = SqliteStateStore(work / "sqlite.db", ROLE)
    _run(sqlite, operations // 10)  # warm up
    rates["sqlite"] = operations / _run(sqlite, operations)
    sqlite.close()
    pg = PostgresStateStore(work / "pg-data.db", ROLE, new_database(server))
    _run(pg, operations // 10)
    rates["postgresql"] = operations / _run(pg, operations)
    pg.close()
    two = new_database(server)
    PostgresStateStore(work / "pg-data.db", ROLE, two).close()  # migrate before the race
    rates["postgresql x2"] = _two_processes(two, work / "pg-data.db", operations // 2, work)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=3000,
                        help="reserve + record pairs per measurement (default 3000)")
    args = parser.parse_args()
    with throwaway_server("bench_state") as server, tempfile.TemporaryDirectory() as work:
        rates = bench(server, args.operations, Path(work))
    print(f"state operations (reserve query id + append audit entry), {args.operations} each, "
          f"{os.cpu_count()} cores")
    for name, rate in rates.items():
        print(f"  {name:<14} {rate:8.0f} /s   {rate / rates['sqlite']:.2f}x SQLite")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
    else:
        main()
