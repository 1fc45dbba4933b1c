"""The AEO green lane: certified, low-risk data chains are facilitated, with a random sample.

``decide`` is the whole rule, as a pure function: a shipment is ``facilitated``
instead of going to ``review`` when every node of its data chain (each node that
answered for it, and the filer of its manifest line) holds a certificate that
counts at a qualifying tier, the chain holds a node of every required role,
every configured node answered its batch, and its risk score is below the
configured threshold. A compliance sample of the
facilitated shipments still goes to inspection (``compliance_sample``).

The sample is drawn per house bill from an HMAC-SHA-256 keyed with a seed of 32
random bytes per screening run: nobody can predict which shipments it takes
before the run (the seed does not exist yet), and anyone holding the seed, which
is recorded in the coordinator's evidence, can recompute exactly which it took.
"""

from __future__ import annotations

import csv
import hmac
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from fedtrade.coordinator.aeo_config import GreenLaneRule

if TYPE_CHECKING:  # results imports this module for GreenLaneSummary
    from fedtrade.coordinator.results import ResultBatch

__all__ = [
    "COMPLIANCE_SAMPLE",
    "DISPOSITIONS",
    "FACILITATED",
    "REVIEW",
    "GreenLane",
    "GreenLaneSummary",
    "decide",
    "in_compliance_sample",
]

REVIEW = "review"
FACILITATED = "facilitated"
COMPLIANCE_SAMPLE = "compliance_sample"
DISPOSITIONS = (REVIEW, FACILITATED, COMPLIANCE_SAMPLE)
_DRAW_RANGE = 1 << 64


def in_compliance_sample(seed: bytes, house_bill: str, rate: float) -> bool:
    """Whether ``house_bill`` falls in the compliance sample of ``rate`` drawn with ``seed``."""
    draw = hmac.digest(seed, house_bill.encode("utf-8"), "sha256")[:8]  # one-shot, in C
    return int.from_bytes(draw, "big") < round(rate * _DRAW_RANGE)


def decide(
    score: int,
    chain_tiers: Iterable[str | None],
    *,
    complete: bool,
    rule: GreenLaneRule,
    sampled: bool,
    roles: Collection[str] = (),
) -> str:
    """The disposition of one shipment.

    ``chain_tiers`` holds, per node of the shipment's data chain, the tier of the
    certificate that counts for it (None: no certificate counts); ``roles`` are the
    roles of those nodes. ``complete`` is false when some configured node did not
    answer for the shipment: unknown data is never facilitated. ``sampled``: the
    shipment is in the compliance sample.
    """
    tiers = list(chain_tiers)
    if not complete or not tiers or score >= rule.score_below:
        return REVIEW
    if not rule.require_roles <= set(roles):
        return REVIEW
    if any(tier is None or tier not in rule.tiers for tier in tiers):
        return REVIEW
    return COMPLIANCE_SAMPLE if sampled else FACILITATED


@dataclass(frozen=True)
class GreenLaneSummary:
    """What the green lane did in one run, for the report."""

    seed_hex: str
    rule: GreenLaneRule
    # node id -> tier of the certificate that counted, or why none did
    certification: Mapping[str, str]
    shipments: int
    by_disposition: Mapping[str, int]
    # compliance-sampled shipments the nodes' answers flag with a violation
    sample_hits: int


@dataclass
class GreenLane:
    """One screening run's green lane: decides per shipment and counts.

    ``tiers`` maps every configured node id to the tier of its certificate that
    counts (None if none does); ``filer_of`` names the filer of a house bill;
    ``out`` (optional) receives one CSV row per shipment not left in review.
    """

    rule: GreenLaneRule
    seed: bytes
    tiers: Mapping[str, str | None]
    roles: Mapping[str, str]  # node id -> role
    certification: Mapping[str, str]
    filer_of: Callable[[str], str]
    out: IO[str] | None = None
    counts: Counter[str] = field(default_factory=Counter)
    sample_hits: int = 0

    def __post_init__(self) -> None:
        self._writer = csv.writer(self.out) if self.out is not None else None
        if self._writer is not None:
            self._writer.writerow(["house_bill", "disposition", "score", "chain"])

    def observe_batch(
        self, results: ResultBatch, known: Mapping[str, Sequence[object]], complete: bool,
    ) -> None:
        """Decide for a batch; ``known[node]`` is that node's known column for the batch."""
        rule = self.rule
        for index, bill in enumerate(results.house_bill):
            score = int(results.score[index])
            if not complete or score >= rule.score_below:
                self.counts[REVIEW] += 1  # what decide() says, without building the chain
                continue
            chain = {node for node, column in known.items() if column[index] is True}
            chain.add(self.filer_of(bill))
            disposition = decide(score, [self.tiers.get(n) for n in chain],
                                 complete=complete, rule=rule, sampled=False,
                                 roles={self.roles.get(n, "") for n in chain})
            if disposition == FACILITATED and in_compliance_sample(
                    self.seed, bill, rule.compliance_sample_rate):
                disposition = COMPLIANCE_SAMPLE  # the sample only draws from facilitated
            self.counts[disposition] += 1
            if disposition == COMPLIANCE_SAMPLE and results.result(index).patterns:
                self.sample_hits += 1
            if self._writer is not None and disposition != REVIEW:
                self._writer.writerow([bill, disposition, score, ";".join(sorted(chain))])

    def summary(self) -> GreenLaneSummary:
        return GreenLaneSummary(
            seed_hex=self.seed.hex(), rule=self.rule, certification=dict(self.certification),
            shipments=sum(self.counts.values()),
            by_disposition={d: self.counts.get(d, 0) for d in DISPOSITIONS},
            sample_hits=self.sample_hits)
