"""Risk rules: turn the nodes' per-shipment answers into weighted evidence and a score.

Rules live in the coordinator's YAML (``risk:``), validated strictly against
the query catalogue: each names a role (or ``any``), an indicator field that
role computes, a condition, a weight, the violation it is evidence for
(``pattern``) and its kind. A ``violation`` rule flags its pattern; an
``indicator`` rule (a new seller, a pending pre-load status) only adds its
weight and reason, as it is evidence, not a finding. A shipment's score is the
sum of the weights of the rules it meets (each rule once), so the points of its
reasons add up to its score; the level follows from the score. Every reason
names the nodes that supplied it. An answer a node does not have (unknown, not
held) never meets a rule: absence is not evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from fedtrade.coordinator.masks import TypedColumn
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.limits import CONSIGNEE_WINDOW_MAX_DAYS
from fedtrade.protocol.matching import normalize_address
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.ids import ROLES
from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = [
    "DEFAULT_RISK",
    "INDICATOR_QUERY",
    "KINDS",
    "PATTERN_NAMES",
    "SPLIT_PATTERN",
    "Assessed",
    "Assessment",
    "RiskRules",
    "Rule",
    "assess_batch",
    "assess_columns",
    "distinct_rows",
    "load_risk_rules",
    "worklist",
    "worklist_positions",
]

INDICATOR_QUERY = "shipment_indicators"
SPLIT_PATTERN = "split_shipment"
ENTRY_GAP_PATTERN = "manifest_entry_gap"
ANY_ROLE = "any"
_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_INDICATORS = CATALOGUE[INDICATOR_QUERY]
# Fields every per-shipment answer carries, besides the granted indicators.
_ALWAYS = ("known",)
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
_T = TypeVar("_T", bound=np.generic)


def _printable(value: str) -> str:
    """A value a node sent, made safe for one line of results.csv ("|" separates reasons)."""
    return " ".join(value.split()).replace("|", "/")[:80]


def _same(a: PyValue, b: PyValue) -> bool:
    """Equal and of the same kind: false is not 0, and 1 is not true."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


KINDS = ("violation", "indicator")
# Readable names of the patterns, for reports (the code names stay in results.csv).
PATTERN_NAMES: Mapping[str, str] = {
    "undervaluation": "Undervaluation (declared below the price paid)",
    "split_shipment": "Split shipment (one consignee over the de minimis threshold)",
    "misclassification": "Misclassification (HS code of the goods differs)",
    "linked_suspended_seller": "Seller linked to suspended accounts",
    "unverified_seller": "Unverified seller identity",
    "new_seller": "New seller account",
    "recalled_product": "Recalled or unsafe product",
    "entity_list_manufacturer": "Forced-labour or denied party",
    "unscreened": "Security: not screened or held",
    "manifest_entry_gap": "Entry value differs from the manifest",
}


def _rule_dict(pattern: str, role: str, field: str, condition: str, values: object,
               weight: int, reason: str, kind: str = "violation") -> dict[str, object]:
    return {"pattern": pattern, "kind": kind, "role": role, "field": field,
            condition: values, "weight": weight, "reason": reason}


