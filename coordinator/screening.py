"""Federated manifest screening: fan out signed batch queries, verify, combine, assess.

1. The manifest is validated in full first; nothing is sent if a row is bad.
   Every row must be in the filer's signed blocks (``fedtrade-node attest``):
   questions carry the blocks their house bills are in, and nodes answer only
   for attested lines, against the attested values.
2. Split shipments: every node gets one ``consignee_daily_totals`` question
   per date range and batch of attested house bills, all with the same query
   id and blocks, so its tokens link across nodes (and never with another
   question), asking for sliding windows of the configured days (arrival day at
   every node). Per consignee and window the coordinator takes, for each role,
   the sum over that role's nodes (values rounded by each node), and the
   manifest's own total for the consignees of the bills placed in the group;
   the largest of those is compared with the threshold. Roles are not added up:
   nodes of one role are assumed to hold disjoint parcels (two carriers each
   carry part), nodes of different roles the same parcels; a parcel held by two
   nodes of one role would be counted twice. A group at a configured forwarding
   address is no split.
3. The manifest streams in batches; each batch goes to every node at once over
   the streaming ``Screen`` call (``shipment_indicators``), with the node's
   deadline. Every chunk is verified and bound to its request before use.
4. A node that is down, slow or refusing does not stop the run: its shipments
   say "no answer from NODE (reason)"; after several failures in a row it is
   treated as down for the rest of the run.
"""

from __future__ import annotations

import heapq
import math
import os
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fedtrade.coordinator.aeo import open_green_lane
from fedtrade.coordinator.attested import AttestedManifest, load_attested
from fedtrade.coordinator.client import Coordinator, QueryContext
from fedtrade.coordinator.config import NodeEntry
from fedtrade.coordinator.manifest import (
    Batch,
    ManifestScan,
    SplitRule,
    read_batches,
    scan_manifest,
)
from fedtrade.coordinator.results import BudgetPoint, NodeStats, ScreeningSummary, ShipmentResult
from fedtrade.coordinator.risk import INDICATOR_QUERY, RiskRules, assess_batch, worklist
from fedtrade.protocol.limits import CONSIGNEE_TOTALS_MAX_DAYS
from fedtrade.protocol.rates import RateTable
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import PyValue, table_value
from fedtrade.trust.errors import DataError, FedtradeError, RemoteError, VerificationError

__all__ = ["BUDGET_SHARES", "LINKAGE_QUERY", "TOP_SHIPMENTS", "budget_curve", "screen_manifest"]

LINKAGE_QUERY = "consignee_daily_totals"
# Inspection budgets the report's curve shows: 1 % to 10 %, then 15 % and 20 %.
BUDGET_SHARES = (*(k / 100 for k in range(1, 11)), 0.15, 0.20)
TOP_SHIPMENTS = 50

Columns = Mapping[str, list[PyValue]]


@dataclass
class _NodeRun:
    entry: NodeEntry
    answered: int = 0
    failed: int = 0
    consecutive_failures: int = 0
    down: str | None = None
    failures: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)

    def failure(self, reason: str, limit: int) -> None:
        self.failed += 1
        self.consecutive_failures += 1
        self.failures[reason] += 1
        if self.consecutive_failures >= limit and self.down is None:
            self.down = f"treated as down after {limit} failed batches: {reason}"

    def stats(self) -> NodeStats:
        return NodeStats(self.entry.id, self.entry.role, self.answered, self.failed,
                         dict(self.failures), tuple(self.seconds))


def _reason(exc: FedtradeError) -> str:
    """One line, without the " | " that separates reasons in results.csv."""
    text = f"{exc.code}: {exc.details}" if isinstance(exc, RemoteError) else \
        f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()).replace("|", "/")


def _windows(first: str, last: str, width: int) -> Iterator[tuple[str, str]]:
    """Ranges of window openings: from ``width - 1`` days before the manifest's first day,
    so that a window reaching into the manifest from before it counts too."""
    start = date.fromisoformat(first) - timedelta(days=width - 1)
    end = date.fromisoformat(last)
    while start <= end:
        stop = min(end, start + timedelta(days=CONSIGNEE_TOTALS_MAX_DAYS - 1))
        yield start.isoformat(), stop.isoformat()
        start = stop + timedelta(days=1)


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


