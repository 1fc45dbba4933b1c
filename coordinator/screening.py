"""Federated manifest screening: fan out signed batch queries, verify, combine, assess.

1. The manifest is read and validated in full first, in one column-wise pass
   (``fedtrade.coordinator.manifest``); nothing is sent if a row is bad. Every
   row must be in the filer's signed blocks (``fedtrade-node attest``):
   questions carry the blocks their house bills are in, and nodes answer only
   for attested lines, against the attested values.
2. The accepted rows stream in batches; each batch goes to every node at once:
   its per-shipment questions over the streaming ``Screen`` call
   (``shipment_indicators``), and beside them its consignee-totals questions
   for split shipments (``fedtrade.coordinator.linkage``), each with the
   node's deadline. Every chunk is verified and bound to its request before
   use. Several batches are in flight while the oldest is assessed.
3. A batch is assessed column by column (``risk.assess_columns``), the columns the
   rules read prepared from the wire as each answer arrives (``masks.from_wire``): one
   mask per rule and node; shipments that meet the same rules with the same values share
   one assessment, its reasons written once. Results are emitted per batch
   (``ResultBatch``: each shipment's bill, flags and assessment), in manifest order.
4. A node that is down, slow or refusing does not stop the run: its shipments
   say "no answer from NODE (reason)"; after several failures in a row it is
   treated as down for the rest of the run.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fedtrade.coordinator.aeo import open_green_lane
from fedtrade.coordinator.attested import load_attested
from fedtrade.coordinator.client import Coordinator, QueryContext
from fedtrade.coordinator.config import NodeEntry
from fedtrade.coordinator.linkage import (
    LINKAGE_QUERY,
    Question,
    Totals,
    ask_totals,
    split_reasons,
    totals_questions,
    windows,
)
from fedtrade.coordinator.manifest import Batch, SplitRule, scan_manifest
from fedtrade.coordinator.masks import TypedColumn, WirePart, from_wire, wire_part
from fedtrade.coordinator.memory import trim_freed_memory
from fedtrade.coordinator.results import (
    UNDERVALUATION,
    BudgetPoint,
    NodeStats,
    ResultBatch,
    ScreeningSummary,
    ShipmentResult,
    manifest_only_patterns,
)
from fedtrade.coordinator.risk import (
    INDICATOR_QUERY,
    SPLIT_PATTERN,
    RiskRules,
    assess_columns,
    worklist_positions,
)
from fedtrade.protocol.rates import RateTable
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import PyValue, table_value
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import DataError, FedtradeError, RemoteError, VerificationError

__all__ = ["BUDGET_SHARES", "LINKAGE_QUERY", "TOP_SHIPMENTS", "budget_curve", "screen_manifest"]

# Inspection budgets the report's curve shows: 1 % to 10 %, then 15 % and 20 %.
BUDGET_SHARES = (*(k / 100 for k in range(1, 11)), 0.15, 0.20)
TOP_SHIPMENTS = 50
_POLL_SECONDS = 0.05

Columns = Mapping[str, list[PyValue]]
Ints = npt.NDArray[np.int64]
Ints32 = npt.NDArray[np.int32]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Answer:
    """One node's answers about one batch: indicator columns and seconds (or why none),
    and the consignee totals."""

    columns: Columns | None
    seconds: float
    error: FedtradeError | None
    totals: Totals
    # the columns the rules read, prepared from the wire
    typed: Mapping[str, TypedColumn] = field(default_factory=dict)


# a batch in flight and each asked node's answers to come
_InFlight = tuple[Batch, dict[str, "Future[_Answer]"]]


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


def _ask_node(
    coordinator: Coordinator, node_id: str, batch: Batch, shipments: query_pb2.Value,
    context: QueryContext, blocks: Sequence[Envelope], questions: Sequence[Question],
) -> _Answer:
    """Ask one node about one batch (``shipments``: its house bills as the question's
    table, made once for every node): its indicators, then its consignee totals."""
    started = time.monotonic()
    typed: Mapping[str, TypedColumn] = {}
    try:
        columns: Columns | None
        columns, typed = _indicators(coordinator, node_id, batch, shipments, context, blocks)
        error = None
    except FedtradeError as exc:
        columns, error = None, exc
    seconds = time.monotonic() - started
    return _Answer(columns, seconds, error,
                   ask_totals(coordinator, node_id, questions, context, blocks), typed)


def _indicators(
    coordinator: Coordinator, node_id: str, batch: Batch, shipments: query_pb2.Value,
    context: QueryContext, blocks: Sequence[Envelope],
) -> tuple[Columns, dict[str, TypedColumn]]:
    """The node's answer columns, and those the rules read prepared from the wire."""
    chunks = coordinator.screen(node_id, INDICATOR_QUERY, {"shipments": shipments}, context,
                                attestations=blocks)
    read = coordinator.config.risk.fields_for(coordinator.config.nodes[node_id].role)
    columns: dict[str, list[PyValue]] = {}
    parts: dict[str, list[WirePart]] = {}
    for chunk in chunks:
        table = decode_table(chunk.table)
        for name, values in table.columns.items():
            columns.setdefault(name, []).extend(values)
        for column in chunk.table.columns:
            if column.name in read:
                parts.setdefault(column.name, []).append(wire_part(column, table.row_count))
    if columns.get("house_bill") != batch.house_bill:
        raise VerificationError(
            f"{node_id} answered for other shipments than asked, or in another order; "
            "its answer is not used"
        )
    return columns, {name: from_wire(columns[name], found) for name, found in parts.items()}


