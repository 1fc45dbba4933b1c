"""CSV files as lists of dicts, as export files are read and written by the benchmarks and
tests that make imports of their own from a synthetic world."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["Row", "read_rows", "write_rows"]

Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[Row], header: list[str] | None = None) -> Path:
    """Write ``rows`` (the header from the first, unless given) to ``path``, making its
    folder; ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, header or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
