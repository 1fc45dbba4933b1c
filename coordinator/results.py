"""What a screening run produces: one result per shipment, and the run's summary."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import numpy as np
import numpy.typing as npt

from fedtrade.coordinator.green_lane import GreenLaneSummary
from fedtrade.coordinator.risk import Assessed

__all__ = [
    "RESULT_COLUMNS",
    "RISK_LEVELS",
    "BudgetPoint",
    "NodeStats",
    "ResultBatch",
    "ScreeningSummary",
    "ShipmentResult",
    "manifest_only_patterns",
]

RISK_LEVELS = ("high", "medium", "low")
# Columns of results.csv, in order. List-valued columns are joined with ";" (patterns,
# node ids) or " | " (reasons, failures) in CSV and are arrays in JSON Lines.
RESULT_COLUMNS = (
    "house_bill",
    "risk_level",
    "score",
    "patterns",
    "reasons",
    "manifest_only_patterns",
    "answered_by",
    "no_answer",
)


@dataclass(frozen=True)
class ShipmentResult:
    house_bill: str
    risk_level: str
    score: int
    # ground-truth style pattern names the federation's answers flag (e.g. "undervaluation")
    patterns: tuple[str, ...]
    # readable reasons naming the nodes that supplied them
    reasons: tuple[str, ...]
    # patterns the manifest alone would flag (the baseline without the federation)
    manifest_only_patterns: tuple[str, ...]
    answered_by: tuple[str, ...]
    # "node-id: reason" for every node that gave no answer for this shipment
    no_answer: tuple[str, ...]


UNDERVALUATION, SPLIT = "undervaluation", "split_shipment"
_MANIFEST_ONLY = {(False, False): (), (True, False): (UNDERVALUATION,),
                  (False, True): (SPLIT,), (True, True): (UNDERVALUATION, SPLIT)}


def manifest_only_patterns(low_value: bool, split: bool) -> tuple[str, ...]:
    """The baseline's patterns from its two flags: a declared value low for its HS6, and a
    consignee over the split threshold in the manifest alone."""
    return _MANIFEST_ONLY[low_value, split]


@dataclass(frozen=True)
class ResultBatch:
    """Consecutive results, column by column: shipments whose answers met the same rules
    with the same values share one Assessment (most met none), so a result is a house
    bill, two manifest-only flags and the index of its assessment."""

    house_bill: Sequence[str]
    low_value: npt.NDArray[np.bool_]  # manifest-only undervaluation
    manifest_split: npt.NDArray[np.bool_]  # manifest-only split shipment
    answered_by: tuple[str, ...]
    no_answer: tuple[str, ...]
    assessed: Assessed

    def __len__(self) -> int:
        return len(self.house_bill)

    @cached_property
    def score(self) -> npt.NDArray[np.int64]:
        return self.assessed.scores

    @cached_property
    def manifest_only_code(self) -> npt.NDArray[np.int64]:
        """Per shipment, 0 to 3: which of the four manifest-only outcomes it has."""
        return self.low_value.astype(np.int64) + 2 * self.manifest_split

    def manifest_only(self, index: int) -> tuple[str, ...]:
        return manifest_only_patterns(bool(self.low_value[index]),
                                      bool(self.manifest_split[index]))

    def result(self, index: int) -> ShipmentResult:
        found = self.assessed.at(index)
        return ShipmentResult(self.house_bill[index], found.level, found.score, found.patterns,
                              found.reasons, self.manifest_only(index), self.answered_by,
                              self.no_answer)

    def __iter__(self) -> Iterator[ShipmentResult]:
        return (self.result(i) for i in range(len(self)))


@dataclass(frozen=True)
class NodeStats:
    node_id: str
    role: str
    batches_answered: int
    batches_failed: int
    # failure reason -> number of batches
    failures: Mapping[str, int]
    # seconds from sending a batch to its last verified chunk, per answered batch
    answer_seconds: Sequence[float]


@dataclass(frozen=True)
class BudgetPoint:
    """What opening the top ``share`` of each worklist catches, without a ground truth:
    shipments opened that the nodes' answers flag with a violation."""

    share: float
    slots: int
    federation: int
    manifest_only: int


@dataclass(frozen=True)
class ScreeningSummary:
    manifest: str
    purpose: str
    case_id: str
    started_at: datetime
    finished_at: datetime
    shipments: int
    by_level: Mapping[str, int]
    # pattern -> shipments flagged with it
    by_pattern: Mapping[str, int]
    # the highest-scoring shipments, highest first
    top: Sequence[ShipmentResult]
    nodes: Sequence[NodeStats]
    manifest_only_by_pattern: Mapping[str, int] = field(default_factory=dict)
    # pattern -> manifest-only flags of it that the nodes' answers also flag
    manifest_only_confirmed: Mapping[str, int] = field(default_factory=dict)
    budget_curve: Sequence[BudgetPoint] = ()
    # the coordinator's own seconds per phase (reading, waiting for nodes, assessing, ...)
    phase_seconds: Mapping[str, float] = field(default_factory=dict)
    # the AEO green lane's dispositions, when the config sets one (coordinator.green_lane)
    green_lane: GreenLaneSummary | None = None