# The default rules (configs/coordinator.yaml carries them with comments; a test keeps
# the two equal). Pattern names match the synthetic generator's ground truth.
DEFAULT_RISK: dict[str, object] = {
    "levels": {"high": 50, "medium": 20},
    "split": {"threshold_usd": 800, "window_days": 3, "weight": 40,
              "forwarding_addresses": []},
    "entry_gap": {"required_over_usd": 800, "deadline_days": 15, "weight": 30,
                  "kind": "indicator"},
    "rules": [
        _rule_dict("undervaluation", "marketplace", "declared_paid_ratio_band", "in", ["<0.5"],
                   50, "declared value under half the goods paid in this parcel ({value})"),
        # classification evidence by source reliability: broker entry > carrier > marketplace
        _rule_dict("misclassification", "broker", "hs_match_depth", "in", [0], 40,
                   "entry HTS differs from the manifest's HS at chapter level"),
        _rule_dict("misclassification", "broker", "hs_match_depth", "in", [2], 30,
                   "entry HTS differs from the manifest's HS at heading (HS4) level"),
        _rule_dict("misclassification", "broker", "hs_match_depth", "in", [4], 10,
                   "entry HTS differs from the manifest's HS at subheading (HS6) level",
                   "indicator"),
        _rule_dict("misclassification", "carrier", "hs_match_depth", "in", [0], 20,
                   "carrier item HS differs from the manifest's at chapter level"),
        _rule_dict("misclassification", "marketplace", "hs_match_depth", "in", [0], 10,
                   "marketplace HS hint differs from the manifest's at chapter level",
                   "indicator"),
        _rule_dict("unverified_seller", "marketplace", "kyc_verified", "in", [False], 15,
                   "seller identity not verified", "indicator"),
        _rule_dict("new_seller", "marketplace", "account_age_band", "in", ["<30d"], 10,
                   "seller account younger than 30 days", "indicator"),
        _rule_dict("linked_suspended_seller", "marketplace", "linked_suspended_band", "not_in",
                   ["0"], 25, "seller linked to {value} suspended account(s)"),
        _rule_dict("recalled_product", "marketplace", "recall_hit", "in", [True], 60,
                   "product in this parcel is on a recall list"),
        _rule_dict("entity_list_manufacturer", "any", "entity_list_hit", "in", [True], 80,
                   "party on the forced-labour / denied-party list"),
        _rule_dict("unscreened", "carrier", "screened", "in", [False], 40,
                   "not security screened"),
        _rule_dict("unscreened", "carrier", "preload_status", "in", ["hold", "do_not_load"], 40,
                   "pre-load status {value}"),
        _rule_dict("unscreened", "carrier", "preload_status", "in", ["pending"], 5,
                   "pre-load status pending", "indicator"),
        _rule_dict("manifest_entry_gap", "broker", "entry_declared_ratio_band", "not_in",
                   ["0.8-1.2"], 30, "entry value / declared value band {value}"),
    ],
}


@dataclass(frozen=True)
class Rule:
    pattern: str
    kind: str  # "violation" flags the pattern; "indicator" only adds evidence
    role: str  # a role, or "any"
    field: str
    equals_any: tuple[PyValue, ...] | None
    equals_none_of: tuple[PyValue, ...] | None
    below: float | None
    weight: int
    reason: str

    def matches(self, value: PyValue) -> bool:
        if value is None:  # not known, or not answered: never a finding
            return False
        if self.equals_any is not None:
            return any(_same(value, v) for v in self.equals_any)
        if self.equals_none_of is not None:
            return not any(_same(value, v) for v in self.equals_none_of)
        assert self.below is not None
        return isinstance(value, int | float) and not isinstance(value, bool) \
            and value < self.below


@dataclass(frozen=True)
class EntryGapRule:
    """A missing entry is evidence only where one is required (declared value over
    ``required_over_usd``) and overdue (``deadline_days`` after arrival, as of ``as_of``),
    and no broker that answered holds it. 0 USD with weight 0 turns it off."""

    required_over_usd: float = 800.0
    deadline_days: int = 15
    weight: int = 0
    as_of: date | None = None  # None: the day of screening
    # "violation" flags manifest_entry_gap; "indicator" only adds the points (an entry
    # filed late, or by a broker outside the federation, looks the same to every node)
    kind: str = "violation"

    def gaps(
        self, broker_known: Sequence[Sequence[PyValue]], brokers: str,
        declared_usd: Floats, arrival_day: Ints, today: date,
    ) -> dict[int, str]:
        """Position -> reason of the shipments with an entry gap; ``broker_known`` holds
        each answering broker node's ``known`` column (none answered: no evidence at all),
        ``arrival_day`` the arrival days as date ordinals."""
        if not broker_known or self.weight == 0:
            return {}
        held = np.zeros(len(declared_usd), bool)
        for known in broker_known:
            held |= np.fromiter(map(bool, known), bool, len(known))
        days = (self.as_of or today).toordinal() - np.asarray(arrival_day, np.int64)
        gap = (np.asarray(declared_usd) > self.required_over_usd) \
            & (days > self.deadline_days) & ~held
        return {
            int(i): f"{brokers}: no entry {int(days[i])} days after arrival, one is required "
                    f"over {self.required_over_usd:g} USD within {self.deadline_days} days"
            for i in np.flatnonzero(gap)
        }

    def reasons(
        self, broker_known: Sequence[Sequence[PyValue]], brokers: str,
        declared_usd: Sequence[float], arrival: Sequence[str], today: date,
    ) -> list[str | None]:
        """``gaps`` per shipment (the reason or None), with arrival days as ISO dates."""
        days = np.array([date.fromisoformat(d).toordinal() for d in arrival], np.int64)
        found = self.gaps(broker_known, brokers, np.asarray(declared_usd, np.float64), days,
                          today)
        return [found.get(i) for i in range(len(arrival))]


