"""The tooling's `fedtrade` commands (synth, evaluate), registered as plugins.

`pyproject.toml` lists `register` under the entry point group ``fedtrade.commands``; the
coordinator's command line loads it, so the product never imports this package.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fedtrade.coordinator.result_files import read_results
from fedtrade.sim.evaluate import evaluate, format_evaluation
from fedtrade.sim.synth import generate, parse_rate_overrides
from fedtrade.sim.synth.confounders import MIXES, mix_named

__all__ = ["register"]


def _evaluate(args: argparse.Namespace) -> int:
    print(format_evaluation(evaluate(read_results(args.results), args.ground_truth)))
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


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluation = commands.add_parser(
        "evaluate", help="precision and recall of screening results against a ground truth",
        description="Compare results.csv with a ground truth (house_bill,pattern) such as "
        "`fedtrade synth` writes: per pattern, for the federation and for the manifest alone.")
    evaluation.add_argument("results", type=Path, help="results CSV from `fedtrade screen`")
    evaluation.add_argument("ground_truth", type=Path, help="ground_truth.csv")
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
        "--confounders",
        default="none",
        choices=list(MIXES),
        help="confounder mix: honest shipments with risk-like signals, listed in "
        "confounders.csv (default: %(default)s)",
    )
    synth.set_defaults(run=_synth)