def _manifest_total(scan: ManifestScan, bills: set[str], opening: str) -> tuple[int, float]:
    """The manifest's own parcels and value in the window, over the consignees (as the
    manifest spells them) of the house bills the nodes placed in the group."""
    consignees = {scan.consignee_of[b] for b in bills if b in scan.consignee_of}
    day = date.fromisoformat(opening)
    totals = [scan.window_total(c, day) for c in consignees]
    return sum(t[0] for t in totals), sum(t[1] for t in totals)


def _split_reasons(
    coordinator: Coordinator, scan: ManifestScan, context: QueryContext,
    runs: Mapping[str, _NodeRun], pool: ThreadPoolExecutor, attested: AttestedManifest,
) -> dict[str, str]:
    rules = coordinator.config.risk
    threshold, width = rules.split_threshold_usd, rules.split_window_days
    if threshold <= 0:
        return {}
    size = coordinator.config.screening.batch_size
    questions = [
        (first, last, scan.house_bills[start : start + size])
        for first, last in _windows(scan.first_day, scan.last_day, width)
        for start in range(0, len(scan.house_bills), size)
    ]
    groups: dict[tuple[str, str, int], _Group] = {}
    for number, (first, last, bills) in enumerate(questions):
        query_id = os.urandom(16)  # one federated question: the same id at every node
        params: dict[str, PyValue] = {"date_from": first, "date_to": last,
                                      "window_days": width, "house_bills": bills}
        blocks = attested.blocks_for(bills)
        futures = {
            node_id: pool.submit(
                coordinator.screen, node_id, LINKAGE_QUERY, params, context, query_id=query_id,
                deadline_seconds=coordinator.config.screening.linkage_deadline_seconds,
                attestations=blocks)
            for node_id in runs
        }
        for node_id, future in futures.items():
            run = runs[node_id]
            try:
                chunks = future.result()
            except FedtradeError as exc:
                run.failure(f"consignee totals: {_reason(exc)}",
                            coordinator.config.screening.max_consecutive_failures)
                continue
            for chunk in chunks:
                for token, day, parcels, usd, listed in decode_table(chunk.table).rows():
                    group = groups.setdefault((str(token), str(day), number), _Group())
                    group.by_node[node_id] = (run.entry.role, int(parcels), float(usd))  # type: ignore[arg-type]
                    group.bills.update(listed)  # type: ignore[arg-type]
    reasons: dict[str, str] = {}
    span = "on" if width == 1 else f"in {width} days from"
    for (_, day, _), group in sorted(groups.items(), key=lambda item: item[0][1]):
        if any(scan.consignee_of.get(b) in scan.forwarding for b in group.bills):
            continue  # a forwarder's address: many buyers, not one consignee splitting
        value, parcels, role = group.value_usd(_manifest_total(scan, group.bills, day))
        if value > threshold:
            sources = "+".join([*sorted(group.by_node), "manifest"])
            reason = (f"{sources}: consignee over {threshold:g} USD {span} {day} "
                      f"(largest total: {role}, {parcels} parcels, {value:,.2f} USD)")
            for bill in group.bills:
                reasons.setdefault(bill, reason)
    return reasons


def _ask_batch(
    coordinator: Coordinator, node_id: str, batch: Batch, context: QueryContext,
    attested: AttestedManifest,
) -> tuple[Columns, float]:
    started = time.monotonic()
    shipments = table_value({"house_bill": batch.house_bill})
    chunks = coordinator.screen(node_id, INDICATOR_QUERY, {"shipments": shipments}, context,
                                attestations=attested.blocks_for(batch.house_bill))
    columns: dict[str, list[PyValue]] = {}
    for chunk in chunks:
        for name, values in decode_table(chunk.table).columns.items():
            columns.setdefault(name, []).extend(values)
    if columns.get("house_bill") != batch.house_bill:
        raise VerificationError(
            f"{node_id} answered for other shipments than asked, or in another order; "
            "its answer is not used"
        )
    return columns, time.monotonic() - started


