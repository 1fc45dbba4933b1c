"""The tooling's `fedtrade` commands (synth, evaluate), registered as plugins.

`pyproject.toml` lists `register` under the entry point group ``fedtrade.commands``; the
coordinator's command line loads it, so the product never imports this package.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fedtrade.coordinator.result_files import read_results
from fedtrade.sim.evaluate import Counts, Evaluation, evaluate, format_evaluation
from fedtrade.sim.green_lane_eval import evaluate_green_lane, format_green_lane
from fedtrade.sim.synth import generate, parse_rate_overrides
from fedtrade.sim.synth.confounders import MIXES, mix_named
from fedtrade.trust.cli import CommandParser, add_json_option, print_json

__all__ = ["register"]


def _counts_json(counts: Counts) -> dict[str, Any]:
    return {"tp": counts.tp, "fp": counts.fp, "fn": counts.fn,
            "precision": counts.precision, "recall": counts.recall}


def _evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    check = evaluation.check_targets()
    return {
        "ground_truth": str(evaluation.ground_truth),
        "shipments": evaluation.shipments,
        "patterns": [
            {"pattern": s.pattern, "planted": s.planted,
             "federation": _counts_json(s.federation),
             "manifest_only": _counts_json(s.manifest_only)}
            for s in evaluation.scores
        ],
        "unknown_patterns": dict(evaluation.unknown_patterns),
        "budgets": [
            {"share": b.share, "slots": b.slots, "violating": b.violating,
             "federation": {"caught": b.federation_hits, "hit_rate": b.hit_rate(),
                            "recall": b.recall()},
             "manifest_only": {"caught": b.manifest_only_hits, "hit_rate": b.hit_rate(False),
                               "recall": b.recall(False)}}
            for b in evaluation.budgets
        ],
        "by_confounder": evaluation.by_confounder,
        "targets": {"recall": check.recall_target, "precision": check.precision_target,
                    "checked": list(check.patterns), "met": check.met,
                    "failures": list(check.failures)},
    }


def _evaluate(args: argparse.Namespace) -> int:
    evaluation = evaluate(read_results(args.results), args.ground_truth, args.confounders)
    bills = [r.house_bill for r in read_results(args.results)] if args.dispositions else []
    lanes = [evaluate_green_lane(bills, args.ground_truth, path) for path in args.dispositions]
    if args.json:
        print_json({**_evaluation_json(evaluation),
                    **({"green_lane": [lane.as_json() for lane in lanes]} if lanes else {})})
    else:
        print(format_evaluation(evaluation))
        if lanes:
            print(format_green_lane(lanes))
    return 0


def _synth(args: argparse.Namespace) -> int:
    summary = generate(
        args.out,
        shipments=args.shipments,
        seed=args.seed,
        rates=parse_rate_overrides(args.rate),
        threshold_usd=args.threshold,
        confounders=mix_named(args.confounders),
    )
    print(summary)
    return 0


def register(commands: argparse._SubParsersAction[CommandParser]) -> None:
    evaluation = commands.add_parser(
        "evaluate", help="precision and recall of screening results against a ground truth",
        description="Compare results.csv with a ground truth (house_bill,pattern) such as "
        "`fedtrade synth` writes: per pattern, for the federation and for the manifest alone.")
    evaluation.add_argument("results", type=Path, help="results CSV from `fedtrade screen`")
    evaluation.add_argument("ground_truth", type=Path, help="ground_truth.csv")
    evaluation.add_argument(
        "--confounders", type=Path, metavar="CSV",
        help="confounders.csv of the same world: count the federation's false positives and "
        "misses per confounder of the shipments they fall on")
    evaluation.add_argument(
        "--dispositions", type=Path, action="append", default=[], metavar="LANE.csv",
        help="the AEO green lane's dispositions of the same manifest (fedtrade screen "
        "--dispositions), one per tier configuration (repeatable; named by file stem)")
    add_json_option(evaluation)
    evaluation.set_defaults(run=_evaluate)

    synth = commands.add_parser(
        "synth", help="generate a synthetic federation with planted risks and its ground truth"
    )
    synth.add_argument("--shipments", type=int, required=True, help="number of shipments")
    synth.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    synth.add_argument("--out", type=Path, required=True, help="new or empty output folder")
    synth.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="PATTERN=RATE",
        help="override a planted pattern's rate, e.g. undervaluation=0.05",
    )
    synth.add_argument(
        "--threshold",
        type=float,
        default=800.0,
        help="de minimis threshold in USD for split shipments (0 disables; default: %(default)s)",
    )
    synth.add_argument(
        "--mix", "--confounders",
        dest="confounders",
        default="none",
        choices=list(MIXES),
        help="confounder mix: honest shipments with risk-like signals, listed in "
        "confounders.csv (default: %(default)s)",
    )
    synth.set_defaults(run=_synth)
