"""Risk rules: strict loading, and scoring that no node's answer can break."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fedtrade.coordinator.risk import DEFAULT_RISK, RiskRules, assess_batch, load_risk_rules
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.yamlconfig import load_yaml_text


def rules_from(risk: dict[str, object]) -> RiskRules:
    text = yaml.safe_dump({"risk": risk}, sort_keys=False)
    return load_risk_rules(load_yaml_text(text, "coordinator.yaml").mapping("risk"))


def test_default_rules_load_and_score_columns() -> None:
    rules = rules_from(DEFAULT_RISK)
    answers: dict[str, tuple[str, dict[str, list[PyValue]]]] = {
        "carrier-1": ("carrier", {"known": [True, True, False], "screened": [True, False, None],
                                  "preload_status": ["accepted", "hold", None],
                                  "hs_match_depth": [6, 0, None]}),
        "marketplace-1": ("marketplace", {"known": [True, True, False],
                                          "linked_suspended_band": ["0", "x|y\nz", None]}),
        "broker-1": ("broker", {"known": [True, False, True], "hs_match_depth": [6, 0, 6],
                                "entry_declared_ratio_band": ["0.8-1.2", None, "0.8-1.2"]}),
    }
    first, second, third = assess_batch(rules, answers, 3, [None, None, "split reason"])
    assert (first.score, first.level, first.patterns) == (0, "low", ())
    assert second.patterns == ("misclassification", "linked_suspended_seller", "unscreened")
    # broker (40) and carrier (20) chapter-level disagreement, linked, unscreened, held
    assert second.score == 40 + 20 + 25 + 40 + 40 == sum(second.points)
    assert "marketplace-1: seller linked to x/y z suspended account(s) (+25)" \
        in second.reasons  # one line, no "|"
    assert "broker-1: entry HTS differs from the manifest's HS at chapter level (+40)" \
        in second.reasons
    assert "carrier-1: pre-load status hold (+40)" in second.reasons
    assert third.patterns == ("split_shipment",)  # unknown at the carrier is no finding
    assert third.level == "medium"


def test_not_known_to_a_node_is_never_a_finding() -> None:
    """Regression: a broker that holds no entry for a house bill once meant "entry gap"."""
    rules = rules_from(DEFAULT_RISK)
    unknown: dict[str, list[PyValue]] = {
        "known": [False], "hs_match_depth": [None], "entry_declared_ratio_band": [None],
        "entity_list_hit": [None], "kyc_verified": [None], "screened": [None],
        "preload_status": [None], "recall_hit": [None], "declared_paid_ratio_band": [None],
        "account_age_band": [None], "linked_suspended_band": [None],
    }
    answers = {f"{role}-1": (role, unknown) for role in ("marketplace", "carrier", "broker")}
    (assessment,) = assess_batch(rules, answers, 1, [None])
    assert (assessment.score, assessment.patterns, assessment.reasons) == (0, (), ())
    risk = yaml.safe_load(yaml.safe_dump(DEFAULT_RISK))
    risk["rules"][0].update({"role": "broker", "field": "known", "in": [False]})
    with pytest.raises(ConfigError, match="absence is not evidence"):
        rules_from(risk)


def test_indicators_add_evidence_but_flag_no_violation() -> None:
    rules = rules_from(DEFAULT_RISK)
    answers: dict[str, tuple[str, dict[str, list[PyValue]]]] = {
        "marketplace-1": ("marketplace", {"known": [True, True],
                                          "kyc_verified": [False, False],
                                          "account_age_band": ["<30d", "<30d"],
                                          "linked_suspended_band": ["0", "2-4"]}),
        "carrier-1": ("carrier", {"known": [True, True], "preload_status": ["pending", "pending"]}),
    }
    honest, linked = assess_batch(rules, answers, 2, [None, None])
    assert honest.patterns == ()  # new, unverified, pending: evidence, no finding
    assert honest.score == 15 + 10 + 5 == sum(honest.points)
    assert linked.patterns == ("linked_suspended_seller",)
    assert linked.score == honest.score + 25


_FIELDS: dict[str, list[PyValue]] = {
           "kyc_verified": [False, True, None], "account_age_band": ["<30d", "<30d", None],
           "linked_suspended_band": ["0", "1", "2-4", None],
           "declared_paid_ratio_band": ["<0.5", "0.8-1.2", None],
           "hs_match_depth": [0, 2, 4, 6, None], "recall_hit": [True, False, None],
           "entity_list_hit": [True, False, None]}
# Loaded once: parsing the rules for every example would time the YAML parser, not scoring.
_DEFAULT_RULES = rules_from(DEFAULT_RISK)
_ANSWER = st.fixed_dictionaries({f: st.sampled_from(v) for f, v in _FIELDS.items()})


@given(_ANSWER, _ANSWER, st.sampled_from(["marketplace", "carrier", "broker"]),
       st.booleans())
def test_score_is_the_sum_of_its_reasons_and_monotone_in_evidence(
    base: dict[str, PyValue], extra: dict[str, PyValue], role: str, split: bool
) -> None:
    """Reasons add up to the score; answering more (another node) never lowers it."""
    rules = _DEFAULT_RULES

    def columns(answer: dict[str, PyValue]) -> dict[str, list[PyValue]]:
        return {"known": [True], **{f: [v] for f, v in answer.items()}}

    one = {"marketplace-1": ("marketplace", columns(base))}
    two = {**one, f"{role}-2": (role, columns(extra))}
    (alone,) = assess_batch(rules, one, 1, ["split" if split else None])
    (more,) = assess_batch(rules, two, 1, ["split" if split else None])
    for assessment in (alone, more):
        assert assessment.score == sum(assessment.points)
        assert len(assessment.points) == len(assessment.reasons)
        assert all(r.endswith(f"(+{p})") for r, p in zip(assessment.reasons,
                                                          assessment.points, strict=True))
    assert more.score >= alone.score
    assert set(more.patterns) >= set(alone.patterns)


@pytest.mark.parametrize(("change", "message"), [
    ({"field": "kyc_verified", "role": "carrier"}, "carrier nodes do not answer"),
    ({"pattern": "Bad Name"}, "a pattern name is lowercase"),
    ({"reason": "a | b"}, "without '|'"),
    ({"in": None, "not_in": ["x"], "below": 3}, "exactly one condition"),
])
def test_bad_rules_are_refused_with_their_line(change: dict[str, object], message: str) -> None:
    risk = yaml.safe_load(yaml.safe_dump(DEFAULT_RISK))
    rule = risk["rules"][0]
    rule.update(change)
    if rule.get("in") is None:
        rule.pop("in", None)
    with pytest.raises(ConfigError, match=message) as caught:
        rules_from(risk)
    assert caught.value.line is not None
    assert Path(str(caught.value.path)).name == "coordinator.yaml"


def test_a_missing_entry_counts_only_where_required_and_overdue() -> None:
    """Regression: "not known to the broker" once read as an entry gap for every shipment."""
    rule = rules_from(DEFAULT_RISK).entry_gap
    assert (rule.required_over_usd, rule.deadline_days, rule.weight) == (800.0, 15, 30)
    today = date(2026, 11, 30)
    declared = [900.0, 900.0, 500.0, 900.0, 900.0]
    arrival = ["2026-11-01", "2026-11-20", "2026-11-01", "2026-11-01", "2026-11-01"]
    # two brokers answered; the fourth shipment's entry is at broker-2, the fifth at broker-1
    known: list[list[PyValue]] = [[False, False, False, False, True],
                                  [False, False, False, True, False]]
    reasons = rule.reasons(known, "broker-1+broker-2", declared, arrival, today)
    assert reasons == [
        "broker-1+broker-2: no entry 29 days after arrival, one is required over 800 USD "
        "within 15 days",
        None,  # arrived 10 days ago: not yet due
        None,  # 500 USD: under de minimis, no entry required
        None, None,  # an entry is held by one broker or the other
    ]
    # no broker answered: nothing is known either way, so nothing is evidence
    assert rule.reasons([], "", declared, arrival, today) == [None] * 5
    # screening as of a day before the deadline: not overdue yet
    early = replace(rule, as_of=date(2026, 11, 10))
    assert early.reasons(known, "b", declared, arrival, today)[0] is None
    # by default the missing entry is an indicator: its points and reason, no flag
    (scored,) = assess_batch(rules_from(DEFAULT_RISK), {}, 1, [None], reasons[:1])
    assert (scored.score, scored.patterns) == (30, ())
    assert scored.reasons == (f"{reasons[0]} (+30)",)
    risk = yaml.safe_load(yaml.safe_dump(DEFAULT_RISK))
    risk["entry_gap"]["kind"] = "violation"
    (scored,) = assess_batch(rules_from(risk), {}, 1, [None], reasons[:1])
    assert (scored.score, scored.patterns) == (30, ("manifest_entry_gap",))
    risk["entry_gap"]["kind"] = "finding"
    with pytest.raises(ConfigError, match=r"kind"):
        rules_from(risk)


def test_entry_gap_as_of_must_be_a_date() -> None:
    risk = yaml.safe_load(yaml.safe_dump(DEFAULT_RISK))
    risk["entry_gap"]["as_of"] = "30 Nov"
    with pytest.raises(ConfigError, match=r"as_of.*not a date"):
        rules_from(risk)
    risk["entry_gap"]["as_of"] = "2026-11-30"
    assert rules_from(risk).entry_gap.as_of == date(2026, 11, 30)
