"""Precision and recall of a screening run against the synthetic generator's ground truth.

Each planted pattern is scored twice: for what the federation flagged (the ``patterns``
column) and for what the manifest alone reveals (``manifest_only_patterns``, the
baseline without the federation).

Inspection budgets: an officer can open only a share of the shipments (1 %, 5 %,
10 %). Each worklist ranks the shipments it scored above zero, highest first (ties in
manifest order): the federation by its score, the manifest-only baseline by the same
rule weights applied to its own patterns. A worklist shorter than the budget leaves
slots unused rather than filling them at random. A hit is a shipment carrying at least
one planted violation; the generator's seller indicators (new, unverified) are not
violations.

With the generator's confounders.csv, each pattern's federation false positives and
misses are also counted per confounder of the shipments they fall on: where precision
is lost (an honest frequent buyer flagged as a split) and where recall is (an
undervalued parcel sold off the platform, unknown to the marketplace node).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fedtrade.coordinator.results import ShipmentResult
from fedtrade.coordinator.risk import DEFAULT_RISK, load_risk_rules, worklist
from fedtrade.protocol.input_files import text_lines
from fedtrade.sim.synth import PATTERNS
from fedtrade.trust.errors import DataError
from fedtrade.trust.yamlconfig import load_yaml_text

__all__ = [
    "BUDGETS",
    "BUDGET_GAIN_TARGET",
    "INDICATOR_PATTERNS",
    "PRECISION_TARGET",
    "RECALL_TARGET",
    "Budget",
    "Counts",
    "Evaluation",
    "PatternScore",
    "TargetCheck",
    "budgets",
    "evaluate",
    "format_budgets",
    "format_by_confounder",
    "format_evaluation",
    "manifest_only_score",
    "read_confounders",
    "read_ground_truth",
]

BUDGETS = (0.01, 0.05, 0.10)
BUDGET_GAIN_TARGET = 2.0
# Planted seller properties that are evidence, not violations (an honest seller may be new).
INDICATOR_PATTERNS = ("unverified_seller", "new_seller")
RECALL_TARGET = 0.95
_DEFAULT_RULES = load_risk_rules(
    load_yaml_text(json.dumps({"risk": DEFAULT_RISK}), "default risk rules").mapping("risk"))
PRECISION_TARGET = 0.90
GROUND_TRUTH_COLUMNS = ("house_bill", "pattern")


@dataclass(frozen=True)
class Counts:
    """Shipments flagged with a pattern against shipments it was planted on."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        """None when nothing was flagged (precision is undefined)."""
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        """None when the pattern was never planted (recall is undefined)."""
        planted = self.tp + self.fn
        return self.tp / planted if planted else None


def manifest_only_score(patterns: Iterable[str]) -> int:
    """The baseline's score under the default rule weights (configs/coordinator.yaml)."""
    return _DEFAULT_RULES.manifest_only_score(patterns)


@dataclass(frozen=True)
class Budget:
    """What the top ``share`` of the shipments, by each worklist's ranking, catches."""

    share: float
    slots: int  # shipments an officer may open: ceil(share x shipments)
    violating: int  # shipments carrying at least one planted violation
    federation_hits: int
    manifest_only_hits: int
    federation_listed: int  # shipments the worklist had for the slots (score > 0)
    manifest_only_listed: int

    @staticmethod
    def _rate(hits: int, of: int) -> float | None:
        return hits / of if of else None

    def hit_rate(self, federation: bool = True) -> float | None:
        """Hits per slot opened (the worklist's precision at this budget)."""
        listed = self.federation_listed if federation else self.manifest_only_listed
        hits = self.federation_hits if federation else self.manifest_only_hits
        return self._rate(hits, min(self.slots, listed))

    def recall(self, federation: bool = True) -> float | None:
        hits = self.federation_hits if federation else self.manifest_only_hits
        return self._rate(hits, self.violating)

    @property
    def gain(self) -> float | None:
        """Federation hits over manifest-only hits (None when the baseline catches none)."""
        return self._rate(self.federation_hits, self.manifest_only_hits)


def budgets(
    federation: list[int], manifest_only: list[int], violating: list[bool],
    shares: Iterable[float] = BUDGETS,
) -> tuple[Budget, ...]:
    """Budgets over per-shipment scores (in manifest order) and whether each is violating."""
    fed, base = worklist(federation), worklist(manifest_only)
    out = []
    for share in shares:
        slots = math.ceil(share * len(violating))
        out.append(Budget(
            share, slots, sum(violating),
            sum(violating[i] for i in fed[:slots]), sum(violating[i] for i in base[:slots]),
            len(fed), len(base),
        ))
    return tuple(out)


