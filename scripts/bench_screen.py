"""Benchmark: federated manifest screening end to end vs the same checks over one pooled database.

Generates a synthetic world, imports each party's data into its node store,
starts the three nodes as separate processes, and times the carrier's
`fedtrade-node attest` of the manifest (one signature per block of 1,000
lines) followed by `fedtrade screen` of the whole manifest with those blocks,
each as a separate process (attesting, signing, fan-out, verification of
queries and of every block at every node, evidence, risk assessment, results
file). Then it copies the same three stores into one database — the
centralized hub a federation replaces — and times the same indicators and
split totals (sim.pooled_sql, one statement over what the hub computed at ingest, as
the nodes do at import) in SQLite and in DuckDB (results to Arrow), DuckDB once on one
thread and once on every core. Federation, pooled SQLite and pooled DuckDB must
agree cell by cell: every indicator of every node and the split columns of
every shipment (the federation's side read from its signed evidence and its
results); any disagreement is listed and fails the run (exit 1). Reports
shipments/s for each, the federation's ratio to each pooled engine and to the
fastest (target <= 2x), whether 50,000 shipments/s was reached, and the peak
memory of the coordinator and of each node. Timings are reported, never
asserted. `--world DIR` screens again in a folder an earlier run kept, skipping
generation, import and (when both are there) the pooled builds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import yaml
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedtrade.coordinator.config import CoordinatorConfig, load_coordinator_config
from fedtrade.coordinator.result_files import read_results
from fedtrade.node.config import load_node_config
from fedtrade.node.store import import_path
from fedtrade.sim.federation import NODE_IDS, Federation, create_federation
from fedtrade.sim.pooled import build_pooled, pooled_indicators
from fedtrade.sim.pooled_check import (
    Records,
    compare,
    federated_records,
    pooled_records,
    pooled_settings,
)
from fedtrade.sim.pooled_duckdb import build_duckdb, duckdb_indicators
from fedtrade.sim.pooled_sql import POOLED_COLUMNS, PooledSettings
from fedtrade.sim.synth import generate
from fedtrade.trust.errors import FedtradeError

TARGET_RATE = 50_000
TARGET_RATIO = 2.0  # against the fastest pooled engine (DESIGN.md, issue 15)
# DuckDB on one thread (the baseline) and on every core (the federation uses them all)
ENGINES = ("sqlite", "duckdb", "duckdb_all_cores")
SHOWN_PROBLEMS = 20
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
SPLIT = "split_shipment"
PEAK_POLL = 0.02  # seconds between reads of a child's VmHWM
INHERITED_SLACK = 16.0  # MiB this process may grow between measuring its RSS and a fork
ATTEST_WAIT = 3600.0  # the coordinator waits for the blocks at most this long (seconds)

console = Console(width=None if sys.stdout.isatty() else 120)


@dataclass
class Figures:
    """Everything the final table and bench_screen.json report."""

    shipments: int
    seed: int | None  # None: a kept world (--world) whose seed is not recorded
    batch_size: int
    phases: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    rows: dict[str, int] = field(default_factory=dict)  # "generate" / "import ROLE" -> rows
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # process -> MiB
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # process -> user + system
    checks: dict[str, int] = field(default_factory=dict)
    # "federation vs pooled sqlite" -> (cells compared, every disagreement)
    comparisons: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    def rate(self, phase: str, count: int | None = None) -> float:
        seconds = self.phases[phase]
        return (self.shipments if count is None else count) / seconds if seconds else 0.0

    def fastest(self) -> str:
        return min(ENGINES, key=lambda engine: self.phases[f"pooled {engine}"])

    def ratio(self, engine: str) -> float:
        return self.phases["screen"] / self.phases[f"pooled {engine}"]

    def disagreements(self) -> int:
        return sum(len(problems) for _, problems in self.comparisons.values())

    def summary(self) -> dict[str, object]:
        fastest = self.fastest()
        return {
            "federated_shipments_per_s": round(self.rate("screen")),
            **{f"pooled_{e}_shipments_per_s": round(self.rate(f"pooled {e}")) for e in ENGINES},
            **{f"ratio_federated_over_pooled_{e}": round(self.ratio(e), 3) for e in ENGINES},
            "fastest_pooled_engine": fastest,
            "ratio_federated_over_fastest_pooled": round(self.ratio(fastest), 3),
            "ratio_target_met": self.ratio(fastest) <= TARGET_RATIO,
            "rate_target_met": self.rate("screen") >= TARGET_RATE,
            "cells_compared": {k: cells for k, (cells, _) in self.comparisons.items()},
            "disagreements": self.disagreements(),
        }


@contextmanager
def _phase(figures: Figures, name: str, title: str, *, spinner: bool = True) -> Iterator[None]:
    """Time a phase; a spinner with elapsed time on a terminal, plain lines otherwise."""
    started = time.perf_counter()
    if spinner and console.is_terminal:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            progress.add_task(title, total=None)
            yield
    else:
        console.print(f"{title} ...")
        yield
    figures.phases[name] = time.perf_counter() - started
    console.print(f"[green]done[/green] {title}: {figures.phases[name]:.1f} s")


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise FedtradeError(f"/proc/{pid}/status has no VmHWM line; run the benchmark on Linux")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for_port(process: subprocess.Popen[bytes], port_file: Path, log: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while not port_file.exists():
        if process.poll() is not None:
            raise FedtradeError(f"a node exited with status {process.returncode} while "
                                f"starting; see {log}")
        if time.monotonic() > deadline:
            raise FedtradeError(f"a node did not start within {START_TIMEOUT:.0f} s; see {log}")
        time.sleep(0.05)
    return int(port_file.read_text())


@contextmanager
def _nodes(federation: Federation, figures: Figures) -> Iterator[dict[str, str]]:
    """Run every node as a `fedtrade-node serve` process; record peak RSS, then stop them."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    data = federation.root / "data"
    try:
        for node_id, config in federation.node_configs.items():
            (data / f"{node_id}.port").unlink(missing_ok=True)  # an earlier run's (--world)
            with (data / f"{node_id}.log").open("wb") as log:
                processes[node_id] = subprocess.Popen(
                    [sys.executable, "-m", "fedtrade.node.cli", "serve", "--config", str(config),
                     "--port-file", str(data / f"{node_id}.port")],
                    stdout=log, stderr=subprocess.STDOUT,
                )
        yield {
            node_id: "127.0.0.1:"
            f"{_wait_for_port(process, data / f'{node_id}.port', data / f'{node_id}.log')}"
            for node_id, process in processes.items()
        }
        for node_id, process in processes.items():
            if process.poll() is None:
                figures.peak_rss_mib[node_id] = _peak_rss_mib(process.pid)
                figures.cpu_seconds[node_id] = _cpu_seconds(process.pid)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _forget_own_peak() -> float:
    """Reset this process's peak RSS to its current RSS (MiB), returned.

    A child's ru_maxrss starts from its parent's peak at the time it was started (Linux
    keeps the larger across the exec): after generating and importing a 1 M world in this
    process, `fedtrade screen`'s was this process's 397 MiB, not its own."""
    Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise FedtradeError("/proc/self/status has no VmRSS line; run the benchmark on Linux")


