"""Readable terminal tables for verified answers."""

from __future__ import annotations

from rich.table import Table

from coordinator.client import VerifiedAnswer
from trust.tables import decode_table

__all__ = ["answer_table"]


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
    for row in decoded.rows():
        table.add_row(*("—" if v is None else str(v) for v in row))
    return table
