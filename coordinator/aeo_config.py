"""The coordinator's ``aeo:`` config section: authority, register, tiers, green lane.

Tiers are listed lowest first; each names the least each scorecard measure must
reach for the evidence to support it (``coordinator.scorecard``). The green lane
says which certificate tiers qualify a data chain, the risk score a shipment
must stay below, and the share of facilitated shipments still sampled for
inspection (``coordinator.green_lane``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fedtrade.protocol.aeo import AeoAuthority, Register
from fedtrade.protocol.aeo_config import load_authority, load_register
from fedtrade.trust.ids import ROLES
from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = ["MEASURES", "AeoSettings", "GreenLaneRule", "TierCriteria", "load_aeo_settings"]

# Scorecard measures that are shares (0..1), in the order reports show them.
MEASURES = ("availability", "coverage", "timeliness", "consistency")


@dataclass(frozen=True)
class TierCriteria:
    name: str
    # measure -> least share the evidence must show (absent: not required)
    minimum: dict[str, float]
    # true: every stored answer and audit checkpoint of the node must verify, without gaps
    integrity: bool
    # least answered questions in the period for the figures to count
    min_questions: int


@dataclass(frozen=True)
class GreenLaneRule:
    tiers: frozenset[str]
    score_below: int
    compliance_sample_rate: float
    # roles of which some node of the chain must know the shipment (a node that does not
    # know it says nothing: a missing entry hides exactly there)
    require_roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AeoSettings:
    authority: AeoAuthority
    register: Register
    tiers: tuple[TierCriteria, ...]  # lowest first
    green_lane: GreenLaneRule | None

    def tier_rank(self, name: str) -> int:
        """Position of tier ``name`` (0: lowest); -1 for a tier not configured."""
        return next((i for i, t in enumerate(self.tiers) if t.name == name), -1)


def _tier(entry: ConfigMapping) -> TierCriteria:
    name = entry.text("name")
    minimum = {m: v for m in MEASURES
               if (v := entry.number(m, None, min=0.0, max=1.0)) is not None}
    tier = TierCriteria(name, minimum, entry.flag("integrity", True),
                        entry.integer("min_questions", 1, min=1))
    entry.finish()
    return tier


def _roles(section: ConfigMapping) -> list[str]:
    roles = section.text_list("require_roles", [])
    for role in roles:
        if role not in ROLES:
            raise section.error(f"{role!r} is not a role ({', '.join(ROLES)})", "require_roles")
    return roles


def _green_lane(section: ConfigMapping | None, tiers: tuple[TierCriteria, ...]
                ) -> GreenLaneRule | None:
    if section is None:
        return None
    names = section.text_list("tiers")
    known = {t.name for t in tiers}
    for name in names:
        if name not in known:
            raise section.error(f"tier {name!r} is not in aeo.tiers ({', '.join(sorted(known))})",
                                "tiers")
    if not names:
        raise section.error("name at least one tier whose certificates qualify", "tiers")
    rule = GreenLaneRule(
        tiers=frozenset(names),
        score_below=section.integer("score_below", min=1),
        compliance_sample_rate=section.number("compliance_sample_rate", min=0.0, max=1.0),
        require_roles=frozenset(_roles(section)),
    )
    section.finish()
    return rule


def load_aeo_settings(section: ConfigMapping | None) -> AeoSettings | None:
    if section is None:
        return None
    authority = load_authority(section.mapping("authority"))
    register = load_register(section, "register", authority)
    tiers = tuple(_tier(entry) for entry in section.mapping_list("tiers"))
    if len({t.name for t in tiers}) != len(tiers):
        raise section.error("tier names must be distinct", "tiers")
    green_lane = _green_lane(section.optional_mapping("green_lane"), tiers)
    section.finish()
    return AeoSettings(authority, register, tiers, green_lane)
