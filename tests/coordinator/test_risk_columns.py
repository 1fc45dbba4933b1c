"""The column-wise risk evaluation against a plain per-shipment reference.

The reference below is the rule semantics written out shipment by shipment, node by
node (as the coordinator computed them before rules became masks); on random worlds of
answers, including nulls, flags against numbers and hostile texts, both must give the
same scores, levels, patterns, reasons and points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.risk import (
    ANY_ROLE,
    DEFAULT_RISK,
    ENTRY_GAP_PATTERN,
    SPLIT_PATTERN,
    Assessment,
    RiskRules,
    assess_batch,
    distinct_rows,
    load_risk_rules,
)
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.yamlconfig import load_yaml_text

Answers = Mapping[str, tuple[str, Mapping[str, Sequence[PyValue]]]]


def _printable(value: str) -> str:
    return " ".join(value.split()).replace("|", "/")[:80]


def reference(rules: RiskRules, answers: Answers, size: int,
              splits: Sequence[str | None], gaps: Sequence[str | None]) -> list[Assessment]:
    out = []
    for index in range(size):
        met: list[tuple[int, str | None, str]] = []  # weight, pattern, reason
        for rule in rules.rules:
            by_value: dict[str, list[str]] = {}
            for node_id, (role, columns) in sorted(answers.items()):
                if rule.role not in (role, ANY_ROLE):
                    continue
                column = columns.get(rule.field) or ()
                if index < len(column) and rule.matches(column[index]):
                    by_value.setdefault(str(column[index]), []).append(node_id)
            if by_value:
                nodes = "+".join(dict.fromkeys(n for found in by_value.values() for n in found))
                values = "/".join(_printable(v) for v in by_value)
                met.append((rule.weight, rule.pattern if rule.kind == "violation" else None,
                            f"{nodes}: {rule.reason.format(value=values)}"))
        if splits[index] is not None:
            met.append((rules.split_weight, SPLIT_PATTERN, str(splits[index])))
        if gaps[index] is not None:
            met.append((rules.entry_gap.weight,
                        ENTRY_GAP_PATTERN if rules.entry_gap.kind == "violation" else None,
                        str(gaps[index])))
        score = sum(weight for weight, _, _ in met)
        patterns = dict.fromkeys(pattern for _, pattern, _ in met if pattern is not None)
        out.append(Assessment(score, rules.level(score), tuple(patterns),
                              tuple(f"{reason} (+{weight})" for weight, _, reason in met),
                              tuple(weight for weight, _, _ in met)))
    return out


def _rules() -> RiskRules:
    risk = yaml.safe_load(yaml.safe_dump(DEFAULT_RISK))
    # rules the defaults lack: a threshold, a flag against numbers, a weight of 0
    risk["rules"] += [
        {"pattern": "undervaluation", "kind": "indicator", "role": "marketplace",
         "field": "hs_match_depth", "below": 3, "weight": 7, "reason": "depth {value}"},
        {"pattern": "misclassification", "role": "any", "field": "hs_match_depth",
         "in": [True, 2.0, "4"], "weight": 0, "reason": "odd depth {value}"},
    ]
    text = yaml.safe_dump({"risk": risk}, sort_keys=False)
    return load_risk_rules(load_yaml_text(text, "coordinator.yaml").mapping("risk"))


RULES = _rules()
FIELDS = sorted({rule.field for rule in RULES.rules})
NODES = {"marketplace-1": "marketplace", "carrier-1": "carrier", "carrier-2": "carrier",
         "broker-1": "broker"}
_TEXTS = st.sampled_from(["<0.5", "0.5-0.8", "0", "1", "2-5", "<30d", "hold", "pending",
                          "do_not_load", "0.8-1.2", "x|y\nz", "0\x00", "4", ""])
# one kind per column, as the wire decodes them; a few hand-made columns mix kinds
_KINDS = [st.booleans(), st.sampled_from([0, 2, 4, 6, 1, -1]),
          st.sampled_from([0.0, -0.0, 2.0, 0.5, float("nan"), 4.0]), _TEXTS,
          st.one_of(st.booleans(), st.integers(0, 6), _TEXTS),
          st.sampled_from([0, 2, 2**70])]  # beyond 64 bits: compared value by value


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Answers, int, list[str | None], list[str | None]]:
    size = draw(st.integers(0, 30))
    answers: dict[str, tuple[str, dict[str, list[PyValue]]]] = {}
    for node_id in draw(st.sets(st.sampled_from(sorted(NODES)))):
        columns: dict[str, list[PyValue]] = {}
        for name in draw(st.sets(st.sampled_from(FIELDS))):
            kind = draw(st.sampled_from(_KINDS))
            columns[name] = draw(st.lists(st.one_of(st.none(), kind),
                                          min_size=size, max_size=size))
        answers[node_id] = (NODES[node_id], columns)
    reason = st.one_of(st.none(), st.sampled_from(["split a", "gap b"]))
    splits = draw(st.lists(reason, min_size=size, max_size=size))
    gaps = draw(st.lists(reason, min_size=size, max_size=size))
    return answers, size, splits, gaps


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_masks_give_the_reference_assessment(
    world: tuple[Answers, int, list[str | None], list[str | None]],
) -> None:
    answers, size, splits, gaps = world
    assert assess_batch(RULES, answers, size, splits, gaps) == \
        reference(RULES, answers, size, splits, gaps)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda size: st.lists(
    st.lists(st.one_of(st.integers(-1, 3), st.integers(-(2**63), 2**63 - 1)),
             min_size=size, max_size=size), min_size=1, max_size=12)))
def test_distinct_rows_numbers_rows_in_order_of_first_occurrence(
    columns: list[list[int]],
) -> None:
    """Wide values and many columns too (the key is renumbered before it overflows)."""
    rows = list(zip(*columns, strict=True))
    firsts = {row: i for i, row in reversed(list(enumerate(rows)))}
    order = sorted(firsts.values())
    first, index = distinct_rows([np.array(c, np.int64) for c in columns])
    assert first.tolist() == order
    assert index.tolist() == [order.index(firsts[row]) for row in rows]