@dataclass(frozen=True)
class RiskRules:
    rules: tuple[Rule, ...]
    high: int
    medium: int
    split_threshold_usd: float  # 0 disables split-shipment detection
    split_weight: int
    split_window_days: int = 1
    # normalised addresses of known forwarders: many buyers' parcels under one consignee
    forwarding_addresses: frozenset[str] = frozenset()
    entry_gap: EntryGapRule = EntryGapRule()

    def level(self, score: int) -> str:
        return "high" if score >= self.high else "medium" if score >= self.medium else "low"

    def manifest_only_score(self, patterns: Iterable[str]) -> int:
        """The manifest-only baseline scored by the same weights: per pattern it flags, the
        largest weight of a violation rule for that pattern (the split weight for splits)."""
        weights: dict[str, int] = {SPLIT_PATTERN: self.split_weight}
        for rule in self.rules:
            if rule.kind == "violation":
                weights[rule.pattern] = max(weights.get(rule.pattern, 0), rule.weight)
        return sum(weights.get(p, 0) for p in set(patterns))

    def fields_for(self, role: str) -> set[str]:
        """The indicator fields the rules read from a node of ``role``."""
        return {r.field for r in self.rules if r.role in (role, ANY_ROLE)} - set(_ALWAYS)


@dataclass(frozen=True)
class Assessment:
    score: int
    level: str
    patterns: tuple[str, ...]  # the violations flagged
    reasons: tuple[str, ...]  # each ends with its points, "(+40)"; they add up to score
    points: tuple[int, ...] = ()


@dataclass(frozen=True)
class Assessed:
    """A batch's assessment, column by column: shipments that met the same rules with the
    same values share one Assessment. ``distinct[0]`` is that of a shipment that met no
    rule (score 0, no reasons); ``code`` holds each shipment's index in ``distinct``."""

    distinct: tuple[Assessment, ...]
    code: Ints

    @property
    def scores(self) -> Ints:
        return np.array([a.score for a in self.distinct], np.int64)[self.code]

    def at(self, index: int) -> Assessment:
        return self.distinct[int(self.code[index])]


def _rule_reason(rule: Rule, nodes: Sequence[str], texts: Sequence[str | None]) -> str:
    """The reason ``rule`` gives where each node's value (as text, None: not met) is
    ``texts``: the nodes that met it, grouped by value."""
    by_value: dict[str, list[str]] = {}
    for node_id, text in zip(nodes, texts, strict=True):
        if text is not None:
            by_value.setdefault(text, []).append(node_id)
    sources = "+".join(dict.fromkeys(n for found in by_value.values() for n in found))
    values = "/".join(_printable(value) for value in by_value)
    return f"{sources}: {rule.reason.format(value=values)}"


def _fit(values: npt.NDArray[_T], size: int) -> npt.NDArray[_T]:
    """``values`` cut, or padded with zeros (not met), to ``size``."""
    return values[:size] if len(values) >= size else np.pad(values, (0, size - len(values)))


def distinct_rows(columns: Sequence[Ints]) -> tuple[Ints, Ints]:
    """Rows made of ``columns`` (one value per row in each): the position of each distinct
    row's first occurrence, in order, and per row the index of its distinct row in that
    order."""
    key = np.zeros(len(columns[0]), np.int64)
    for column in columns:  # the rows so far as one number each: (key, value) -> key
        low, high = (int(column.min()), int(column.max())) if len(column) else (0, 0)
        values, width = (column - low, high - low + 1) if high - low < 2**16 else \
            _dense(column)
        key = key * width + values
        if int(key.max(initial=0)) >= 2**31:
            key, _ = _dense(key)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse]


def _dense(values: Ints) -> tuple[Ints, int]:
    """``values`` numbered 0, 1, ... in order of value, and how many distinct there are."""
    distinct, dense = np.unique(values, return_inverse=True)
    return dense.astype(np.int64), len(distinct)


