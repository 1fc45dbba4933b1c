"""A stakeholder's data-sharing scorecard, computed only from the coordinator's evidence.

Nothing is self-reported: every figure comes from the signed queries the
coordinator sent, the signed answers it kept (``coordinator.evidence``) and the
questions it recorded as unanswered. Per node and period (a calendar month of
the queries' issue time, UTC):

- availability: questions answered / questions answered or left unanswered for
  want of the node (down, past the deadline, an answer that does not verify);
  a refusal the node's policy gives (``REFUSAL_CODES``) is not unavailability
  and is counted under refusals only;
- coverage: attested manifest lines the node knows / lines asked about; for a
  filer, over the lines it attested itself (it must know all of them);
- timeliness: known lines whose answer was produced before the line's arrival
  day (00:00 UTC) / known lines;
- consistency: per shipment two nodes both answered an HS match depth for,
  whether the depths agree, over all such pairs the node is part of;
- integrity: every stored answer of the node verifies against its key and its
  audit checkpoints contradict neither each other nor its log (no gap);
- refusals: unanswered questions by gRPC status or error kind (both kinds).

The tiers of ``aeo.tiers`` are checked against the figures: the scorecard
names the highest tier the evidence supports and, per tier, what falls short.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from fedtrade.coordinator.aeo_config import MEASURES, AeoSettings, TierCriteria
from fedtrade.coordinator.config import CoordinatorConfig
from fedtrade.coordinator.evidence import EvidenceStore, verify_evidence
from fedtrade.coordinator.risk import INDICATOR_QUERY
from fedtrade.protocol.aeo import CertificateError, check_certificate
from fedtrade.protocol.catalogue import DESCRIBE
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import parse_payload, to_datetime
from fedtrade.protos import attestation_pb2, query_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import DataError, FedtradeError

__all__ = ["REFUSAL_CODES", "compute_scorecards", "period_bounds"]

# gRPC statuses of a node refusing by policy (authorization, limits, a bad question): the
# node was there and said no, which availability does not count against it.
REFUSAL_CODES = frozenset({"PERMISSION_DENIED", "UNAUTHENTICATED", "INVALID_ARGUMENT",
                           "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED"})

_HS_DEPTH = "hs_match_depth"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month ``YYYY-MM``, UTC."""
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise DataError(f"period {period!r} is not a month such as 2026-11") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return start, end