@dataclass
class _Tally:
    rules: RiskRules
    by_level: Counter[str] = field(default_factory=Counter)
    by_pattern: Counter[str] = field(default_factory=Counter)
    baseline: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    top: list[tuple[int, int, ShipmentResult]] = field(default_factory=list)
    count: int = 0
    # per shipment: federation score, manifest-only score, violation flagged by the nodes
    scores: array[int] = field(default_factory=lambda: array("q"))
    baseline_scores: array[int] = field(default_factory=lambda: array("q"))
    flagged: bytearray = field(default_factory=bytearray)

    def add(self, result: ShipmentResult) -> None:
        self.count += 1
        self.by_level[result.risk_level] += 1
        self.by_pattern.update(result.patterns)
        self.baseline.update(result.manifest_only_patterns)
        self.confirmed.update(set(result.manifest_only_patterns) & set(result.patterns))
        self.scores.append(result.score)
        self.baseline_scores.append(self.rules.manifest_only_score(result.manifest_only_patterns))
        self.flagged.append(1 if result.patterns else 0)
        item = (result.score, -self.count, result)
        if len(self.top) < TOP_SHIPMENTS:
            heapq.heappush(self.top, item)
        elif item > self.top[0]:
            heapq.heapreplace(self.top, item)


def budget_curve(scores: Sequence[int], baseline: Sequence[int], flagged: Sequence[int],
                 shares: Sequence[float] = BUDGET_SHARES) -> tuple[BudgetPoint, ...]:
    """Per budget share: flagged shipments among the top of each worklist (score > 0 only,
    highest first, ties in manifest order)."""
    fed, base = worklist(scores), worklist(baseline)
    points = []
    for share in shares:
        slots = math.ceil(share * len(scores))
        points.append(BudgetPoint(share, slots, sum(flagged[i] for i in fed[:slots]),
                                  sum(flagged[i] for i in base[:slots])))
    return tuple(points)


@contextmanager
def _progress(enabled: bool, total: int, nodes: list[str]) -> Iterator[Callable[[str, int], None]]:
    """Advance with (task, amount); task is "shipments" or a node id."""
    if not enabled:
        yield lambda _task, _n: None
        return
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, transient=False) as progress:
        tasks = {"shipments": progress.add_task("shipments screened", total=total)}
        for node in nodes:
            tasks[node] = progress.add_task(f"  answered by {node}", total=total)
        yield lambda task, n: progress.advance(tasks[task], n)