def _wait(process: subprocess.Popen[bytes], name: str, figures: Figures,
          inherited_mib: float) -> int:
    """Wait for ``process``; record its own peak RSS and CPU seconds under ``name``.

    Its VmHWM, read every 20 ms while it ran, is its own peak (a high-water mark: only growth
    in its last 20 ms can be missed). Its ru_maxrss is its own peak too when clearly above
    ``inherited_mib`` (this process's RSS when it started, which ru_maxrss starts from and
    which this process may have grown a little past before the fork)."""
    seen = [0.0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(PEAK_POLL):
            with contextlib.suppress(OSError, FedtradeError):  # gone: no VmHWM any more
                seen[0] = max(seen[0], _peak_rss_mib(process.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        done.set()
        watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    maxrss = usage.ru_maxrss / 1024  # KiB on Linux
    figures.peak_rss_mib[name] = max(seen[0], maxrss if maxrss > inherited_mib + INHERITED_SLACK
                                     else 0.0)
    figures.cpu_seconds[name] = usage.ru_utime + usage.ru_stime
    return process.returncode


def _failed(command: str, status: int, log: Path) -> FedtradeError:
    tail = log.read_text(errors="replace").splitlines()[-15:]
    return FedtradeError(f"`{command}` exited with status {status}; the end of {log}:\n"
                         + "\n".join(tail))


def _screen(federation: Federation, manifest: Path, root: Path, figures: Figures, *,
            attest_first: bool) -> Path:
    """The carrier signs the manifest it filed (`fedtrade-node attest`) while `fedtrade
    screen` validates it (each its own process, both in the timed phase); screening asks
    nothing before the blocks are written whole and checked (`--wait-attestations`).
    ``attest_first``: one after the other instead."""
    blocks, signing = root / "manifest.attest.jsonl", root / "manifest.attest.jsonl.part"
    blocks.unlink(missing_ok=True)
    results = root / "results.csv"
    attest = [sys.executable, "-m", "fedtrade.node.cli", "attest",
              "--config", str(federation.node_configs[federation.filer_id]),
              "--manifest", str(manifest), "--out", str(signing)]
    screen = [sys.executable, "-m", "fedtrade.coordinator.cli", "screen",
              "--config", str(federation.coordinator_config), str(manifest),
              "--attestations", str(blocks), "--wait-attestations", str(ATTEST_WAIT),
              "--purpose", "TARGETING", "--case", "BENCH", "--officer", "bench",
              "--out", str(results), "--no-progress"]
    logs = {"attest": root / "attest.log", "coordinator": root / "screen.log"}
    started: list[subprocess.Popen[bytes]] = []

    def start(command: list[str], name: str) -> subprocess.Popen[bytes]:
        with logs[name].open("wb") as log:
            started.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        return started[-1]

    inherited = _forget_own_peak()
    try:
        signer = start(attest, "attest")
        coordinator = None if attest_first else start(screen, "coordinator")
        if (status := _wait(signer, "attest", figures, inherited)) != 0:
            raise _failed("fedtrade-node attest", status, logs["attest"])
        signing.rename(blocks)
        coordinator = coordinator or start(screen, "coordinator")
        if (status := _wait(coordinator, "coordinator", figures, inherited)) != 0:
            raise _failed("fedtrade screen", status, logs["coordinator"])
    finally:
        for process in started:
            if process.returncode is None:
                process.kill()
                process.wait()
    return results


def _set_deadlines(config: Path, seconds: float) -> None:
    """Give every node in the coordinator config a per-call deadline of ``seconds``."""
    document = yaml.safe_load(config.read_text())
    for entry in document["nodes"].values():
        entry["deadline_seconds"] = seconds
    config.write_text(yaml.safe_dump(document, sort_keys=False))


def _federated(config: CoordinatorConfig, results: Path, figures: Figures) -> Records:
    """The federation's answers (signed evidence, results.csv); how many shipments it
    screened, fully answered, and flagged as split."""
    count = complete = split = 0
    for result in read_results(results):
        count += 1
        complete += len(result.answered_by) == len(NODE_IDS)
        split += SPLIT in result.patterns
    figures.checks.update({"federated_results": count, "federated_all_nodes_answered": complete,
                           "federated_split_flags": split})
    roles = {node_id: role for role, node_id in NODE_IDS.items()}
    return federated_records(config.evidence_db, read_results(results), roles)


def _pooled(engine: str, db: Path, settings: PooledSettings, figures: Figures) -> Records:
    """Run one pooled engine in its timed phase; then (untimed) turn its rows into records."""
    cpu = time.process_time()
    with _phase(figures, f"pooled {engine}",
                f"computing the same indicators and split totals in pooled {engine}"):
        if engine == "sqlite":
            rows: list[tuple[object, ...]] = list(pooled_indicators(db, settings))
        else:  # an Arrow table
            table = duckdb_indicators(db, settings, threads=1 if engine == "duckdb"
                                      else os.cpu_count() or 1)
    figures.cpu_seconds[f"pooled {engine}"] = time.process_time() - cpu
    if engine != "sqlite":
        rows = [tuple(row.values()) for row in table.to_pylist()]
    split = POOLED_COLUMNS.index("split_day")
    figures.checks.update({f"pooled_{engine}_rows": len(rows),
                           f"pooled_{engine}_split_flags": sum(r[split] is not None
                                                               for r in rows)})
    return pooled_records(rows)


def _make_world(args: argparse.Namespace, root: Path, figures: Figures) -> Federation:
    """Generate the world and import each party's data into its node's store."""
    world = root / "world"
    with _phase(figures, "generate", f"generating {args.shipments:,} shipments", spinner=False):
        summary = generate(world, shipments=args.shipments, seed=args.seed,
                           progress=console.is_terminal)
    figures.rows["generate"] = sum(summary.rows.values())
    federation = create_federation(root / "fed")
    for role, node_id in NODE_IDS.items():
        store = load_node_config(federation.node_configs[node_id]).database
        with _phase(figures, f"import {role}", f"importing the {role} data into {node_id}",
                    spinner=False):
            report = import_path(store, role, None, world / role,
                                 progress=console.is_terminal)
        figures.rows[f"import {role}"] = sum(report.rows_inserted.values())
    return federation


def _kept_world(root: Path, figures: Figures) -> Federation:
    """The world and node stores of an earlier run's folder (``--world``), as they are; its
    evidence and results are removed first, so the comparison reads this run's alone."""
    manifest = root / "world" / "manifest.csv"
    configs = {node_id: root / "fed" / f"{node_id}.yaml" for node_id in NODE_IDS.values()}
    absent = [str(path) for path in (manifest, *configs.values()) if not path.is_file()]
    if absent:
        raise FedtradeError(f"{root} is not a folder kept by bench_screen (--workdir or --keep): "
                            f"{absent[0]} is missing")
    earlier = root / "bench_screen.json"
    figures.seed = json.loads(earlier.read_text()).get("seed") if earlier.is_file() else None
    with manifest.open("rb") as handle:  # synthetic manifests hold one record per line
        figures.shipments = sum(1 for _ in handle) - 1
    federation = Federation(root / "fed", configs)
    evidence = load_coordinator_config(federation.coordinator_config).evidence_db
    for path in (evidence, Path(f"{evidence}-wal"), Path(f"{evidence}-shm"),
                 root / "results.csv", root / "bench_screen.json"):
        path.unlink(missing_ok=True)
    console.print(f"reusing the world and node stores in {root}: {figures.shipments:,} "
                  "shipments, nothing generated or imported")
    return federation


def _run(args: argparse.Namespace, root: Path) -> Figures:
    figures = Figures(args.shipments, args.seed, args.batch_size)
    world = root / "world"
    federation = _kept_world(root, figures) if args.world else \
        _make_world(args, root, figures)
    stores = {role: load_node_config(federation.node_configs[node_id]).database
              for role, node_id in NODE_IDS.items()}

    with _nodes(federation, figures) as addresses:
        federation.write_coordinator_config(addresses, batch_size=args.batch_size)
        if args.deadline is not None:
            _set_deadlines(federation.coordinator_config, args.deadline)
        with _phase(figures, "screen",
                    f"screening {figures.shipments:,} shipments across {len(addresses)} nodes"):
            results = _screen(federation, world / "manifest.csv", root, figures,
                              attest_first=args.attest_first)
    config = load_coordinator_config(federation.coordinator_config)
    federated = _federated(config, results, figures)
    # the pooled hub computes with what the federation is configured with
    marketplace = load_node_config(federation.node_configs[NODE_IDS["marketplace"]])
    settings = pooled_settings(config, marketplace.settings)

    pooled, duck = root / "pooled.db", root / "pooled.duckdb"
    if args.world and pooled.is_file() and duck.is_file():
        console.print(f"reusing the pooled databases {pooled.name} and {duck.name} (built from "
                      "these stores; delete them to build again)")
    else:
        pooled.unlink(missing_ok=True)
        duck.unlink(missing_ok=True)
        with _phase(figures, "pooled build",
                    "building the pooled database (one hub, all data)"):
            build_pooled(stores, world / "manifest.csv", pooled,
                         currency_per_usd=config.currency_per_usd)
        with _phase(figures, "duckdb build", "copying the pooled database into DuckDB"):
            build_duckdb(pooled, duck)
    os.sync()  # their write-back must not run during the timed statements
    lite = _pooled("sqlite", pooled, settings, figures)
    duck_records = _pooled("duckdb", duck, settings, figures)
    all_cores = _pooled("duckdb_all_cores", duck, settings, figures)
    figures.comparisons = {
        "federation vs pooled sqlite": compare(("federation", federated), ("pooled sqlite", lite)),
        "federation vs pooled duckdb": compare(("federation", federated),
                                               ("pooled duckdb", duck_records)),
        "pooled sqlite vs pooled duckdb": compare(("pooled sqlite", lite),
                                                  ("pooled duckdb", duck_records)),
        "pooled duckdb vs the same on all cores": compare(
            ("pooled duckdb", duck_records), ("pooled duckdb_all_cores", all_cores)),
    }
    return figures


def _table(figures: Figures) -> Table:
    seed = "not recorded" if figures.seed is None else figures.seed
    table = Table(title=f"screening benchmark: {figures.shipments:,} shipments "
                        f"(seed {seed}, batch {figures.batch_size:,})")
    table.add_column("measure")
    table.add_column("seconds", justify="right")
    table.add_column("rate", justify="right")
    table.add_column("note")
    if "generate" in figures.rows:  # not with --world
        generated = figures.rows["generate"]
        table.add_row("generate world", f"{figures.phases['generate']:.1f}",
                      f"{figures.rate('generate', generated):,.0f} rows/s", f"{generated:,} rows")
        for role in NODE_IDS:
            rows = figures.rows[f"import {role}"]
            table.add_row(f"import {role}", f"{figures.phases[f'import {role}']:.1f}",
                          f"{figures.rate(f'import {role}', rows):,.0f} rows/s", f"{rows:,} rows")
    summary = figures.summary()
    checks = figures.checks
    table.add_row("federated end to end", f"{figures.phases['screen']:.1f}",
                  f"{summary['federated_shipments_per_s']:,} shipments/s",
                  f"{checks['federated_results']:,} results, "
                  f"{checks['federated_all_nodes_answered']:,} answered by all nodes, "
                  f"{checks['federated_split_flags']:,} split flags")
    if "pooled build" in figures.phases:  # kept ones are reused with --world
        table.add_row("pooled build (not timed in ratio)",
                      f"{figures.phases['pooled build']:.1f}", "",
                      "copy 3 stores + manifest into one SQLite file, px_ tables")
        table.add_row("DuckDB build (not timed in ratio)",
                      f"{figures.phases['duckdb build']:.1f}", "",
                      "copy the pooled SQLite file into DuckDB")
    for engine in ENGINES:
        table.add_row(f"pooled {engine}", f"{figures.phases[f'pooled {engine}']:.1f}",
                      f"{summary[f'pooled_{engine}_shipments_per_s']:,} shipments/s",
                      f"{checks[f'pooled_{engine}_rows']:,} rows, "
                      f"{checks[f'pooled_{engine}_split_flags']:,} split flags; federated / "
                      f"pooled {engine}: {figures.ratio(engine):.2f}x")
    fastest = figures.fastest()
    table.add_row(f"ratio federated / fastest pooled ({fastest})", "",
                  f"{figures.ratio(fastest):.2f}x",
                  f"target <= {TARGET_RATIO:g}x: "
                  f"{'met' if summary['ratio_target_met'] else 'NOT met'}")
    for name, (cells, problems) in figures.comparisons.items():
        table.add_row(name, "", f"{cells:,} cells",
                      "agree" if not problems else f"{len(problems):,} DISAGREE")
    table.add_row(f">= {TARGET_RATE:,} shipments/s end to end", "", "",
                  "reached" if summary["rate_target_met"] else "NOT reached")
    for process, mib in figures.peak_rss_mib.items():
        table.add_row(f"process {process}", "", f"{mib:,.0f} MiB peak RSS",
                      f"{figures.cpu_seconds[process]:.1f} s CPU (user + system)")
    # CPU time is what a loaded machine distorts least: the federation's processes
    # (coordinator and nodes, as before; the attest step beside them) against each engine's
    federated_cpu = sum(seconds for p, seconds in figures.cpu_seconds.items()
                        if p in figures.peak_rss_mib and p != "attest")
    for engine in ENGINES:
        pooled_cpu = figures.cpu_seconds[f"pooled {engine}"]
        table.add_row(f"CPU federated / pooled {engine}", "",
                      f"{federated_cpu / pooled_cpu:.1f}x" if pooled_cpu else "",
                      f"{federated_cpu:.1f} s / {pooled_cpu:.1f} s CPU (attest: "
                      f"{figures.cpu_seconds['attest']:.1f} s more)")
    return table


def _warnings(figures: Figures) -> list[str]:
    """Why the runs may not have done the same work (see screen.log)."""
    if figures.checks["federated_all_nodes_answered"] != figures.checks["federated_results"]:
        return ["some shipments lack an answer from some node (see screen.log; a node past its "
                "deadline? try a larger --deadline)"]
    return []


def _problems(figures: Figures) -> list[str]:
    """Every disagreement, counted per comparison and column, with the first cells."""
    lines = []
    for name, (_, problems) in figures.comparisons.items():
        if not problems:
            continue
        columns = Counter(p.split(", column ", 1)[1].split(":", 1)[0] if ", column " in p
                          else "whole shipment" for p in problems)
        lines.append(f"{name}: {len(problems):,} cells differ ("
                     + ", ".join(f"{c}: {n:,}" for c, n in columns.most_common()) + ")")
        lines += [f"  {p}" for p in problems[:SHOWN_PROBLEMS]]
    return lines


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _json(figures: Figures) -> Mapping[str, object]:
    return {
        "shipments": figures.shipments, "seed": figures.seed, "batch_size": figures.batch_size,
        "seconds": {k: round(v, 3) for k, v in figures.phases.items()},
        "rows": figures.rows,
        "peak_rss_mib": {k: round(v, 1) for k, v in figures.peak_rss_mib.items()},
        "cpu_seconds": {k: round(v, 2) for k, v in figures.cpu_seconds.items()},
        "checks": figures.checks,
        "warnings": _warnings(figures),
        **figures.summary(),
        "disagreement_lines": _problems(figures),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_screen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=1_000_000,
                        help="shipments in the synthetic world (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=5_000,
                        help="shipments per screening batch (default: %(default)s)")
    parser.add_argument("--workdir", type=Path,
                        help="new or empty folder to work in, kept afterwards (default: a "
                        "temporary folder, removed at the end unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--deadline", type=float,
                        help="per-call deadline of every node in seconds (default: the "
                        "federation's default); the consignee totals of a large manifest may "
                        "need more")
    parser.add_argument("--attest-first", action="store_true",
                        help="run the carrier's attest before starting the coordinator, not "
                        "beside its manifest validation")
    parser.add_argument("--world", type=Path, metavar="DIR",
                        help="screen again in a folder an earlier run kept (--workdir or "
                        "--keep): its world and node stores as they are, its pooled databases "
                        "if both are there; nothing is generated or imported (--shipments and "
                        "--seed are the world's); the folder is kept")
    args = parser.parse_args()
    if args.world is not None and args.workdir is not None:
        parser.error("give --world DIR or --workdir DIR, not both")
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"{args.workdir} is not empty; give a new or empty --workdir")
    kept = args.world or args.workdir
    root = (kept or Path(tempfile.mkdtemp(prefix="fedtrade-bench-screen-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    remove = kept is None and not args.keep
    signal.signal(signal.SIGTERM, _raise_interrupt)
    console.print(f"working folder: {root}{' (removed at the end)' if remove else ''}")
    try:
        figures = _run(args, root)
        console.print(_table(figures))
        for warning in _warnings(figures):
            console.print(f"[yellow]warning[/yellow]: {warning}")
        report = root / "bench_screen.json"
        report.write_text(json.dumps(_json(figures), indent=2) + "\n")
        if not remove:
            console.print(f"figures: {report}")
        else:
            console.print(json.dumps(_json(figures)))
        problems = _problems(figures)
        if problems:
            console.print("[red]error[/red]: federated = pooled does not hold:")
            for line in problems:
                console.print(line, markup=False, highlight=False)
            return 1
        return 0
    except FedtradeError as exc:
        console.print(f"[red]error[/red]: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]; every process started was stopped")
        return 130
    finally:
        if remove:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