@dataclass(frozen=True)
class PatternScore:
    pattern: str
    planted: int
    federation: Counts
    manifest_only: Counts


@dataclass(frozen=True)
class TargetCheck:
    """Whether recall and precision reach their targets on the checked patterns."""

    patterns: tuple[str, ...]
    # readable "pattern: why" for every checked pattern that misses a target
    failures: tuple[str, ...]
    recall_target: float
    precision_target: float

    @property
    def met(self) -> bool:
        return bool(self.patterns) and not self.failures


@dataclass(frozen=True)
class Evaluation:
    ground_truth: Path
    shipments: int
    # one score per pattern of the generator's vocabulary, in its order
    scores: tuple[PatternScore, ...]
    # flagged pattern names (either column) the ground truth does not know -> times flagged
    unknown_patterns: Mapping[str, int]
    budgets: tuple[Budget, ...] = ()
    # pattern -> ("fp" | "fn") -> confounder -> shipments ("-": none), with confounders.csv
    by_confounder: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None

    def score(self, pattern: str) -> PatternScore:
        for score in self.scores:
            if score.pattern == pattern:
                return score
        raise KeyError(pattern)

    def visible_patterns(self) -> tuple[str, ...]:
        """Patterns planted at least once that the federation flagged correctly at least once."""
        return tuple(s.pattern for s in self.scores if s.planted and s.federation.tp)

    def check_targets(
        self,
        patterns: Collection[str] | None = None,
        *,
        recall_target: float = RECALL_TARGET,
        precision_target: float = PRECISION_TARGET,
    ) -> TargetCheck:
        """Check the federation's figures on ``patterns`` (default: the visible ones)."""
        if patterns is None:
            checked = self.visible_patterns()
        else:
            unknown = sorted(set(patterns) - set(PATTERNS))
            if unknown:
                raise DataError(
                    f"cannot check targets for unknown pattern(s) {', '.join(unknown)}; "
                    f"known patterns: {', '.join(PATTERNS)}"
                )
            checked = tuple(p for p in PATTERNS if p in patterns)
        failures = []
        for pattern in checked:
            counts = self.score(pattern).federation
            recall, precision = counts.recall, counts.precision
            if recall is None:
                failures.append(f"{pattern}: never planted, recall cannot be measured")
                continue
            problems = []
            if recall < recall_target:
                problems.append(f"recall {recall:.4f} < {recall_target:g}")
            if precision is None:
                problems.append("nothing flagged, precision n/a")
            elif precision < precision_target:
                problems.append(f"precision {precision:.4f} < {precision_target:g}")
            if problems:
                failures.append(f"{pattern}: {', '.join(problems)}")
        return TargetCheck(checked, tuple(failures), recall_target, precision_target)


def read_ground_truth(path: Path | str) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
    """house bill -> planted patterns, and house bill -> line of its first ground-truth row."""
    path = Path(path)
    planted: dict[str, set[str]] = {}
    first_line: dict[str, int] = {}
    known = set(PATTERNS)
    with text_lines(path, "ground truth",
                    hint="give the ground_truth.csv written by `fedtrade synth`") as lines:
        reader = csv.reader(lines, strict=True)
        line = 1
        try:
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: file is empty; expected the header house_bill,pattern")
            missing = [c for c in GROUND_TRUTH_COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{path}:1: header: missing column(s) {', '.join(missing)}; a ground truth "
                    f"file has the columns house_bill,pattern"
                )
            bill_at, pattern_at = header.index("house_bill"), header.index("pattern")
            end = reader.line_num
            for fields in reader:
                line, end = end + 1, reader.line_num
                if len(fields) != len(header):
                    raise DataError(
                        f"{path}:{line}: row has {len(fields)} field(s), expected "
                        f"{len(header)} ({','.join(header)})"
                    )
                bill, pattern = fields[bill_at], fields[pattern_at]
                if not bill:
                    raise DataError(f"{path}:{line}: house_bill: is empty")
                if pattern not in known:
                    raise DataError(
                        f"{path}:{line}: pattern: {pattern!r} is not a pattern the generator "
                        f"plants; known patterns: {', '.join(PATTERNS)}"
                    )
                planted.setdefault(bill, set()).add(pattern)
                first_line.setdefault(bill, line)
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text after line {line}") from None
    return {bill: frozenset(p) for bill, p in planted.items()}, first_line