def screen_manifest(
    coordinator: Coordinator,
    manifest: Path,
    context: QueryContext,
    emit: Callable[[ShipmentResult], None],
    *,
    progress: bool = False,
    rates_file: Path | None = None,
    quarantine: Path | None = None,
    attestations: Path,
    dispositions: IO[str] | None = None,
) -> ScreeningSummary:
    """Screen every shipment of ``manifest``; ``emit`` receives results in manifest order.

    ``attestations`` is the filer's signed blocks of the manifest (every row must be in
    one); ``rates_file`` adds dated currency rates to the config's; ``quarantine`` writes
    the manifest's bad rows there and screens the rest (default: a bad row refuses it all).
    With an AEO green lane configured, ``dispositions`` receives the shipments it takes
    out of review (``coordinator.green_lane``).
    """
    config = coordinator.config
    settings = config.screening
    started = datetime.now(UTC)
    rates = RateTable.constant(config.currency_per_usd)
    if rates_file is not None:
        rates.load(rates_file)
    rules = config.risk
    attested = load_attested(attestations, config.nodes)
    scan = scan_manifest(manifest, rates, quarantine, SplitRule(
        rules.split_threshold_usd, rules.split_window_days, rules.forwarding_addresses))
    outside = attested.missing(scan.house_bills)
    if outside:
        raise DataError(
            f"{manifest}: {len(outside)} shipment(s) are in no block of {attestations} (first: "
            f"{outside[0]}); nothing was sent — ask the filer to attest the manifest as filed")
    lane = open_green_lane(coordinator, context, attested, str(manifest), dispositions)
    runs = {node_id: _NodeRun(entry) for node_id, entry in sorted(config.nodes.items())}
    tally = _Tally(config.risk)
    workers = max(4, len(runs) * settings.in_flight_batches)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="screen") as pool, \
            _progress(progress, scan.rows, list(runs)) as advance:
        splits = _split_reasons(coordinator, scan, context, runs, pool, attested)
        pending: deque[tuple[Batch, dict[str, Future[tuple[Columns, float]]]]] = deque()

        def finish_oldest() -> None:
            batch, futures = pending.popleft()
            answers: dict[str, Columns] = {}
            missing: dict[str, str] = {}
            for node_id, run in runs.items():
                future = futures.get(node_id)
                if future is None:
                    missing[node_id] = run.down or "not asked"
                    continue
                try:
                    answers[node_id], seconds = future.result()
                except FedtradeError as exc:
                    missing[node_id] = _reason(exc)
                    run.failure(missing[node_id], settings.max_consecutive_failures)
                    continue
                run.answered += 1
                run.consecutive_failures = 0
                run.seconds.append(seconds)
                advance(node_id, len(batch.house_bill))
            results = list(_results(coordinator, scan, runs, answers, missing, splits, batch,
                                    started.date()))
            for result in results:
                emit(result)
                tally.add(result)
            if lane is not None:
                lane.observe_batch(results, {n: c["known"] for n, c in answers.items()},
                                   complete=not missing)
            advance("shipments", len(batch.house_bill))

        for batch in read_batches(manifest, rates, settings.batch_size, scan.rejected):
            futures = {
                node_id: pool.submit(_ask_batch, coordinator, node_id, batch, context, attested)
                for node_id, run in runs.items() if run.down is None
            }
            pending.append((batch, futures))
            if len(pending) >= settings.in_flight_batches:
                finish_oldest()
        while pending:
            finish_oldest()
    return ScreeningSummary(
        manifest=str(manifest), purpose=context.purpose, case_id=context.case_id,
        started_at=started, finished_at=datetime.now(UTC), shipments=tally.count,
        by_level=dict(tally.by_level), by_pattern=dict(tally.by_pattern),
        top=[item[2] for item in sorted(tally.top, reverse=True)],
        nodes=[run.stats() for run in runs.values()],
        manifest_only_by_pattern=dict(tally.baseline),
        manifest_only_confirmed=dict(tally.confirmed),
        budget_curve=budget_curve(tally.scores, tally.baseline_scores, tally.flagged),
        green_lane=lane.summary() if lane is not None else None,
    )


def _results(
    coordinator: Coordinator, scan: ManifestScan, runs: Mapping[str, _NodeRun],
    answers: Mapping[str, Columns], missing: Mapping[str, str],
    splits: Mapping[str, str], batch: Batch, today: date,
) -> Iterator[ShipmentResult]:
    rules = coordinator.config.risk
    brokers = sorted(n for n in answers if runs[n].entry.role == "broker")
    gaps = rules.entry_gap.reasons(
        [answers[n]["known"] for n in brokers], "+".join(brokers),
        batch.declared_value_usd, batch.arrival_date, today)
    assessments = assess_batch(
        rules,
        {node_id: (runs[node_id].entry.role, columns) for node_id, columns in answers.items()},
        len(batch.house_bill),
        [splits.get(bill) for bill in batch.house_bill],
        gaps,
    )
    answered_by = tuple(answers)
    no_answer = tuple(f"no answer from {node} ({reason})" for node, reason in missing.items())
    for index, (bill, assessment) in enumerate(zip(batch.house_bill, assessments, strict=True)):
        yield ShipmentResult(
            house_bill=bill,
            risk_level=assessment.level,
            score=assessment.score,
            patterns=assessment.patterns,
            reasons=assessment.reasons,
            manifest_only_patterns=scan.manifest_only_patterns(
                batch.declared_value_usd[index], batch.hs6[index], batch.consignee[index],
                batch.arrival_date[index]),
            answered_by=answered_by,
            no_answer=no_answer,
        )
