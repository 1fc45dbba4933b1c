"""Primary and complementary suppression and the grand total, on hand-made and random tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import combinations, product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.disclosure import Cell, ProtectedCell, grand_total, protect
from fedtrade.node.queries.settings import DisclosureControls

DEFAULTS = DisclosureControls()


def cell(key: str | tuple[str, ...], shipments: int = 20, *parts: float) -> Cell:
    """A cell whose value is the sum of its contributors' parts (default: 20 equal parts)."""
    values = parts or (1.0,) * 20
    contributions = {f"c{i}": float(v) for i, v in enumerate(values)}
    return Cell(key if isinstance(key, tuple) else (key,), shipments,
                sum(contributions.values()), contributions)


def reasons(cells: Sequence[Cell], controls: DisclosureControls = DEFAULTS) -> list[str]:
    return [p.reason for p in protect(cells, controls)]


def slices(keys: Sequence[tuple[str, ...]]) -> Iterator[list[tuple[str, ...]]]:
    """Every slice: cells agreeing on the fixed positions, for every non-empty set of free ones."""
    width = len(keys[0])
    for count in range(1, width + 1):
        for free in combinations(range(width), count):
            groups: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
            for key in keys:
                groups[tuple(k for p, k in enumerate(key) if p not in free)].append(key)
            yield from groups.values()


def primary_failure(c: Cell, controls: DisclosureControls) -> str:
    if c.shipments < controls.min_cell_shipments:
        return "threshold"
    ranked = sorted(c.contributions.values(), reverse=True)
    if c.value > 0 and any(sum(ranked[:n]) / c.value > k / 100 for n, k in controls.dominance):
        return "dominance"
    return ""


def recovered_by_subtraction(cells: Sequence[Cell], published: Sequence[ProtectedCell]) -> set[
        tuple[str, ...]]:
    """What an attacker holding every slice total works out: total minus the cells it knows.

    Slices of a single cell are left out: their total is the cell's own population, which
    a coarser query suppresses by the same primary rule.
    """
    truth = {c.key: (c.shipments, c.value) for c in cells}
    known = {p.key: truth[p.key] for p in published if not p.suppressed}
    recovered: set[tuple[str, ...]] = set()
    changed = True
    while changed:
        changed = False
        for members in slices([c.key for c in cells]):
            unknown = [k for k in members if k not in known]
            if len(members) > 1 and len(unknown) == 1:
                (key,) = unknown
                known[key] = (
                    sum(truth[k][0] for k in members) - sum(known[k][0] for k in members
                                                            if k != key),
                    sum(truth[k][1] for k in members) - sum(known[k][1] for k in members
                                                            if k != key),
                )
                assert known[key][0] == truth[key][0]
                assert known[key][1] == pytest.approx(truth[key][1])
                recovered.add(key)
                changed = True
    return recovered


def test_threshold_boundary() -> None:
    assert reasons([cell("a", 9)]) == ["threshold"]
    assert reasons([cell("a", 10)]) == [""]
    strict = DisclosureControls(min_cell_shipments=3)
    assert reasons([cell("a", 2)], strict) == ["threshold"]
    assert reasons([cell("a", 3)], strict) == [""]


def test_dominance_one_fifty_boundary() -> None:
    only = DisclosureControls(dominance=((1, 50.0),))
    assert reasons([cell("a", 20, 50, 10, 10, 10, 10, 10)], only) == [""]
    assert reasons([cell("a", 20, 50.01, 10, 10, 10, 10, 10)], only) == ["dominance"]
    assert reasons([cell("a", 20, 100)], only) == ["dominance"]


def test_dominance_two_sixty_seven_boundary() -> None:
    only = DisclosureControls(dominance=((2, 67.0),))
    assert reasons([cell("a", 20, 40, 27, 11, 11, 11)], only) == [""]
    assert reasons([cell("a", 20, 40, 27.01, 11, 11, 11)], only) == ["dominance"]
    # Two contributors always hold 100 % between them.
    assert reasons([cell("a", 20, 30, 30)], only) == ["dominance"]


def test_default_rules_combine_and_threshold_is_reported_first() -> None:
    assert reasons([cell("a", 20, 45, 30, 25)]) == ["dominance"]  # (2,67): 75 %
    assert reasons([cell("a", 5, 100)]) == ["threshold"]


def test_zero_value_cell_is_not_dominance_suppressed() -> None:
    assert reasons([cell("a", 20, 0.0)]) == [""]
    assert reasons([Cell(("a",), 20, 0.0, {})]) == [""]


def test_suppressed_cells_carry_none_not_zero() -> None:
    small, big = protect([cell("a", 3), cell("b", 30), cell("c", 40)], DEFAULTS)[:2]
    assert small == ProtectedCell(("a",), None, None, True, "threshold")
    assert big == ProtectedCell(("b",), None, None, True, "complementary")


def test_complementary_picks_smallest_value_then_shipments_then_key() -> None:
    by_value = [cell("a", 3), cell("b", 20, *[2.0] * 20), cell("c", 20)]
    assert reasons(by_value) == ["threshold", "", "complementary"]
    by_shipments = [cell("a", 3), cell("b", 21), cell("c", 20)]
    assert reasons(by_shipments) == ["threshold", "", "complementary"]
    by_key = [cell("a", 3), cell("c", 20), cell("b", 20)]
    assert reasons(by_key) == ["threshold", "", "complementary"]