def read_confounders(path: Path | str) -> dict[str, frozenset[str]]:
    """house bill -> confounders, from a confounders.csv (house_bill,confounder)."""
    path = Path(path)
    try:
        with text_lines(path, "confounders",
                        hint="give the confounders.csv written by `fedtrade synth`") as lines:
            rows = list(csv.reader(lines, strict=True))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    if not rows or rows[0] != ["house_bill", "confounder"]:
        raise DataError(f"{path}:1: header: expected house_bill,confounder")
    found: dict[str, set[str]] = {}
    for line, row in enumerate(rows[1:], 2):
        if len(row) != 2 or not all(row):
            raise DataError(f"{path}:{line}: expected a house_bill and a confounder")
        found.setdefault(row[0], set()).add(row[1])
    return {bill: frozenset(labels) for bill, labels in found.items()}


class _Tally:
    """Running TP/FP/FN per pattern for one column of the results."""

    def __init__(self) -> None:
        self.tp: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()

    def add(self, flagged: frozenset[str], planted: frozenset[str]) -> None:
        self.tp.update(flagged & planted)
        for pattern in flagged - planted:
            if pattern in PATTERNS:
                self.fp[pattern] += 1
            else:
                self.unknown[pattern] += 1
        self.fn.update(planted - flagged)

    def counts(self, pattern: str) -> Counts:
        return Counts(self.tp[pattern], self.fp[pattern], self.fn[pattern])


def evaluate(results: Iterable[ShipmentResult], ground_truth: Path | str,
             confounders: Path | str | None = None) -> Evaluation:
    """Score ``results`` against ``ground_truth``; every planted shipment must be in results.
    With ``confounders`` (confounders.csv), break the federation's errors down by them."""
    ground_truth = Path(ground_truth)
    truth, first_line = read_ground_truth(ground_truth)
    labels = read_confounders(confounders) if confounders is not None else None
    errors: dict[str, dict[str, Counter[str]]] = {}
    scored = set(PATTERNS) - set(INDICATOR_PATTERNS)  # indicators are never flagged
    federation, manifest_only = _Tally(), _Tally()
    seen: set[str] = set()
    nothing: frozenset[str] = frozenset()
    scores: list[int] = []
    baseline: list[int] = []
    violating: list[bool] = []
    indicators = set(INDICATOR_PATTERNS)
    for result in results:
        if result.house_bill in seen:
            raise DataError(
                f"house bill {result.house_bill!r} appears twice in the results; evaluate the "
                f"results of one screening run (one row per shipment)"
            )
        seen.add(result.house_bill)
        planted = truth.get(result.house_bill, nothing)
        flagged = frozenset(result.patterns)
        federation.add(flagged, planted)
        if labels is not None:
            found = labels.get(result.house_bill) or frozenset("-")
            for kind, patterns in (("fp", flagged - planted), ("fn", planted - flagged)):
                for pattern in patterns & scored:
                    errors.setdefault(pattern, {"fp": Counter(), "fn": Counter()})[
                        kind].update(found)
        manifest_only.add(frozenset(result.manifest_only_patterns), planted)
        scores.append(result.score)
        baseline.append(manifest_only_score(result.manifest_only_patterns))
        violating.append(bool(planted - indicators))
    absent = [bill for bill in truth if bill not in seen]
    if absent:
        bill = min(absent, key=first_line.__getitem__)
        more = f" (and {len(absent) - 1} more shipment(s))" if len(absent) > 1 else ""
        raise DataError(
            f"{ground_truth}:{first_line[bill]}: house_bill: shipment {bill!r} is in the ground "
            f"truth but not in the results{more}; evaluate the results of screening the "
            f"manifest this ground truth was generated with"
        )
    planted_counts = Counter(p for patterns in truth.values() for p in patterns)
    per_pattern = tuple(
        PatternScore(p, planted_counts[p], federation.counts(p), manifest_only.counts(p))
        for p in PATTERNS
    )
    unknown = federation.unknown + manifest_only.unknown
    by_confounder = None if labels is None else {
        p: {kind: dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            for kind, counts in errors[p].items()}
        for p in PATTERNS if p in errors}
    return Evaluation(ground_truth, len(seen), per_pattern, dict(sorted(unknown.items())),
                      budgets(scores, baseline, violating), by_confounder)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def format_budgets(rows: Iterable[Budget]) -> list[str]:
    """One line per budget: hit rate and recall of both worklists, and their ratio; then
    whether the federation catches at least BUDGET_GAIN_TARGET times the baseline at 5 %."""
    out = []
    rows = tuple(rows)
    for b in rows:
        gain = "n/a" if b.gain is None else f"{b.gain:.2f}x"
        out.append(
            f"budget {b.share:.0%} ({b.slots:,} of the shipments, {b.violating:,} violating): "
            f"federation {b.federation_hits:,} caught, hit rate {_ratio(b.hit_rate())}, "
            f"recall {_ratio(b.recall())}; manifest-only {b.manifest_only_hits:,} caught, "
            f"hit rate {_ratio(b.hit_rate(False))}, recall {_ratio(b.recall(False))}; "
            f"federation/manifest-only {gain}"
        )
    at_five = next((b for b in rows if b.share == 0.05), None)
    if at_five is not None:
        met = at_five.federation_hits >= BUDGET_GAIN_TARGET * at_five.manifest_only_hits \
            and at_five.federation_hits > 0
        out.append(f"budget target (at 5 %, federation catches >= {BUDGET_GAIN_TARGET:g}x the "
                   f"manifest-only worklist): {'MET' if met else 'NOT MET'} "
                   f"({at_five.federation_hits:,} vs {at_five.manifest_only_hits:,})")
    return [*out, ""] if out else out


