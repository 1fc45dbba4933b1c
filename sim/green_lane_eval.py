"""What the AEO green lane costs and saves, against the generator's ground truth.

One screening run per tier configuration writes its dispositions
(``fedtrade screen --dispositions LANE.csv``). For each: the shipments taken out
of review (the inspection workload saved: released without an officer looking),
the planted violations among the facilitated shipments (the cost of
facilitation, by pattern), and the compliance sample's true hit rate next to the
violation rate of all shipments (a sample that finds violations at the base rate
says the green lane is not selecting compliant chains).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fedtrade.coordinator.green_lane import COMPLIANCE_SAMPLE, FACILITATED
from fedtrade.protocol.input_files import text_lines
from fedtrade.sim.evaluate import INDICATOR_PATTERNS, read_ground_truth
from fedtrade.trust.errors import DataError

__all__ = ["LaneEvaluation", "evaluate_green_lane", "format_green_lane"]


@dataclass(frozen=True)
class LaneEvaluation:
    label: str
    shipments: int
    violating: int  # shipments carrying a planted violation, in the whole manifest
    facilitated: int
    sampled: int
    # planted violation -> facilitated (released, not sampled) shipments carrying it
    facilitated_violations: Mapping[str, int]
    facilitated_violating: int
    sampled_violating: int

    def share(self, count: int, total: int | None = None) -> float | None:
        whole = self.shipments if total is None else total
        return count / whole if whole else None

    def as_json(self) -> dict[str, object]:
        return {
            "label": self.label, "shipments": self.shipments, "violating": self.violating,
            "facilitated": self.facilitated, "compliance_sample": self.sampled,
            "workload_saved": self.share(self.facilitated),
            "facilitated_violating": self.facilitated_violating,
            "facilitated_violations": dict(self.facilitated_violations),
            "sample_hit_rate": self.share(self.sampled_violating, self.sampled),
            "base_violation_rate": self.share(self.violating),
        }


def _dispositions(path: Path) -> dict[str, str]:
    try:
        with text_lines(path, "dispositions") as lines:
            rows = list(csv.DictReader(lines))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    if rows and not {"house_bill", "disposition"} <= set(rows[0]):
        raise DataError(f"{path}: not a dispositions file (fedtrade screen --dispositions)")
    return {row["house_bill"]: row["disposition"] for row in rows}


def evaluate_green_lane(
    house_bills: Sequence[str], ground_truth: Path, dispositions: Path, label: str | None = None,
) -> LaneEvaluation:
    """Score one run's green lane; ``house_bills`` are the shipments screened."""
    truth, _ = read_ground_truth(ground_truth)
    lane = _dispositions(dispositions)
    unknown = set(lane) - set(house_bills)
    if unknown:
        raise DataError(f"{dispositions}: {len(unknown)} house bill(s) were not screened in "
                        f"these results (first: {sorted(unknown)[0]}); give the same run's files")

    def violations(bill: str) -> frozenset[str]:
        return truth.get(bill, frozenset()) - frozenset(INDICATOR_PATTERNS)

    by_pattern: Counter[str] = Counter()
    facilitated_violating = sampled_violating = 0
    for bill, disposition in lane.items():
        found = violations(bill)
        if disposition == FACILITATED and found:
            facilitated_violating += 1
            by_pattern.update(found)
        elif disposition == COMPLIANCE_SAMPLE and found:
            sampled_violating += 1
    counts = Counter(lane.values())
    return LaneEvaluation(
        label=label or dispositions.stem, shipments=len(house_bills),
        violating=sum(1 for bill in house_bills if violations(bill)),
        facilitated=counts[FACILITATED], sampled=counts[COMPLIANCE_SAMPLE],
        facilitated_violations=dict(sorted(by_pattern.items())),
        facilitated_violating=facilitated_violating, sampled_violating=sampled_violating)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def format_green_lane(evaluations: Sequence[LaneEvaluation]) -> str:
    lines = ["AEO green lane (per tier configuration)",
             f"{'configuration':<24}{'facilitated':>12}{'saved':>9}{'violating released':>20}"
             f"{'sample':>8}{'sample hits':>13}{'base rate':>11}"]
    for e in evaluations:
        lines.append(
            f"{e.label:<24}{e.facilitated:>12,}{_percent(e.share(e.facilitated)):>9}"
            f"{e.facilitated_violating:>20,}{e.sampled:>8,}"
            f"{_percent(e.share(e.sampled_violating, e.sampled)):>13}"
            f"{_percent(e.share(e.violating)):>11}")
        if e.facilitated_violations:
            released = ", ".join(f"{p} {n}" for p, n in e.facilitated_violations.items())
            lines.append(f"  released with a planted violation: {released}")
    return "\n".join(lines)