@dataclass
class _Worklist:
    """The shipments of one worklist (score above 0) in manifest order, batch by batch:
    each one's score and whether the nodes' answers flag it. Unscored shipments are never
    opened, so the budget curve needs nothing of them (a few bytes per scored shipment,
    none per other)."""

    scores: list[Ints32] = field(default_factory=list)
    flagged: list[Flags] = field(default_factory=list)

    def add(self, scores: Ints | Ints32, flagged: Flags) -> None:
        scored = scores > 0
        self.scores.append(scores[scored].astype(np.int32))
        self.flagged.append(flagged[scored])

    def opened(self, slots: Sequence[int]) -> list[int]:
        """Per number of slots: flagged shipments among that many at the top."""
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0, np.int32)
        flagged = np.concatenate(self.flagged) if self.flagged else np.zeros(0, bool)
        order = worklist_positions(scores)
        return [int(flagged[order[:n]].sum()) for n in slots]


@dataclass
class _Tally:
    rules: RiskRules
    by_level: Counter[str] = field(default_factory=Counter)
    by_pattern: Counter[str] = field(default_factory=Counter)
    baseline: Counter[str] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)
    top: list[tuple[int, int, ShipmentResult]] = field(default_factory=list)
    count: int = 0
    # the budget curve's worklists: the federation's and the manifest alone's
    federation: _Worklist = field(default_factory=_Worklist)
    manifest_only: _Worklist = field(default_factory=_Worklist)

    def add(self, batch: ResultBatch) -> None:
        size = len(batch)
        distinct = batch.assessed.distinct
        # per assessment, per manifest-only outcome (0 to 3): how many shipments have both
        counts = np.bincount(batch.assessed.code * 4 + batch.manifest_only_code,
                             minlength=4 * len(distinct)).reshape(-1, 4).tolist()
        self.by_level[distinct[0].level] += 0  # listed even where every shipment met a rule
        for found, by_outcome in zip(distinct, counts, strict=True):
            shipments = sum(by_outcome)
            if not shipments:
                continue
            self.by_level[found.level] += shipments
            for pattern in found.patterns:
                self.by_pattern[pattern] += shipments
            for outcome, count in enumerate(by_outcome):
                if count and found.patterns:
                    baseline = manifest_only_patterns(bool(outcome & 1), bool(outcome & 2))
                    for pattern in set(baseline) & set(found.patterns):
                        self.confirmed[pattern] += count
        flagged = np.array([bool(found.patterns) for found in distinct])[batch.assessed.code]
        self.baseline[UNDERVALUATION] += int(batch.low_value.sum())
        self.baseline[SPLIT_PATTERN] += int(batch.manifest_split.sum())
        weight = self.rules.manifest_only_score
        self.federation.add(batch.score, flagged)
        self.manifest_only.add(weight([UNDERVALUATION]) * batch.low_value.astype(np.int64)
                               + weight([SPLIT_PATTERN]) * batch.manifest_split, flagged)
        # the batch's best: highest score first, ties in manifest order
        for index in np.lexsort((np.arange(size), -batch.score))[:TOP_SHIPMENTS].tolist():
            item = (int(batch.score[index]), -(self.count + index + 1), batch.result(index))
            if len(self.top) < TOP_SHIPMENTS:
                heapq.heappush(self.top, item)
            elif item > self.top[0]:
                heapq.heapreplace(self.top, item)
            else:
                break
        self.count += size

    def curve(self) -> tuple[BudgetPoint, ...]:
        return _curve(self.count, self.federation, self.manifest_only, BUDGET_SHARES)


