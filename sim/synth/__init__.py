"""Synthetic federation: one consistent world seen by marketplace, carrier, broker and CBP.

``generate`` writes the layout of the README ("Synthetic federation")
with planted risk patterns and their ground truth, reproducibly from a seed.
"""

from fedtrade.sim.synth.patterns import PATTERNS, RiskRates, parse_rate_overrides
from fedtrade.sim.synth.writer import SynthSummary, generate

__all__ = ["PATTERNS", "RiskRates", "SynthSummary", "generate", "parse_rate_overrides"]
