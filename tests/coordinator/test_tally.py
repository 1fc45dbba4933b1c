"""The run's tally, counted per distinct assessment, against counting result by result."""

from __future__ import annotations

import heapq
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.results import ResultBatch
from fedtrade.coordinator.risk import DEFAULT_RISK
from fedtrade.coordinator.screening import TOP_SHIPMENTS, _Tally
from tests.coordinator.test_result_files import result_batches
from tests.coordinator.test_risk import rules_from

RULES = rules_from(DEFAULT_RISK)
_PATTERNS = st.lists(st.sampled_from(["undervaluation", "split_shipment", "unscreened"]),
                     max_size=3, unique=True).map(tuple)


@settings(max_examples=150, deadline=None)
@given(st.lists(result_batches(_PATTERNS), max_size=4))
def test_the_tally_counts_as_the_results_one_by_one(batches: list[ResultBatch]) -> None:
    tally = _Tally(RULES)
    for batch in batches:
        tally.add(batch)
    results = [result for batch in batches for result in batch]
    by_level: Counter[str] = Counter({batch.assessed.distinct[0].level: 0 for batch in batches})
    by_pattern: Counter[str] = Counter()
    confirmed: Counter[str] = Counter()
    for result in results:
        by_level[result.risk_level] += 1
        by_pattern.update(result.patterns)
        confirmed.update(set(result.manifest_only_patterns) & set(result.patterns))
    # as dicts: the level of a score of 0 is listed even at 0, no other count is
    assert (tally.count, dict(tally.by_level), dict(tally.by_pattern), dict(tally.confirmed)) \
        == (len(results), dict(by_level), dict(by_pattern), dict(confirmed))
    top = heapq.nlargest(TOP_SHIPMENTS, ((r.score, -i) for i, r in enumerate(results)))
    assert [item[2] for item in sorted(tally.top, reverse=True)] == \
        [results[-i] for _, i in top]
