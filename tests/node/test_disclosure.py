"""Differential privacy of aggregate tables: bounding, and the attacks it must defeat.

OpenDP's samplers draw from the operating system's entropy and offer no seed, so
these tests use real noise and assert only what holds except with a negligible
probability (each bound below is more than five standard deviations from the
expected figure); they are deterministic in that sense, not bit for bit.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from fedtrade.node.disclosure import Contribution, bound, release
from fedtrade.node.queries.settings import PrivacySettings

PRIVACY = PrivacySettings(unit="shipment", shipments_per_unit=1, cells_per_shipment=1,
                          value_cents_per_shipment=200_000, epsilon_per_query=0.5,
                          budget_epsilon=5.0, period_days=30, delta=1e-7)
RUNS = 300


def day(name: str, shipments: int, cents: int = 10_000, start: int = 0) -> list[Contribution]:
    return [Contribution(f"S{start + i}", f"S{start + i}", (name,), cents)
            for i in range(shipments)]


def test_bound_limits_what_one_party_adds() -> None:
    party = replace(PRIVACY, unit="party", shipments_per_unit=3, cells_per_shipment=2,
                    value_cents_per_shipment=500)
    rows = [Contribution("big", f"S{i}", (cell,), 1_000) for i in range(10) for cell in "abc"]
    rows.append(Contribution("small", "T1", ("a",), 100))
    bounded = bound(rows, party)
    assert bounded.total_shipments == 4  # 3 of the big party's 10, and the small one
    assert sum(len(s) for s in bounded.shipments.values()) == 3 * 2 + 1  # 2 cells a shipment
    assert bounded.total_cents == 3 * 2 * 500 + 100  # each clamped to 500 cents
    # which shipments are kept depends on the shipment ids only, not on their order
    assert bound(list(reversed(rows)), party) == bounded


def test_shipment_unit_keeps_a_shipment_in_its_largest_cell() -> None:
    rows = [Contribution("S1", "S1", ("a",), 5), Contribution("S1", "S1", ("b",), 9)]
    assert bound(rows, PRIVACY).shipments == {("b",): {"S1"}}


def test_a_lone_shipment_cell_is_not_released() -> None:
    data = bound(day("lonely", 1) + day("busy", 500, start=10), PRIVACY)
    for _ in range(50):
        released = release(data, PRIVACY, 0.5, values=False, floor=3)
        assert [key for key, _, _ in released.cells] in ([("busy",)], [])
        assert released.epsilon <= 0.5 + 1e-9
        assert released.delta <= PRIVACY.delta


def test_differencing_attack_does_not_recover_one_shipments_value() -> None:
    """Two windows that differ by one shipment: total minus total was its exact value."""
    target = 150_000  # cents: a USD 1,500 parcel
    without = bound(day("d1", 200), PRIVACY)
    with_target = bound([*day("d1", 200), Contribution("T", "T", ("d2",), target)], PRIVACY)
    errors = []
    for _ in range(RUNS):
        a = release(with_target, PRIVACY, 0.5, values=True, floor=10).total[1]
        b = release(without, PRIVACY, 0.5, values=True, floor=10).total[1]
        assert a is not None
        assert b is not None
        errors.append(a.value - b.value - target)
    # the total value's noise: discrete Laplace of scale 200,000 cents / (0.5 / 4)
    scale = PRIVACY.value_cents_per_shipment / (0.5 / 4)
    spread = statistics.pstdev(errors)
    assert 0.7 * 2 * scale < spread < 1.4 * 2 * scale  # the difference of two draws
    assert abs(statistics.mean(errors)) < 0.5 * scale  # unbiased: noise, not a shift
    assert statistics.median(abs(e) for e in errors) > 5 * target
    close = sum(abs(e) < target / 2 for e in errors) / RUNS
    assert close < 0.15  # about 5 % expected from the noise alone


def test_tracker_attack_does_not_recover_a_small_days_count() -> None:
    """Pad a three-shipment day with its neighbours, then subtract the neighbours."""
    before, after = day("before", 300), day("after", 280, start=1000)
    target = day("target", 3, start=5000)
    padded = bound(before + target + after, PRIVACY)
    alone = [bound(before, PRIVACY), bound(after, PRIVACY)]
    errors = []
    for _ in range(RUNS):
        total = release(padded, PRIVACY, 0.5, values=False, floor=10).total[0].value
        parts = sum(release(p, PRIVACY, 0.5, values=False, floor=10).total[0].value
                    for p in alone)
        errors.append(total - parts - 3)
    scale = 1 / (0.5 / 2)  # one shipment, half the epsilon on the total count
    # three independent discrete Laplace draws: variance 3 * 2 * scale^2 (nearly)
    expected_spread = math.sqrt(6) * scale
    assert 0.7 * expected_spread < statistics.pstdev(errors) < 1.4 * expected_spread
    exact = sum(e == 0 for e in errors) / RUNS
    assert exact < 0.15  # about 4 % expected
