"""federated = pooled, cell by cell: the federation's answers beside the pooled engines'.

The federation's side is what it actually produced: every node's signed
``shipment_indicators`` answers as the coordinator's evidence store keeps them,
and each shipment's split-shipment reason in its results (the window's first
day, the nodes that listed it, the largest total's source, parcels and value).
``compare`` lists every cell where two sides differ.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from fedtrade.coordinator.config import CoordinatorConfig
from fedtrade.coordinator.results import ShipmentResult
from fedtrade.coordinator.risk import INDICATOR_QUERY, SPLIT_PATTERN
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import PyValue, envelope_from_proto, parse_payload
from fedtrade.protos import envelope_pb2, query_pb2
from fedtrade.sim.pooled_sql import POOLED_COLUMNS, SPLIT_COLUMNS, PooledSettings
from fedtrade.trust.errors import DataError

__all__ = ["Records", "compare", "federated_records", "pooled_records", "pooled_settings"]

Records = dict[str, dict[str, PyValue]]
"""House bill -> column (``POOLED_COLUMNS``) -> value, flags as 0/1."""

# coordinator.screening's split reason, e.g. "broker-1+carrier-1+manifest: consignee over
# 800 USD in 3 days from 2025-01-03 (largest total: carrier, 4 parcels, 1,900.00 USD) (+40)"
_SPLIT = re.compile(
    r"^(?P<sources>[^:]+)\+manifest: consignee over \S+ USD (?:on|in \d+ days from) "
    r"(?P<day>\d{4}-\d\d-\d\d) \(largest total: (?P<role>\w+), (?P<parcels>\d+) parcels, "
    r"(?P<usd>[\d,]+\.\d\d) USD\) \(\+\d+\)$")


def pooled_settings(coordinator: CoordinatorConfig, node: QuerySettings) -> PooledSettings:
    """What the federation is configured with: the coordinator's split rule and batch
    size, and one node's query settings (sim.federation gives every node the same rates and
    disclosure; the marketplace's carries its transit days)."""
    risk = coordinator.risk
    return PooledSettings(node, risk.split_threshold_usd, risk.split_window_days,
                          coordinator.screening.batch_size, risk.forwarding_addresses)


def _cell(value: object) -> PyValue:
    """One spelling per value across engines: flags 0/1 (nodes answer booleans)."""
    if isinstance(value, bool):
        return int(value)
    return value  # type: ignore[return-value]


def _chunks(evidence_db: Path) -> Iterator[tuple[str, query_pb2.AnswerChunk]]:
    if not evidence_db.is_file():
        raise DataError(f"{evidence_db}: no evidence store there; give the coordinator's "
                        "evidence_db")
    conn = sqlite3.connect(f"{evidence_db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT node_id, response FROM evidence WHERE query_name = ? "
                            "AND kind = 'chunk' ORDER BY id", (INDICATOR_QUERY,))
        for node_id, response in rows:
            message = envelope_pb2.Envelope()
            message.ParseFromString(response)
            envelope = envelope_from_proto(message)
            yield node_id, parse_payload(query_pb2.AnswerChunk, envelope.payload)
    finally:
        conn.close()


def _split_cells(reasons: Sequence[str], roles: Mapping[str, str]) -> dict[str, PyValue]:
    for reason in reasons:
        found = _SPLIT.match(reason)
        if found is not None:
            sources = "+".join(roles.get(n, n) for n in found["sources"].split("+"))
            return {"split_day": found["day"], "split_sources": sources,
                    "split_role": found["role"], "split_parcels": int(found["parcels"]),
                    "split_value_usd": float(found["usd"].replace(",", ""))}
    raise DataError(f"a split reason in an unexpected form: {' | '.join(reasons)}")


def federated_records(
    evidence_db: Path, results: Iterable[ShipmentResult], roles: Mapping[str, str]
) -> Records:
    """The federation's answers per shipment: its nodes' (node id -> role in ``roles``)
    signed indicator answers from ``evidence_db`` and the split columns of ``results``."""
    records: Records = {}
    for result in results:
        record = records.setdefault(result.house_bill, {"house_bill": result.house_bill})
        if SPLIT_PATTERN in result.patterns:
            record.update(_split_cells(result.reasons, roles))
        else:
            record.update(dict.fromkeys(SPLIT_COLUMNS))
    for node_id, chunk in _chunks(evidence_db):
        role = roles[node_id]
        table = decode_table(chunk.table)
        for row in table.rows():
            values = dict(zip(table.names, row, strict=True))
            record = records.setdefault(str(values.pop("house_bill")), {})
            record.update({f"{role}.{name}": _cell(v) for name, v in values.items()})
    return records


def pooled_records(rows: Iterable[Sequence[object]]) -> Records:
    """Rows of ``POOLED_COLUMNS`` (a pooled engine's result) as records."""
    records: Records = {}
    for row in rows:
        record = {c: _cell(v) for c, v in zip(POOLED_COLUMNS, row, strict=True)}
        records[str(record["house_bill"])] = record
    return records


# The coordinator reports the split value at cents. Converted amounts often sum to an
# exact half cent, which rounds up or down by the order the engine adds in, so a value
# at cents agrees with an unrounded one within half a cent.
_HALF_CENT = 0.005


def _same(a: PyValue, b: PyValue, column: str) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        slack = 1e-9 * max(1.0, abs(a), abs(b))
        if column == "split_value_usd":
            slack += _HALF_CENT
        return a == b or abs(a - b) <= slack
    return a == b


def compare(left: tuple[str, Records], right: tuple[str, Records]) -> tuple[int, list[str]]:
    """(cells compared, disagreements): every column of ``POOLED_COLUMNS`` of every shipment
    of either side. A cell one side lacks (a node that did not answer) is a disagreement."""
    (left_name, left_records), (right_name, right_records) = left, right
    problems: list[str] = []
    cells = 0
    for bill in sorted(left_records.keys() | right_records.keys()):
        mine, theirs = left_records.get(bill), right_records.get(bill)
        if mine is None or theirs is None:
            only = left_name if theirs is None else right_name
            problems.append(f"house bill {bill}: only in {only}")
            continue
        for column in POOLED_COLUMNS:
            cells += 1
            where = f"house bill {bill}, column {column}:"
            if column not in mine or column not in theirs:
                missing = " and ".join(n for n, r in ((left_name, mine), (right_name, theirs))
                                       if column not in r)
                problems.append(f"{where} no answer in {missing}")
            elif not _same(mine[column], theirs[column], column):
                problems.append(f"{where} {left_name} {mine[column]!r}, "
                                f"{right_name} {theirs[column]!r}")
    return cells, problems