def _rule_reasons(rule: Rule, hits: Ints, nodes: Sequence[str], read: Sequence[TypedColumn],
                  masks: Sequence[Flags]) -> tuple[Ints, list[str]]:
    """Per hit of ``rule``, which of its reasons it gives, and those reasons: one per
    combination of the nodes that met it and their values there, each written once."""
    keys: list[Ints] = []
    for column, mask in zip(read, masks, strict=True):
        met = mask[hits]
        value = np.zeros(len(hits), np.int64)
        value[met] = column.codes(hits[met])  # met only within the column
        keys += [met.astype(np.int64), value]
    first, combination = distinct_rows(keys)
    reasons: dict[str, int] = {}
    given = [reasons.setdefault(_rule_reason(rule, nodes, [
        str(column.column[position]) if mask[position] else None
        for column, mask in zip(read, masks, strict=True)]), len(reasons))
        for position in hits[first].tolist()]
    return np.array(given, np.int64)[combination], list(reasons)


def _given(reasons: Mapping[int, str], size: int) -> tuple[Ints, list[str]]:
    """Per shipment, which of ``reasons`` (position -> reason) it has (-1: none), and the
    distinct reasons."""
    index: dict[str, int] = {}
    code = np.full(size, -1, np.int64)
    for position, reason in reasons.items():
        code[position] = index.setdefault(reason, len(index))
    return code, list(index)


def assess_columns(
    rules: RiskRules,
    answers: Mapping[str, tuple[str, Mapping[str, Sequence[PyValue]]]],
    size: int,
    split_reasons: Mapping[int, str],
    entry_gaps: Mapping[int, str],
    prepared: Mapping[tuple[str, str], TypedColumn] | None = None,
) -> Assessed:
    """Score a batch column by column.

    ``answers`` maps node id -> (role, indicator columns), each column holding one
    value per shipment of the batch, in batch order; ``split_reasons`` and
    ``entry_gaps`` map positions to their reasons; ``prepared`` holds columns already
    prepared, by (node id, field) (``masks.from_wire``). Each rule is one mask per node;
    reasons are written once per combination of values that meets it, and each
    combination of reasons met is one Assessment.
    """
    # per rule met (and the split and entry-gap reasons): its weight, the pattern it flags,
    # its reasons, and per shipment the index of the reason it gives (-1: not met)
    met: list[tuple[int, str | None, list[str], Ints]] = []
    nodes = sorted(answers.items())
    typed = dict(prepared or {})  # each column read once for all rules
    for rule in rules.rules:
        node_ids, read, masks = [], [], []
        for node_id, (role, node_columns) in nodes:
            column = node_columns.get(rule.field) if rule.role in (role, ANY_ROLE) else None
            if column:
                typed_column = typed.get((node_id, rule.field))
                if typed_column is None:
                    typed_column = typed[node_id, rule.field] = TypedColumn(column)
                node_ids.append(node_id)
                read.append(typed_column)
                masks.append(_fit(typed_column.mask(rule.equals_any, rule.equals_none_of,
                                                    rule.below, rule.matches), size))
        hits = np.flatnonzero(np.logical_or.reduce(masks)) if masks else np.zeros(0, np.int64)
        if len(hits):
            given, reasons = _rule_reasons(rule, hits, node_ids, read, masks)
            code = np.full(size, -1, np.int64)
            code[hits] = given
            met.append((rule.weight, rule.pattern if rule.kind == "violation" else None,
                        reasons, code))
    for extra, weight, pattern in ((split_reasons, rules.split_weight, SPLIT_PATTERN),
                                   (entry_gaps, rules.entry_gap.weight,
                                    ENTRY_GAP_PATTERN if rules.entry_gap.kind == "violation"
                                    else None)):
        if extra:
            code, reasons = _given(extra, size)
            met.append((weight, pattern, reasons, code))
    quiet = Assessment(0, rules.level(0), (), (), ())
    if not met:
        return Assessed((quiet,), np.zeros(size, np.int64))
    scored = np.flatnonzero(np.logical_or.reduce([code >= 0 for *_, code in met]))
    codes = [code[scored] for *_, code in met]
    first, combination = distinct_rows(codes)
    distinct = [quiet]
    for row in np.stack(codes, axis=1)[first].tolist():
        found = [(weight, pattern, f"{reasons[i]} (+{weight})")
                 for (weight, pattern, reasons, _), i in zip(met, row, strict=True) if i >= 0]
        score = sum(weight for weight, _, _ in found)
        distinct.append(Assessment(
            score, rules.level(score),
            tuple(dict.fromkeys(pattern for _, pattern, _ in found if pattern is not None)),
            tuple(reason for _, _, reason in found), tuple(weight for weight, _, _ in found)))
    code = np.zeros(size, np.int64)
    code[scored] = combination + 1
    return Assessed(tuple(distinct), code)


