"""Risk rules: strict loading, and scoring that no node's answer can break."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
                                  "preload_status": ["accepted", "hold|x\ny", None],
                                  "hs_match_depth": [6, 0, None]}),
        "broker-1": ("broker", {"known": [True, False, True], "hs_match_depth": [6, 0, 6],
                                "entry_declared_ratio_band": ["0.8-1.2", None, "0.8-1.2"]}),
    }
    first, second, third = assess_batch(rules, answers, 3, [None, None, "split reason"])
    assert (first.score, first.level, first.patterns) == (0, "low", ())
    assert second.patterns == ("misclassification", "unscreened", "manifest_entry_gap")
    assert second.score == 30 + 40 + 40 + 30
    assert "broker-1+carrier-1: HS code differs from the manifest's at chapter level" \
        in second.reasons
    assert "carrier-1: pre-load status hold/x y" in second.reasons  # one line, no "|"
    assert third.patterns == ("split_shipment",)  # unknown at the carrier is no finding
    assert third.level == "medium"


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