@dataclass
class _Day:
    asked: int = 0
    answered: int = 0
    lines: int = 0
    known: int = 0
    own_lines: int = 0
    own_known: int = 0
    timely: int = 0
    compared: int = 0
    agreed: int = 0
    refusals: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Day) -> None:
        for name in ("asked", "answered", "lines", "known", "own_lines", "own_known", "timely",
                     "compared", "agreed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.refusals.update(other.refusals)

    def ratios(self) -> dict[str, tuple[int, int]]:
        """measure -> (numerator, denominator)."""
        own = (self.own_known, self.own_lines)
        coverage = own if self.own_lines else (self.known, self.lines)
        return {"availability": (self.answered, self.asked), "coverage": coverage,
                "timeliness": (self.timely, self.known),
                "consistency": (self.agreed, self.compared)}


@dataclass
class _Collected:
    days: dict[str, dict[str, _Day]] = field(default_factory=lambda: defaultdict(dict))
    # house bill -> node -> (HS match depth, day of the answer)
    depths: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    query_ids: set[str] = field(default_factory=set)

    def day(self, node_id: str, day: str) -> _Day:
        return self.days[node_id].setdefault(day, _Day())


def _query(request: Envelope) -> query_pb2.Query:
    return parse_payload(query_pb2.Query, request.payload)


def _issued(request: Envelope | None) -> tuple[query_pb2.Query, datetime] | None:
    """The question and when it was issued; None if a damaged store cannot tell."""
    if request is None:
        return None
    try:
        query = _query(request)
        return query, to_datetime(query.issued_at)
    except (FedtradeError, ValueError, OverflowError):  # not a query, a time out of range
        return None


def _lines(query: query_pb2.Query) -> dict[str, tuple[str, str]]:
    """house bill -> (filer id, arrival date) over the blocks the question carried."""
    lines = {}
    for block in query.attestations:
        message = parse_payload(attestation_pb2.ManifestBlock, block.payload)
        for line in message.lines:
            lines[line.house_bill] = (message.filer_id, line.arrival_date)
    return lines


def _indicators(collected: _Collected, node_id: str, day: _Day, day_name: str,
                query: query_pb2.Query, responses: Sequence[Envelope]) -> None:
    lines = _lines(query)
    for response in responses:
        chunk = parse_payload(query_pb2.AnswerChunk, response.payload)
        produced = to_datetime(chunk.produced_at)
        columns = decode_table(chunk.table).columns
        depths = columns.get(_HS_DEPTH)
        for index, (bill, known) in enumerate(zip(columns["house_bill"], columns["known"],
                                                  strict=True)):
            filer, arrival = lines.get(str(bill), ("", "9999-12-31"))
            day.lines += 1
            day.known += known is True
            if filer == node_id:
                day.own_lines += 1
                day.own_known += known is True
            if known is not True:
                continue
            day.timely += produced < datetime.fromisoformat(arrival).replace(tzinfo=UTC)
            depth = depths[index] if depths is not None else None
            if isinstance(depth, int):
                collected.depths.setdefault(str(bill), {})[node_id] = (depth, day_name)


def _collect(store: EvidenceStore, start: datetime, end: datetime,
             unverified: set[tuple[str, str]]) -> _Collected:
    """The figures of the answers that verify (``unverified``: (query id, node id) of those
    that do not, which count under integrity only)."""
    collected = _Collected()
    # rows come ordered by query id and node: one answer, or one chunk stream, at a time
    for (query_id, node_id), group in groupby(store.rows(), key=lambda row: (row[2], row[1])):
        rows = list(group)
        asked = _issued(rows[0][5])
        in_period = asked is not None and start <= asked[1] < end \
            and asked[0].query_name != DESCRIBE
        if (query_id, node_id) in unverified:
            if asked is None or in_period:  # its problem counts (when unreadable: always)
                collected.query_ids.add(query_id)
            continue
        if asked is None or not in_period:
            continue
        query, issued = asked
        collected.query_ids.add(query_id)
        day_name = issued.date().isoformat()
        day = collected.day(node_id, day_name)
        day.asked += 1
        day.answered += 1
        if query.query_name == INDICATOR_QUERY:
            _indicators(collected, node_id, day, day_name, query,
                        [row[6] for row in rows if row[6] is not None])  # all: it verified
    for node_id, query_name, request, code in store.unanswered_rows():
        unanswered = _issued(request)
        if unanswered is None:
            raise DataError(f"the evidence store holds a question {node_id} left unanswered "
                            f"({query_name}) that is not a signed query: the store was "
                            "altered or damaged; restore it from a backup")
        _, issued = unanswered
        if start <= issued < end and query_name != DESCRIBE:
            day = collected.day(node_id, issued.date().isoformat())
            day.asked += code not in REFUSAL_CODES
            day.refusals[code] += 1
    for by_node in collected.depths.values():
        for node_id, (depth, day_name) in by_node.items():
            others = [d for other, (d, _) in by_node.items() if other != node_id]
            day = collected.day(node_id, day_name)
            day.compared += len(others)
            day.agreed += sum(1 for d in others if d == depth)
    return collected


def _measure(ratio: tuple[int, int]) -> dict[str, Any]:
    numerator, denominator = ratio
    value = round(numerator / denominator, 6) if denominator else None
    return {"value": value, "numerator": numerator, "denominator": denominator}


def _shortfalls(tier: TierCriteria, measures: Mapping[str, Mapping[str, Any]],
                integrity_ok: bool, answered: int) -> list[str]:
    short = []
    if answered < tier.min_questions:
        short.append(f"{answered} question(s) answered, fewer than the {tier.min_questions} "
                     "needed for the evidence to count")
    for measure in MEASURES:
        least = tier.minimum.get(measure)
        value = measures[measure]["value"]
        if least is None:
            continue
        if value is None:
            short.append(f"{measure}: no evidence in the period (needs {least:g})")
        elif value < least:
            short.append(f"{measure} {value:.3f} is below {least:g}")
    if tier.integrity and not integrity_ok:
        short.append("integrity: some of its evidence does not verify or its audit "
                     "checkpoints show a gap")
    return short


def _certificate(settings: AeoSettings, node_id: str, role: str, at: datetime
                 ) -> dict[str, Any] | None:
    """The node's certificate in the authority's register that counts at ``at``, if any."""
    for certificate in reversed(settings.register.certificates):
        if certificate.node_id != node_id:
            continue
        try:
            check_certificate(certificate.envelope, settings.authority, node_id=node_id,
                              role=role, at=at, register=settings.register)
        except CertificateError:
            continue
        return {"certificate_id": certificate.certificate_id, "tier": certificate.tier,
                "valid_until": certificate.valid_until.isoformat()}
    return None


def _node_card(node_id: str, role: str, days: Mapping[str, _Day], problems: Iterable[str],
               settings: AeoSettings, end: datetime) -> dict[str, Any]:
    total = _Day()
    for day in days.values():
        total.add(day)
    measures = {name: _measure(ratio) for name, ratio in total.ratios().items()}
    problem_list = sorted(set(problems))
    tiers = [{"name": tier.name, "shortfalls": _shortfalls(tier, measures, not problem_list,
                                                          total.answered)}
             for tier in settings.tiers]
    supported = [t["name"] for t in tiers if not t["shortfalls"]]
    return {
        "node_id": node_id, "role": role,
        "certificate": _certificate(settings, node_id, role, min(end, datetime.now(UTC))),
        "questions": {"asked": total.asked, "answered": total.answered,
                      "refused": sum(total.refusals[c] for c in REFUSAL_CODES)},
        "measures": measures,
        "integrity": {"ok": not problem_list, "problems": problem_list[:20],
                      "problem_count": len(problem_list)},
        "refusals": dict(sorted(total.refusals.items())),
        "daily": [{"day": name, **{m: _measure(r)["value"] for m, r in day.ratios().items()}}
                  for name, day in sorted(days.items())],
        "tiers": tiers,
        "supported_tier": supported[-1] if supported else None,
    }


def compute_scorecards(
    config: CoordinatorConfig, store: EvidenceStore, period: str, node_id: str | None = None,
) -> dict[str, Any]:
    """The scorecard document for ``period`` (all configured nodes, or ``node_id``)."""
    settings = config.aeo
    if settings is None:
        raise DataError("the coordinator config has no aeo section: tiers are not defined")
    if node_id is not None:
        config.node(node_id)  # a ConfigError naming the configured nodes
    start, end = period_bounds(period)
    _, problems = verify_evidence(store, {n.id: n.public_key for n in config.nodes.values()})
    collected = _collect(store, start, end, {(p.query_id, p.node_id) for p in problems})
    by_node: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        if not problem.query_id or problem.query_id in collected.query_ids:
            by_node[problem.node_id].append(problem.problem)
    nodes = [
        _node_card(entry.id, entry.role, collected.days.get(entry.id, {}), by_node[entry.id],
                   settings, end)
        for entry in sorted(config.nodes.values(), key=lambda e: e.id)
        if node_id in (None, entry.id)
    ]
    return {
        "kind": "fedtrade AEO data-sharing scorecard", "version": 1,
        "coordinator": config.requester_id, "period": period,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "period_start": start.isoformat(), "period_end": end.isoformat(),
        "tiers": [{"name": t.name, "minimum": t.minimum, "integrity": t.integrity,
                   "min_questions": t.min_questions} for t in settings.tiers],
        "nodes": nodes,
    }