def assess_batch(
    rules: RiskRules,
    answers: Mapping[str, tuple[str, Mapping[str, Sequence[PyValue]]]],
    size: int,
    split_reasons: Sequence[str | None],
    entry_gaps: Sequence[str | None] = (),
) -> list[Assessment]:
    """``assess_columns`` as one Assessment per shipment, with the split and entry-gap
    reasons given per shipment (None: none)."""
    assessed = assess_columns(
        rules, answers, size,
        {i: r for i, r in enumerate(split_reasons) if r is not None},
        {i: r for i, r in enumerate(entry_gaps) if r is not None})
    return [assessed.at(i) for i in range(size)]


def worklist(scores: Sequence[int] | Ints | npt.NDArray[np.int32]) -> list[int]:
    """Positions of the shipments scored above zero, highest first (ties in manifest order):
    the order an officer opens them in. Unscored shipments are never on it."""
    return worklist_positions(scores).tolist()  # type: ignore[no-any-return]


def worklist_positions(scores: Sequence[int] | Ints | npt.NDArray[np.int32]) -> Ints:
    """``worklist`` as an array (no Python int per shipment)."""
    values = np.asarray(scores)
    scored = np.flatnonzero(values > 0)
    return scored[np.argsort(-values[scored], kind="stable")]


def _rule(entry: ConfigMapping) -> Rule:
    role = entry.choice("role", (*ROLES, ANY_ROLE))
    field = entry.text("field")
    if field in _ALWAYS:
        raise entry.error(
            f"{field!r} only says whether a node holds the shipment; absence is not evidence, "
            "so no rule may read it",
            "field",
        )
    roles = ROLES if role == ANY_ROLE else (role,)
    available = {f for r in roles for f in _INDICATORS.fields_for(r)}
    if field not in available:
        raise entry.error(
            f"{role} nodes do not answer the indicator {field!r}; they answer: "
            f"{', '.join(sorted(available))}",
            "field",
        )
    conditions = [key for key in ("in", "not_in", "below") if entry.has(key)]
    if len(conditions) != 1:
        raise entry.error("give exactly one condition: in, not_in or below")
    pattern = entry.text("pattern")
    if not _PATTERN.match(pattern):
        raise entry.error("a pattern name is lowercase letters, digits and '_'", "pattern")
    reason = entry.text("reason")
    if "|" in reason or "\n" in reason:
        raise entry.error("a reason is one line without '|' (it separates reasons in "
                          "results.csv)", "reason")
    if "{value" in reason and reason.count("{") != 1:
        raise entry.error("reason may use {value} once and no other braces", "reason")
    rule = Rule(
        pattern=pattern,
        kind=str(entry.choice("kind", KINDS, "violation")),
        role=role,
        field=field,
        equals_any=entry.scalar_list("in") if conditions == ["in"] else None,
        equals_none_of=entry.scalar_list("not_in") if conditions == ["not_in"] else None,
        below=entry.number("below") if conditions == ["below"] else None,
        weight=entry.integer("weight", min=0, max=1000),
        reason=reason,
    )
    entry.finish()
    return rule


def load_risk_rules(section: ConfigMapping) -> RiskRules:
    levels = section.mapping("levels")
    high, medium = levels.integer("high", min=1), levels.integer("medium", min=1)
    if medium > high:
        raise levels.error("medium must not be above high", "medium")
    levels.finish()
    split = section.mapping("split")
    threshold = split.number("threshold_usd", min=0.0)
    split_weight = split.integer("weight", min=0, max=1000)
    window = split.integer("window_days", 1, min=1, max=CONSIGNEE_WINDOW_MAX_DAYS)
    forwarding = frozenset(
        normalize_address(a) for a in split.text_list("forwarding_addresses", []))
    split.finish()
    gap = section.mapping("entry_gap")
    as_of = gap.text("as_of", None)
    try:
        as_of_day = None if as_of is None else date.fromisoformat(as_of)
    except ValueError:
        raise gap.error(f"{as_of!r} is not a date 'YYYY-MM-DD' (quoted)", "as_of") from None
    entry_gap = EntryGapRule(
        gap.number("required_over_usd", min=0.0), gap.integer("deadline_days", min=0, max=365),
        gap.integer("weight", min=0, max=1000), as_of_day,
        str(gap.choice("kind", KINDS, "violation")))
    gap.finish()
    rules: Sequence[Rule] = [_rule(entry) for entry in section.mapping_list("rules")]
    section.finish()
    return RiskRules(tuple(rules), high, medium, threshold, split_weight, window, forwarding,
                     entry_gap)