def _curve(shipments: int, federation: _Worklist, manifest_only: _Worklist,
           shares: Sequence[float]) -> tuple[BudgetPoint, ...]:
    slots = [math.ceil(share * shipments) for share in shares]
    return tuple(BudgetPoint(*point) for point in zip(
        shares, slots, federation.opened(slots), manifest_only.opened(slots), strict=True))


class _Clock:
    """The coordinator's own seconds per phase of the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def budget_curve(scores: Sequence[int] | Ints | Ints32, baseline: Sequence[int] | Ints | Ints32,
                 flagged: Sequence[int] | Flags,
                 shares: Sequence[float] = BUDGET_SHARES) -> tuple[BudgetPoint, ...]:
    """Per budget share: flagged shipments among the top of each worklist (score > 0 only,
    highest first, ties in manifest order)."""
    found = np.asarray(flagged, bool)
    federation, manifest_only = _Worklist(), _Worklist()
    federation.add(np.asarray(scores), found)
    manifest_only.add(np.asarray(baseline), found)
    return _curve(len(found), federation, manifest_only, shares)


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
    emit: Callable[[ResultBatch], None],
    *,
    progress: bool = False,
    rates_file: Path | None = None,
    quarantine: Path | None = None,
    attestations: Path,
    attestations_wait: float = 0.0,
    dispositions: IO[str] | None = None,
) -> ScreeningSummary:
    """Screen every shipment of ``manifest``; ``emit`` receives the results batch by batch,
    in manifest order.

    ``attestations`` is the filer's signed blocks of the manifest (every row must be in
    one); it may appear while the manifest is validated, up to ``attestations_wait``
    seconds after (written elsewhere and moved in whole). ``rates_file`` adds dated
    currency rates to the config's; ``quarantine`` writes the manifest's bad rows there
    and screens the rest (default: a bad row refuses it all).
    With an AEO green lane configured, ``dispositions`` receives the shipments it takes
    out of review (``coordinator.green_lane``).
    """
    config = coordinator.config
    settings = config.screening
    started = datetime.now(UTC)
    clock = _Clock()
    rules = config.risk
    with clock.phase("read and validate the manifest"):
        rates = RateTable.constant(config.currency_per_usd)
        if rates_file is not None:
            rates.load(rates_file)
        scan = scan_manifest(manifest, rates, quarantine, SplitRule(
            rules.split_threshold_usd, rules.split_window_days, rules.forwarding_addresses))
    with clock.phase("wait for the attestations"):
        _await_file(attestations, attestations_wait)
    with clock.phase("check the attestations"):
        attested = load_attested(attestations, config.nodes)
        block_of_row = attested.blocks_of(scan.house_bills)  # each batch's blocks too
        outside = np.flatnonzero(block_of_row < 0)
    if len(outside):
        raise DataError(
            f"{manifest}: {len(outside)} shipment(s) are in no block of {attestations} (first: "
            f"{scan.house_bills[int(outside[0])]}); nothing was sent — ask the filer to attest "
            "the manifest as filed")
    trim_freed_memory()  # what reading left between the columns kept
    lane = open_green_lane(coordinator, context, attested, str(manifest), dispositions)
    runs = {node_id: _NodeRun(entry) for node_id, entry in sorted(config.nodes.items())}
    roles = {node_id: run.entry.role for node_id, run in runs.items()}
    ranges = windows(scan.first_day, scan.last_day, rules.split_window_days) \
        if rules.split_threshold_usd > 0 else []
    tally = _Tally(config.risk)
    workers = max(4, len(runs) * settings.in_flight_batches)

    def totals_failed(node_id: str, exc: FedtradeError) -> None:
        runs[node_id].failure(f"consignee totals: {_reason(exc)}",
                              settings.max_consecutive_failures)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="screen") as pool, \
            _progress(progress, scan.rows, list(runs)) as advance:
        pending: deque[_InFlight] = deque()

        def finish_oldest() -> None:
            trim_freed_memory()  # the batch before's answers, among those still in flight
            batch, futures = pending.popleft()
            answers: dict[str, Columns] = {}
            prepared: dict[tuple[str, str], TypedColumn] = {}
            missing: dict[str, str] = {}
            with clock.phase("wait for the nodes"):
                replies = {node_id: future.result() for node_id, future in futures.items()}
            with clock.phase("split shipments"):
                splits = split_reasons(coordinator, scan, batch,
                                       {n: reply.totals for n, reply in replies.items()},
                                       roles, totals_failed)
            for node_id, run in runs.items():
                reply = replies.get(node_id)
                if reply is None:
                    missing[node_id] = run.down or "not asked"
                    continue
                if reply.columns is None:
                    assert reply.error is not None
                    missing[node_id] = _reason(reply.error)
                    run.failure(missing[node_id], settings.max_consecutive_failures)
                    continue
                answers[node_id] = reply.columns
                prepared.update(((node_id, name), column) for name, column in reply.typed.items())
                run.answered += 1
                run.consecutive_failures = 0
                run.seconds.append(reply.seconds)
                advance(node_id, len(batch.house_bill))
            with clock.phase("assess"):
                results = _results(coordinator, runs, answers, missing, splits, batch,
                                   started.date(), prepared)
                tally.add(results)
            with clock.phase("write the results"):
                emit(results)
            if lane is not None:
                lane.observe_batch(results, {n: c["known"] for n, c in answers.items()},
                                   complete=not missing)
            advance("shipments", len(batch.house_bill))

        for batch in scan.batches(settings.batch_size):
            with clock.phase("send"):
                blocks = attested.read(np.unique(
                    block_of_row[batch.start : batch.start + len(batch.house_bill)]).tolist())
                questions = totals_questions(coordinator, batch, ranges)
                shipments = table_value({"house_bill": batch.house_bill})
                futures = {node_id: pool.submit(_ask_node, coordinator, node_id, batch,
                                                shipments, context, blocks, questions)
                           for node_id, run in runs.items() if run.down is None}
            pending.append((batch, futures))
            if len(pending) >= settings.in_flight_batches:
                finish_oldest()
        while pending:
            finish_oldest()
    with clock.phase("summary"):
        curve = tally.curve()
    return ScreeningSummary(
        manifest=str(manifest), purpose=context.purpose, case_id=context.case_id,
        started_at=started, finished_at=datetime.now(UTC), shipments=tally.count,
        by_level=dict(tally.by_level), by_pattern=dict(tally.by_pattern),
        top=[item[2] for item in sorted(tally.top, reverse=True)],
        nodes=[run.stats() for run in runs.values()],
        manifest_only_by_pattern=dict(tally.baseline),
        manifest_only_confirmed=dict(tally.confirmed),
        budget_curve=curve,
        phase_seconds=dict(clock.seconds),
        green_lane=lane.summary() if lane is not None else None,
    )


def _await_file(path: Path, seconds: float) -> None:
    """Return once ``path`` exists, or after ``seconds`` (then reading it says what is wrong).

    The filer's blocks can be signed while the coordinator validates the manifest (both
    need only the manifest): nothing is asked before they are here and checked."""
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)


def _results(
    coordinator: Coordinator, runs: Mapping[str, _NodeRun],
    answers: Mapping[str, Columns], missing: Mapping[str, str],
    splits: Mapping[int, str], batch: Batch, today: date,
    prepared: Mapping[tuple[str, str], TypedColumn] | None = None,
) -> ResultBatch:
    """Disposition of a batch: the nodes' answers, split and entry-gap reasons weighed
    into scores, levels and reasons."""
    rules = coordinator.config.risk
    brokers = sorted(n for n in answers if runs[n].entry.role == "broker")
    gaps = rules.entry_gap.gaps(
        [answers[n]["known"] for n in brokers], "+".join(brokers),
        batch.declared_value_usd, batch.arrival_day, today)
    assessed = assess_columns(
        rules,
        {node_id: (runs[node_id].entry.role, columns) for node_id, columns in answers.items()},
        len(batch.house_bill), splits, gaps, prepared)
    return ResultBatch(
        house_bill=batch.house_bill, low_value=batch.low_value,
        manifest_split=batch.manifest_split, answered_by=tuple(answers),
        no_answer=tuple(f"no answer from {node} ({reason})" for node, reason in missing.items()),
        assessed=assessed,
    )
