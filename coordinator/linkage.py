"""Split shipments across nodes: consignee totals asked beside each batch, combined.

For each batch every node gets one ``consignee_daily_totals`` question per
date range, about the batch's attested house bills (after the batch's
indicators, in the same worker, so a node has no more calls in flight than
batches), all with the same query id
and blocks, so its tokens link across nodes (and never with another question),
asking for sliding windows of the configured days (arrival day at every node).
Per consignee and window the coordinator takes, for each role, the sum over
that role's nodes (values rounded by each node), and the manifest's own total
for the consignees of the bills placed in the group; the largest of those is
compared with the threshold. Roles are not added up: nodes of one role are
assumed to hold disjoint parcels (two carriers each carry part), nodes of
different roles the same parcels; a parcel held by two nodes of one role would
be counted twice. A group at a configured forwarding address is no split.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from fedtrade.coordinator.client import Coordinator, ParamValue, QueryContext
from fedtrade.coordinator.manifest import Batch, ManifestScan
from fedtrade.protocol.limits import CONSIGNEE_TOTALS_MAX_DAYS
from fedtrade.protocol.tables import decode_table
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import FedtradeError

__all__ = ["LINKAGE_QUERY", "Question", "Totals", "ask_totals", "split_reasons", "totals_questions",
           "windows"]

LINKAGE_QUERY = "consignee_daily_totals"
Question = tuple[bytes, dict[str, ParamValue]]  # query id, parameters
# One node's answers to a batch's questions (per date range: chunks, or why none)
Totals = list[list[query_pb2.AnswerChunk] | FedtradeError]


def windows(first: str, last: str, width: int) -> list[tuple[str, str]]:
    """Ranges of window openings: from ``width - 1`` days before the manifest's first day,
    so that a window reaching into the manifest from before it counts too."""
    start = date.fromisoformat(first) - timedelta(days=width - 1)
    end = date.fromisoformat(last)
    ranges = []
    while start <= end:
        stop = min(end, start + timedelta(days=CONSIGNEE_TOTALS_MAX_DAYS - 1))
        ranges.append((start.isoformat(), stop.isoformat()))
        start = stop + timedelta(days=1)
    return ranges


@dataclass
class _Group:
    by_node: dict[str, tuple[str, int, float]] = field(default_factory=dict)  # role, n, usd
    bills: set[str] = field(default_factory=set)

    def value_usd(self, manifest: tuple[int, float]) -> tuple[float, int, str]:
        """Per role the sum over its nodes, and the manifest's own total (as a role of its
        own); the largest (value, parcels, role)."""
        per_role: dict[str, list[float]] = {"manifest": [manifest[1], manifest[0]]}
        for role, parcels, usd in self.by_node.values():
            totals = per_role.setdefault(role, [0.0, 0.0])
            totals[0] += usd
            totals[1] += parcels
        value, parcels, role = max((t[0], int(t[1]), r) for r, t in per_role.items())
        return value, parcels, role


def manifest_totals(scan: ManifestScan, groups: Sequence[tuple[Iterable[int], str]]
                    ) -> list[tuple[int, float]]:
    """Per group (consignees as the manifest spells them: those of the house bills the nodes
    placed in it, and the window's opening day) the manifest's own parcels and value in the
    window, added up over the consignees in their iteration order, all groups in one pass."""
    sizes: list[int] = []
    keys: list[int] = []
    openings: list[int] = []
    for consignees, opening in groups:
        day = date.fromisoformat(opening).toordinal()
        before = len(keys)
        keys.extend(consignees)
        sizes.append(len(keys) - before)
        openings.extend([day] * sizes[-1])
    parcels, usd = scan.window_totals(np.array(keys, np.uint64), np.array(openings, np.int64))
    each_parcels, each_usd = parcels.tolist(), usd.tolist()
    totals, start = [], 0
    for size in sizes:
        stop = start + size
        totals.append((sum(each_parcels[start:stop]), sum(each_usd[start:stop])))
        start = stop
    return totals


def totals_questions(
    coordinator: Coordinator, batch: Batch, ranges: Sequence[tuple[str, str]],
) -> list[Question]:
    """The batch's consignee-totals questions, one per date range; each is asked of every
    node with the same query id (one federated question). The house bills are converted
    once, not once per node and question (the query copies the value, never changes it),
    and as the text list ``to_value`` makes of them without its check of every item's type
    (a manifest's house bills are texts)."""
    bills = query_pb2.Value(texts=query_pb2.TextList(values=batch.house_bill))
    return [
        (os.urandom(16), {"date_from": first, "date_to": last,
                          "window_days": coordinator.config.risk.split_window_days,
                          "house_bills": bills})
        for first, last in ranges
    ]


def ask_totals(
    coordinator: Coordinator, node_id: str, questions: Sequence[Question],
    context: QueryContext, blocks: Sequence[Envelope],
) -> Totals:
    """One node's answers to ``questions`` (or why it gave none), in order."""
    answers: Totals = []
    for query_id, params in questions:
        try:
            answers.append(coordinator.screen(
                node_id, LINKAGE_QUERY, params, context, query_id=query_id,
                deadline_seconds=coordinator.config.screening.linkage_deadline_seconds,
                attestations=blocks))
        except FedtradeError as exc:
            answers.append(exc)
    return answers


def _groups(
    totals: Mapping[str, Totals], roles: Mapping[str, str],
    failed: Callable[[str, FedtradeError], None],
) -> Iterator[tuple[str, _Group]]:
    """The answers' groups (opening day, group), question by question."""
    for number in range(max((len(t) for t in totals.values()), default=0)):
        groups: dict[tuple[str, str], _Group] = {}
        for node_id, answers in totals.items():
            answer = answers[number]
            if isinstance(answer, FedtradeError):
                failed(node_id, answer)
                continue
            role = roles[node_id]
            for chunk in answer:
                for token, day, parcels, usd, listed in decode_table(chunk.table).rows():
                    key = (str(token), str(day))
                    group = groups.get(key)
                    if group is None:
                        group = groups[key] = _Group()
                    group.by_node[node_id] = (role, int(parcels), float(usd))  # type: ignore[arg-type]
                    group.bills.update(listed)  # type: ignore[arg-type]
        yield from ((day, group) for (_, day), group in groups.items())


def split_reasons(
    coordinator: Coordinator, scan: ManifestScan, batch: Batch, totals: Mapping[str, Totals],
    roles: Mapping[str, str], failed: Callable[[str, FedtradeError], None],
) -> dict[int, str]:
    """Position in ``batch`` -> split reason, from each node's answers to its questions."""
    rules = coordinator.config.risk
    threshold, width = rules.split_threshold_usd, rules.split_window_days
    position = dict(zip(batch.house_bill, range(len(batch.house_bill)), strict=True))
    at_forwarder, consignee = batch.at_forwarder.tolist(), batch.consignee.tolist()
    placed: list[tuple[str, _Group, list[int], set[int]]] = []
    for day, group in sorted(_groups(totals, roles, failed), key=lambda item: item[0]):
        places = [position[b] for b in group.bills if b in position]
        if any(at_forwarder[i] for i in places):
            continue  # a forwarder's address: many buyers, not one consignee splitting
        placed.append((day, group, places, {consignee[i] for i in places}))
    manifest = manifest_totals(scan, [(consignees, day) for day, _, _, consignees in placed])
    reasons: dict[int, str] = {}
    span = "on" if width == 1 else f"in {width} days from"
    for (day, group, places, _), own in zip(placed, manifest, strict=True):
        value, parcels, role = group.value_usd(own)
        if value > threshold:
            sources = "+".join([*sorted(group.by_node), "manifest"])
            reason = (f"{sources}: consignee over {threshold:g} USD {span} {day} "
                      f"(largest total: {role}, {parcels} parcels, {value:,.2f} USD)")
            for index in places:
                reasons.setdefault(index, reason)
    return reasons