def test_complementary_avoids_a_cell_alone_on_its_line() -> None:
    # (r1, c2) is the only cell of column c2: a query by column publishes it as the column
    # total, so hiding it would not protect (r1, c1) against the row total.
    cells = [
        cell(("r1", "c1"), 3),
        cell(("r1", "c2"), 10, *[0.5] * 10),
        cell(("r1", "c3"), 20),
        cell(("r2", "c1"), 20, *[3.0] * 20),
        cell(("r2", "c3"), 20, *[2.5] * 20),
    ]
    assert reasons(cells) == ["threshold", "", "complementary", "complementary", "complementary"]


def test_sparse_table_hides_a_second_cell_for_the_grand_total() -> None:
    # Neither cell shares a line with the other, but the grand total minus the visible one
    # would give the hidden one away.
    cells = [cell(("r1", "c1"), 3), cell(("r2", "c2"), 40)]
    assert reasons(cells) == ["threshold", "complementary"]


def test_attacker_recovers_primary_only_suppression() -> None:
    cells = [cell(("r1", "c1"), 3), cell(("r1", "c2"), 30), cell(("r2", "c1"), 30),
             cell(("r2", "c2"), 30)]
    primary_only = [ProtectedCell(c.key, None, None, True, "threshold") if c.shipments < 10
                    else ProtectedCell(c.key, c.shipments, c.value, False, "") for c in cells]
    assert recovered_by_subtraction(cells, primary_only) == {("r1", "c1")}
    assert recovered_by_subtraction(cells, protect(cells, DEFAULTS)) == set()
    assert sum(p.suppressed for p in protect(cells, DEFAULTS)) == 4


def test_protect_refuses_mixed_or_repeated_keys() -> None:
    with pytest.raises(ValueError, match="same length"):
        protect([cell(("a",)), cell(("a", "b"))], DEFAULTS)
    with pytest.raises(ValueError, match="distinct"):
        protect([cell("a"), cell("a")], DEFAULTS)
    assert protect([], DEFAULTS) == []


def test_grand_total_rules() -> None:
    cells = [cell("a", 20), cell("b", 30), cell("c", 3)]
    published = protect(cells, DEFAULTS)
    total = cell("*", 53)
    assert grand_total(total, published, DEFAULTS) == ProtectedCell(("*",), 53, 20.0, False, "")
    assert grand_total(cell("*", 9), published, DEFAULTS).reason == "threshold"
    assert grand_total(cell("*", 53, 90, 5, 5), published, DEFAULTS) == ProtectedCell(
        ("*",), None, None, True, "dominance")
    one_hidden = [ProtectedCell(("a",), 20, 20.0, False, ""),
                  ProtectedCell(("c",), None, None, True, "threshold")]
    assert grand_total(total, one_hidden, DEFAULTS).reason == "complementary"


def test_grand_total_of_a_one_cell_table_fails_with_its_cell() -> None:
    only = cell("a", 4)
    (published,) = protect([only], DEFAULTS)
    assert published.reason == "threshold"
    assert grand_total(cell("*", 4), [published], DEFAULTS).reason == "threshold"


@st.composite
def tables(draw: st.DrawFn) -> list[Cell]:
    width = draw(st.integers(1, 3))
    axes = [[f"{p}{i}" for i in range(draw(st.integers(1, 4)))] for p in "xyz"[:width]]
    keys = draw(st.lists(st.sampled_from(list(product(*axes))), min_size=1, unique=True))
    out = []
    for key in keys:
        parts = draw(st.lists(st.integers(0, 1000), min_size=1, max_size=6))
        out.append(cell(key, draw(st.integers(1, 30)), *map(float, parts)))
    return out


CONTROLS = st.sampled_from([
    DEFAULTS,
    DisclosureControls(min_cell_shipments=3, dominance=()),
    DisclosureControls(min_cell_shipments=15, dominance=((1, 60.0),)),
])


@settings(max_examples=300, deadline=None)
@given(cells=tables(), controls=CONTROLS)
def test_protect_properties(cells: list[Cell], controls: DisclosureControls) -> None:
    published = protect(cells, controls)
    assert [p.key for p in published] == [c.key for c in cells]
    hidden = {p.key for p in published if p.suppressed}
    for c, p in zip(cells, published, strict=True):
        failure = primary_failure(c, controls)
        if failure:
            assert p.reason == failure
        elif p.suppressed:
            assert p.reason == "complementary"
        if p.suppressed:
            assert (p.shipments, p.value) == (None, None)
        else:
            assert (p.shipments, p.value, p.reason) == (c.shipments, c.value, "")
    for members in slices([c.key for c in cells]):
        assert len(members) == 1 or sum(k in hidden for k in members) != 1, members
    assert recovered_by_subtraction(cells, published) == set()
    merged: dict[str, float] = defaultdict(float)
    for c in cells:
        for name, part in c.contributions.items():
            merged[name] += part
    total = Cell(("*",) * len(cells[0].key), sum(c.shipments for c in cells),
                 sum(merged.values()), merged)
    if len(cells) > 1 and hidden and not primary_failure(total, controls):
        assert not grand_total(total, published, controls).suppressed
