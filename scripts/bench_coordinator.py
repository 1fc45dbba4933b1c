"""Benchmark: the coordinator's own share of screening, phase by phase, and its peak memory.

Works in a folder laid out as `scripts/bench_screen --workdir DIR` keeps it (a world, a
federation and its three node stores), made first with `--prepare N` (generate N
shipments and import them). The carrier attests the manifest (again when its
attestations are 4 hours old: they expire); then it starts the three nodes as
`fedtrade-node serve` processes, screens the manifest in this process and prints, as JSON, the
run's wall and CPU seconds (the signed answers kept in a new evidence store, as
`fedtrade screen` keeps them), this process's peak RSS (the coordinator's) and the
coordinator's own seconds per phase (reading and validating the manifest, checking the
attestations, sending, waiting for the nodes, split shipments, assessing, writing the
results). `--no-split` turns split detection off (threshold 0), leaving out the nodes'
consignee totals where the node side is slow; `--unreachable` starts no node and gives
the coordinator addresses where nothing listens, so every node is treated as down after
its first failures and the run measures the coordinator's own work alone (reading,
attestations, batching, assessing, writing) where the nodes are too slow to wait for.
Run it with PYTHONPATH set to an exported older tree to measure that code the same way.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import inspect
import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from fedtrade.coordinator.client import Coordinator, QueryContext
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.result_files import ResultWriter
from fedtrade.coordinator.screening import screen_manifest
from fedtrade.sim.federation import NODE_IDS, Federation
from fedtrade.trust.errors import FedtradeError

START_TIMEOUT = 60.0
CONTEXT = QueryContext(purpose="TARGETING", case_id="BENCH", officer_id="bench",
                       legal_basis="19 USC 1415")


@contextmanager
def _nodes(federation: Federation) -> Iterator[dict[str, str]]:
    """The federation's nodes as processes on free ports; stopped at the end."""
    data = federation.root / "data"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for node_id, config in federation.node_configs.items():
            (data / f"{node_id}.port").unlink(missing_ok=True)
            with (data / f"{node_id}.log").open("ab") as log:
                processes[node_id] = subprocess.Popen(
                    [sys.executable, "-m", "fedtrade.node.cli", "serve", "--config",
                     str(config), "--port-file", str(data / f"{node_id}.port")],
                    stdout=log, stderr=subprocess.STDOUT)
        addresses = {}
        for node_id, process in processes.items():
            port_file, deadline = data / f"{node_id}.port", time.monotonic() + START_TIMEOUT
            while not port_file.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise FedtradeError(f"{node_id} did not start; see {data / node_id}.log")
                time.sleep(0.05)
            addresses[node_id] = f"127.0.0.1:{int(port_file.read_text())}"
        yield addresses
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait()


@contextmanager
def _unreachable(federation: Federation) -> Iterator[dict[str, str]]:
    """Addresses where nothing listens (a port bound and never served)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        yield {node_id: f"127.0.0.1:{port}" for node_id in federation.node_configs}


def _configure(federation: Federation, addresses: Mapping[str, str], args: argparse.Namespace
               ) -> Path:
    path = federation.write_coordinator_config(addresses, batch_size=args.batch_size)
    document = yaml.safe_load(path.read_text())
    for entry in document["nodes"].values():
        entry["deadline_seconds"] = args.deadline
    if args.no_split:
        document["risk"]["split"]["threshold_usd"] = 0
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _prepare(root: Path, shipments: int) -> None:
    """A world of ``shipments`` and a federation holding it, as bench_screen lays them out."""
    # imported here: the node's and the generator's modules are not the coordinator's memory
    from fedtrade.node.config import load_node_config
    from fedtrade.node.store import import_path
    from fedtrade.sim.federation import create_federation
    from fedtrade.sim.synth import generate

    generate(root / "world", shipments=shipments, seed=1)
    federation = create_federation(root / "fed")
    for role, node_id in NODE_IDS.items():
        store = load_node_config(federation.node_configs[node_id]).database
        import_path(store, role, None, root / "world" / role)


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_coordinator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path, help="a folder kept by scripts/bench_screen")
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--deadline", type=float, default=600.0,
                        help="per-call deadline of every node in seconds")
    parser.add_argument("--no-split", action="store_true", help="split detection off")
    parser.add_argument("--unreachable", action="store_true",
                        help="start no node: the coordinator's own work alone")
    parser.add_argument("--prepare", type=int, metavar="N",
                        help="first generate N shipments and import them into a new federation")
    args = parser.parse_args()
    root = args.workdir.resolve()
    if args.prepare:
        _prepare(root, args.prepare)
    if not (root / "fed").is_dir():
        parser.error(f"{root} holds no federation; give --prepare N or a bench_screen folder")
    federation = Federation(root / "fed", {
        node_id: root / "fed" / f"{node_id}.yaml" for node_id in NODE_IDS.values()})
    attestations = root / "manifest.attest.jsonl"
    fresh = attestations.exists() and time.time() - attestations.stat().st_mtime < 4 * 3600
    # its own process, as the filer runs it: its memory is not the coordinator's
    if not fresh:
        subprocess.run([sys.executable, "-m", "fedtrade.node.cli", "attest", "--config",
                        str(federation.node_configs[federation.filer_id]), "--manifest",
                        str(root / "world" / "manifest.csv"), "--out", str(attestations),
                        "--valid-hours", "6"], check=True)
    with _unreachable(federation) if args.unreachable else _nodes(federation) as addresses:
        config = load_coordinator_config(_configure(federation, addresses, args))
        # as `fedtrade screen` runs: every signed answer kept (a new store each run)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.evidence_db}{suffix}").unlink(missing_ok=True)
        evidence = EvidenceStore(config.evidence_db)
        coordinator = Coordinator(config, evidence=evidence)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, cpu = time.perf_counter(), time.process_time()
        try:
            with ResultWriter(root / "results.bench.csv") as writer:
                # one batch at a time, or (before the column-wise coordinator) one result
                emit: Any = getattr(writer, "write_batch", writer.write)
                summary = screen_manifest(coordinator, root / "world" / "manifest.csv",
                                          CONTEXT, emit, attestations=attestations)
        finally:
            coordinator.close()
            evidence.close()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    figures = {
        "shipments": summary.shipments,
        "split_detection": not args.no_split,
        "nodes": "unreachable" if args.unreachable else "running",
        "wall_seconds": round(wall, 2),
        "coordinator_cpu_seconds": round(cpu, 2),
        "shipments_per_second": round(summary.shipments / wall),
        "coordinator_peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mib_before_screening": round(rss_before, 1),
        "phase_seconds": {k: round(v, 2)
                          for k, v in getattr(summary, "phase_seconds", {}).items()},
        "code": str(Path(inspect.getfile(screen_manifest)).resolve().parent.parent),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
