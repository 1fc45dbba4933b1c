"""Readable terminal tables for verified answers, and the same answers as JSON."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from fedtrade.coordinator.client import VerifiedAnswer
from fedtrade.coordinator.results import RISK_LEVELS, ScreeningSummary
from fedtrade.protocol.catalogue import INTERVAL_SUFFIX, PRIVACY_COLUMNS
from fedtrade.protocol.tables import decode_table

_BUDGET_COLUMN = PRIVACY_COLUMNS[-1]
__all__ = ["answer_json", "answer_table", "console", "summary_table"]

# Wide enough for any row: piped output is for reading in full or for grep, never cut.
_UNLIMITED_WIDTH = 1 << 20


def console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr): fitted to a terminal, never truncating otherwise.

    Rich assumes 80 columns when the stream is not a terminal and cuts cells with
    "…"; a file or a pipe gets every cell in full instead, one table row per line.
    """
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else _UNLIMITED_WIDTH)


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
    if _BUDGET_COLUMN in decoded.names and rows:
        facts = dict(zip(decoded.names, rows[-1], strict=True))
        table.caption = (f"differential privacy: {facts['mechanism']} noise, epsilon "
                         f"{facts['epsilon']} spent, budget remaining {facts[_BUDGET_COLUMN]}; "
                         "± is the 95 % interval, ±>value marks an interval wider than the value")
    return table


def answer_json(result: VerifiedAnswer) -> dict[str, Any]:
    """A verified answer as plain data: the catalogue of a describe, else the answer's rows."""
    head: dict[str, Any] = {
        "node": result.node_id,
        "query": result.query.query_name,
        "query_id": result.query.query_id.hex(),
        "verified": True,
    }
    answer = result.answer
    if answer.WhichOneof("result") == "catalogue":
        return {**head, "catalogue": [
            {
                "query": q.name,
                "parameters": [{"name": p.name, "type": p.type} for p in q.parameters],
                "output_fields": list(q.output_fields),
                "purposes": list(q.purposes),
                "class": q.disclosure_class,
            }
            for q in answer.catalogue.queries
        ]}
    return {**head, "rows": list(decode_table(answer.table).records())}




def _marked(names: tuple[str, ...], row: tuple[object, ...]) -> list[str]:
    """Cells as text; a noisy value whose 95 % interval is wider than itself is marked."""
    values = dict(zip(names, row, strict=True))
    out = []
    for name, value in values.items():
        text = "—" if value is None else str(value)
        plus_minus = values.get(name + INTERVAL_SUFFIX)
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