def format_by_confounder(evaluation: Evaluation, top: int = 4) -> list[str]:
    """Per pattern, the confounders its false positives and misses fall on most often."""
    if evaluation.by_confounder is None:
        return []
    out = ["federation errors by confounder of the shipment (\"-\": none):"]
    for pattern, kinds in evaluation.by_confounder.items():
        for kind, name in (("fp", "false positives"), ("fn", "misses")):
            counts = kinds.get(kind, {})
            if counts:
                shown = ", ".join(f"{c} {n:,}" for c, n in list(counts.items())[:top])
                out.append(f"  {pattern} {name}: {shown}")
    return [*out, ""]


def format_evaluation(
    evaluation: Evaluation,
    patterns: Collection[str] | None = None,
    *,
    recall_target: float = RECALL_TARGET,
    precision_target: float = PRECISION_TARGET,
) -> str:
    """An aligned table per pattern and a closing line saying whether the targets hold."""
    header = ("pattern", "planted", "federation precision", "recall",
              "manifest-only precision", "recall")
    rows = [
        (
            s.pattern,
            f"{s.planted:,}",
            _ratio(s.federation.precision),
            _ratio(s.federation.recall),
            _ratio(s.manifest_only.precision),
            _ratio(s.manifest_only.recall),
        )
        for s in evaluation.scores
    ]
    widths = [max(len(row[k]) for row in (header, *rows)) for k in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    out = [
        f"{evaluation.shipments:,} shipments evaluated against {evaluation.ground_truth}",
        "",
        line(header),
        line(tuple("-" * w for w in widths)),
        *(line(row) for row in rows),
        "",
    ]
    out.extend(format_budgets(evaluation.budgets))
    out.extend(format_by_confounder(evaluation))
    if evaluation.unknown_patterns:
        flagged = ", ".join(f"{p} ({n:,})" for p, n in evaluation.unknown_patterns.items())
        out.append(f"flagged patterns the ground truth does not know (not scored): {flagged}")
    check = evaluation.check_targets(
        patterns, recall_target=recall_target, precision_target=precision_target
    )
    targets = f"recall >= {check.recall_target:g} and precision >= {check.precision_target:g}"
    if not check.patterns:
        why = " (the federation flagged no planted pattern correctly)" if patterns is None else ""
        out.append(f"targets ({targets}): NOT MET — no pattern to check{why}")
    elif check.met:
        out.append(
            f"targets ({targets}): MET for all {len(check.patterns)} pattern(s) checked: "
            f"{', '.join(check.patterns)}"
        )
    else:
        out.append(
            f"targets ({targets}): NOT MET for {len(check.failures)} of "
            f"{len(check.patterns)} pattern(s) checked: {'; '.join(check.failures)}"
        )
    return "\n".join(out) + "\n"
