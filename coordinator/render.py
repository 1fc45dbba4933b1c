"""Readable terminal tables for verified answers."""

from __future__ import annotations

from rich.table import Table

from fedtrade.coordinator.client import VerifiedAnswer
from fedtrade.coordinator.results import RISK_LEVELS, ScreeningSummary
from fedtrade.trust.tables import decode_table

__all__ = ["answer_table", "summary_table"]


def answer_table(result: VerifiedAnswer) -> Table:
    answer = result.answer
    if answer.WhichOneof("result") == "catalogue":
        table = Table(
            "query",
            "parameters",
            "output fields",
            "purposes",
            "class",
            title=f"{result.node_id}: queries you may run",
        )
        for q in answer.catalogue.queries:
            params = ", ".join(f"{p.name}:{p.type}" for p in q.parameters)
            table.add_row(
                q.name,
                params,
                ", ".join(q.output_fields),
                ", ".join(q.purposes),
                q.disclosure_class,
            )
        return table
    decoded = decode_table(answer.table)
    table = Table(
        *decoded.names, title=f"{result.node_id}: {result.query.query_name} (signed answer)"
    )
    rows = list(decoded.rows())
    for row in rows:
        table.add_row(*_marked(decoded.names, row))
    if PRIVACY_COLUMN in decoded.names and rows:
        facts = dict(zip(decoded.names, rows[-1], strict=True))
        table.caption = (f"differential privacy: {facts['mechanism']} noise, epsilon "
                         f"{facts['epsilon']} spent, budget remaining {facts[PRIVACY_COLUMN]}; "
                         "± is the 95 % interval, ±>value marks an interval wider than the value")
    return table


# Columns of a differentially private answer (see the node's trade_statistics).
PRIVACY_COLUMN = "budget_remaining"
_INTERVAL = "_pm95"


def _marked(names: tuple[str, ...], row: tuple[object, ...]) -> list[str]:
    """Cells as text; a noisy value whose 95 % interval is wider than itself is marked."""
    values = dict(zip(names, row, strict=True))
    out = []
    for name, value in values.items():
        text = "—" if value is None else str(value)
        plus_minus = values.get(name + _INTERVAL)
        if (isinstance(value, int | float) and isinstance(plus_minus, int | float)
                and plus_minus > abs(value)):
            text += " (±>value)"
        out.append(text)
    return out


def summary_table(summary: ScreeningSummary) -> Table:
    """Counts by risk level and pattern, federation vs manifest alone, and node health."""
    table = Table("", "shipments", "manifest alone", title=f"screened {summary.shipments} "
                  f"shipments of {summary.manifest}")
    for level in RISK_LEVELS:
        table.add_row(f"risk {level}", str(summary.by_level.get(level, 0)), "")
    patterns = sorted(set(summary.by_pattern) | set(summary.manifest_only_by_pattern))
    for pattern in patterns:
        table.add_row(pattern, str(summary.by_pattern.get(pattern, 0)),
                      str(summary.manifest_only_by_pattern.get(pattern, 0)))
    for node in summary.nodes:
        state = "all batches answered" if not node.batches_failed else (
            f"{node.batches_failed} batch(es) without answer: "
            + "; ".join(f"{reason} ({count})" for reason, count in node.failures.items()))
        table.add_row(f"node {node.node_id}", f"{node.batches_answered} batches", state)
    return table
