"""Benchmark: a differentially private trade_statistics answer vs the suppressed one it replaced.

Generates a world (``fedtrade synth``), imports the broker's store, then times
the query on that store in alternating child processes: one runs this tree
(bounding + OpenDP noise), the other a tree of the baseline revision (true
values + threshold/dominance/complementary suppression), extracted with
``git archive``. Only the query itself is timed (its SQL on a read-only
connection, the folding and the disclosure step), not the signing or the
network, which are the same for both. Reports medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "1aaa7cf"  # the last revision with the suppression-only trade_statistics
QUERIES: dict[str, list[str]] = {
    "week x hs_chapter": ["week", "hs_chapter"],
    "hs_chapter x origin x week": ["hs_chapter", "origin", "week"],
}


def _statistics_query() -> tuple[Any, Any, Any]:
    """trade_statistics' run, spec and parameter check, in either tree's layout (the baseline
    declared queries in the node, this tree in fedtrade.protocol)."""
    try:
        from fedtrade.node.catalogue import RUNS
        from fedtrade.protocol.catalogue import CATALOGUE
        from fedtrade.protocol.params import validate_params
    except ImportError:
        from fedtrade.node.queries import spec as node_spec
        from fedtrade.node.queries import statistics as node_statistics

        old = node_statistics.STATISTICS_QUERIES[0]  # type: ignore[attr-defined]
        return old.run, old, node_spec.validate_params  # type: ignore[attr-defined]
    return RUNS["trade_statistics"], CATALOGUE["trade_statistics"], validate_params


def _measure(store: Path, window: tuple[str, str], repeats: int) -> dict[str, float]:
    """Child process: time each query ``repeats`` times with whichever fedtrade is importable."""
    import sqlite3

    from fedtrade.node.queries import settings as settings_module
    from fedtrade.node.queries.spec import Execution

    run, spec, validate_params = _statistics_query()
    settings = settings_module.QuerySettings()
    extra: dict[str, object] = {}
    if hasattr(settings_module, "PrivacySettings"):  # as configs/broker.yaml
        privacy = settings_module.PrivacySettings(
            unit="party", shipments_per_unit=5, cells_per_shipment=1,
            value_cents_per_shipment=250_000, epsilon_per_query=0.5, budget_epsilon=5.0,
            period_days=30, delta=1e-7)
        settings = settings_module.QuerySettings(privacy=privacy)
        extra = {"epsilon": 0.5}
    conn = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    out = {}
    for label, groups in QUERIES.items():
        params = validate_params(spec, {"group_by": list(groups), "date_from": window[0],
                                        "date_to": window[1]})
        execution = Execution(conn, "broker", params, ("shipments", "value_usd"), b"q" * 16,
                              settings, **extra)  # type: ignore[arg-type]
        run(execution)  # warm the page cache
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            rows = len(run(execution).rows)
            samples.append(time.perf_counter() - started)
        out[label] = statistics.median(samples)
        out[f"{label} rows"] = rows
    return out


def _child(tree: Path, store: Path, window: tuple[str, str], repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = (f"import sys, json; sys.path.insert(0, {str(tree)!r}); "
            f"sys.path.insert(0, {str(ROOT / 'scripts')!r}); import fedtrade; "
            f"assert fedtrade.__path__[0].startswith({str(tree)!r}), fedtrade.__path__; "
            "from bench_stats import _measure; from pathlib import Path; "
            f"print(json.dumps(_measure(Path({str(store)!r}), {window!r}, {repeats})))")
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                          capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--repeats", type=int, default=3, help="queries per round and tree")
    args = parser.parse_args()

    from fedtrade.node.store.importer import import_path
    from fedtrade.sim.synth import generate

    with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
        work = Path(tmp)
        baseline = work / "baseline"
        baseline.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline],
                                 check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive.stdout, check=True)
        started = time.perf_counter()
        generate(work / "world", shipments=args.shipments, seed=7, progress=False)
        store = work / "broker.db"
        import_path(store, "broker", None, work / "world" / "broker", progress=False)
        print(f"world of {args.shipments:,} shipments generated and imported into the broker "
              f"store in {time.perf_counter() - started:.1f} s")
        with (work / "world" / "manifest.csv").open() as f:
            next(f)
            days = sorted({line.rstrip().rsplit(",", 1)[1] for line in f})
        window = (days[0], days[-1])
        runs: dict[str, list[dict[str, float]]] = {"dp": [], "suppressed": []}
        for _ in range(args.rounds):
            runs["dp"].append(_child(ROOT, store, window, args.repeats))
            runs["suppressed"].append(_child(baseline, store, window, args.repeats))
    print(f"broker store, window {window[0]} .. {window[1]}, both fields; medians of "
          f"{args.rounds} x {args.repeats} runs each (child processes, alternating)")
    print(f"{'query':<28} {'suppressed':>12} {'DP':>12} {'ratio':>7} {'cells (supp/DP)':>16}")
    for label in QUERIES:
        base = statistics.median(r[label] for r in runs["suppressed"])
        noisy = statistics.median(r[label] for r in runs["dp"])
        cells = f"{runs['suppressed'][0][label + ' rows']:.0f}/{runs['dp'][0][label + ' rows']:.0f}"
        print(f"{label:<28} {base:>10.3f} s {noisy:>10.3f} s {noisy / base:>6.2f}x {cells:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
