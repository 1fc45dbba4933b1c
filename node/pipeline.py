"""What a node does with a signed request, as plain functions.

For every request, in this order: verify the signature against the trusted
requester keys, parse only the verified bytes, check the claimed requester
and that the TLS client certificate may speak for it, charge the question to
the requester's rate limit (describe and refusals count too), check the
audience and the validity window, check approvers' co-signatures where the
trust config asks for them (four eyes), refuse a query id ever answered
before, authorize the query and purpose, validate parameters, charge its
shipments, check the attestation (every house bill asked about must be in a
manifest block signed by a trusted filer; reference values come from there:
``node.attestation``; a consignee question naming no house bills is about
every attested line, and charged for them), execute on a read-only
connection, sign the answer bound to the digest of the request payload, with
the node's latest signed audit checkpoint in it, and watch for enumeration
(``node.enumeration``).
The verified payload's text fields and timestamps are checked against their
limits before anything is copied or echoed. Every authenticated request,
answered or refused, leaves one audit entry; refusals before authentication
are counted per peer and audited in aggregate (see ``_audited``).

Aggregate queries (differential privacy, ``_release_aggregate``) add three
steps: budget (the answer already released for an identical query, or a
refusal when the requester's budget cannot pay), noise (the query runs and
``node.disclosure`` adds OpenDP noise to the bounded contributions), and
debit (the ledger entry, the cached answer and the audit entry in one
transaction, before the signed answer leaves the node).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import operator
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar, cast

from fedtrade.node import privacy_ledger
from fedtrade.node.attestation import Attestation, verify_attestations
from fedtrade.node.audit import AuditEntry
from fedtrade.node.catalogue import RUNS
from fedtrade.node.config import NodeConfig, QueryGrant, Requester
from fedtrade.node.logs import RequestLog
from fedtrade.node.payload import check_query_payload
from fedtrade.node.peers import current_peer, current_peer_identities
from fedtrade.node.queries.spec import Execution, ResultTable
from fedtrade.node.sqlconn import SqlConn
from fedtrade.node.state import NodeState
from fedtrade.node.status import status_for
from fedtrade.protocol.catalogue import CATALOGUE, DESCRIBE
from fedtrade.protocol.limits import CHUNK_ROWS
from fedtrade.protocol.params import validate_params
from fedtrade.protocol.tables import ColumnRows, encode_rows
from fedtrade.protocol.wire import (
    PAYLOAD_ANSWER,
    PAYLOAD_CHUNK,
    PAYLOAD_QUERY,
    PyValue,
    digest,
    envelope_from_proto,
    envelope_to_proto,
    from_value,
    parse_payload,
)
from fedtrade.protos import envelope_pb2, query_pb2
from fedtrade.trust.envelope import Envelope, sign, verify_threshold
from fedtrade.trust.errors import (
    AudienceError,
    AuthorizationError,
    FedtradeError,
    FreshnessError,
    MalformedRequestError,
    UnknownKeyError,
)

__all__ = ["CHUNK_ROWS", "answer_describe", "answer_query", "answer_screen"]

_UNVERIFIED = "(unverified)"
request_log = RequestLog(logging.getLogger("fedtrade.node.requests"))
T = TypeVar("T")


@dataclass(slots=True)
class _Trace:
    """What the audit entry for this request will say, filled in as facts are verified."""

    query_id: str = ""
    requester: str = _UNVERIFIED
    purpose: str = ""
    case_id: str = ""
    query_name: str = ""
    param_digest: str = ""
    seen: str | None = None  # the reserved query id, persisted with the audit entry
    rows: int = 0
    recorded: bool = False  # the answer's audit entry is already committed (aggregates)

    def entry(self, decision: str, reason: str, answer_digest: str = "") -> AuditEntry:
        return AuditEntry(
            recorded_at=datetime.now(UTC).isoformat(timespec="microseconds"),
            query_id=self.query_id,
            requester=self.requester,
            purpose=self.purpose,
            case_id=self.case_id,
            query_name=self.query_name,
            param_digest=self.param_digest,
            answer_digest=answer_digest,
            decision=decision,
            reason=reason,
        )


@dataclass(frozen=True)
class _Accepted:
    config: NodeConfig  # the config in force when the request arrived, used throughout
    query: query_pb2.Query
    request_digest: bytes
    requester: Requester
    grant: QueryGrant | None  # None for describe
    params: dict[str, PyValue]
    attestation: bytes  # digest of the attested blocks the question carries (b"" if none)


def _identify(
    config: NodeConfig, envelope: Envelope, trace: _Trace, now: float
) -> tuple[query_pb2.Query, Requester]:
    listed = config.requester_keys
    moment = datetime.fromtimestamp(now, UTC)
    usable = {}
    for envelope_signature in envelope.signatures:
        entry = listed.get(envelope_signature.key_id)
        if entry is None:
            continue
        problem = entry[1].problem_at(moment)
        if problem is not None:
            raise UnknownKeyError(
                f"key {envelope_signature.key_id[:16]}… of requester {entry[0].id!r} {problem}; "
                "sign with a current key"
            )
        usable[envelope_signature.key_id] = entry[1].key
    verified = verify_threshold(envelope, usable, payload_type=PAYLOAD_QUERY)
    requesters = {listed[kid][0].id: listed[kid][0] for kid in verified.signers}
    if len(requesters) != 1:
        raise UnknownKeyError(
            f"the query is signed by keys of several requesters ({', '.join(sorted(requesters))}); "
            "a query must be signed by one requester"
        )
    (requester,) = requesters.values()
    trace.requester = requester.id
    if config.tls is not None:
        _check_tls_identity(requester)
    query = parse_payload(query_pb2.Query, verified.payload)
    check_query_payload(query)  # before any of its text is copied or echoed
    trace.query_id = query.query_id.hex()
    trace.purpose, trace.case_id, trace.query_name = query.purpose, query.case_id, query.query_name
    if query.requester_id != requester.id:
        raise UnknownKeyError(
            f"the query claims requester {query.requester_id!r} but is signed by a key of "
            f"{requester.id!r}; sign with the requester's own key"
        )
    return query, requester


def _check_tls_identity(requester: Requester) -> None:
    """The TLS client must be one the trust config lets speak for the signing requester."""
    presented = current_peer_identities()
    if presented.isdisjoint(requester.tls_identities):
        shown = ", ".join(sorted(name[:64] for name in presented)[:3]) or "no name"
        raise AuthorizationError(
            f"the query is signed by requester {requester.id!r} but arrived over a TLS "
            f"connection whose certificate names {shown}; this node accepts {requester.id!r} "
            f"only from {', '.join(sorted(requester.tls_identities))} (tls_identities in its "
            "trust config)"
        )


def _check_window(config: NodeConfig, query: query_pb2.Query, now: float) -> None:
    fresh = config.freshness
    issued, expires = (
        query.issued_at.ToMicroseconds() / 1e6,
        query.expires_at.ToMicroseconds() / 1e6,
    )
    if expires <= issued:
        raise MalformedRequestError("the query expires before it was issued")
    if expires - issued > fresh.max_ttl_seconds:
        raise FreshnessError(
            f"the query is valid for {expires - issued:.0f} s; this node accepts at most "
            f"{fresh.max_ttl_seconds} s — issue queries with a shorter lifetime"
        )
    if issued > now + fresh.clock_skew_seconds:
        raise FreshnessError(
            f"the query is not valid yet (issued {issued - now:.0f} s in the future); "
            "check the requester's clock"
        )
    if now > expires + fresh.clock_skew_seconds:
        raise FreshnessError(f"the query expired {now - expires:.0f} s ago; send a new query")


def _authorize(
    state: NodeState, requester: Requester, query: query_pb2.Query, params: dict[str, PyValue]
) -> tuple[QueryGrant, dict[str, PyValue]]:
    grant = requester.grants.get(query.query_name)
    if grant is None:
        raise AuthorizationError(
            f"requester {requester.id!r} may not run query {query.query_name!r} on this node; "
            f"it may run: {', '.join(sorted(requester.grants)) or 'nothing'}"
        )
    if query.purpose not in grant.purposes:
        raise AuthorizationError(
            f"query {query.query_name!r} is not allowed for purpose {query.purpose!r}; "
            f"allowed purposes: {', '.join(sorted(grant.purposes))}"
        )
    spec = CATALOGUE[query.query_name]
    params = validate_params(spec, params)
    _charge_batch(state, requester, spec.batch_size(params))
    return grant, params


def _charge_batch(state: NodeState, requester: Requester, size: int) -> None:
    if size > requester.max_batch:
        raise MalformedRequestError(
            f"a batch of {size} shipments exceeds this requester's max_batch of "
            f"{requester.max_batch}; split it into smaller batches"
        )
    state.rate_limiter.charge_shipments(requester.id, requester.rate_limit, size)


def _asked_bills(params: dict[str, PyValue]) -> list[str]:
    """The house bills a question names (its batch, or the bills to place in groups)."""
    value = params.get("shipments", params.get("house_bills"))
    bills = value["house_bill"] if isinstance(value, dict) else value
    if not isinstance(bills, list):
        return []
    # validated: every house bill parameter is a list of texts (a value of another type
    # would be in no attested block, and the question refused)
    return cast(list[str], bills)


def _attest(
    state: NodeState, config: NodeConfig, requester: Requester, query: query_pb2.Query,
    params: dict[str, PyValue], now: float,
) -> tuple[dict[str, PyValue], bytes]:
    """Check the question's attestation; the batch's reference values come from it, and a
    linkage question naming no house bills is about every attested line (charged here)."""
    spec = CATALOGUE.get(query.query_name)
    if spec is None or spec.disclosure == "aggregate":
        if query.attestations:
            raise MalformedRequestError(
                f"{query.query_name!r} is not about manifest lines; send it without attestations")
        return params, b""
    attestation: Attestation = verify_attestations(
        [envelope_from_proto(block) for block in query.attestations],
        config.filer_keys,
        (config.node_id, state.signing_key.public_key),
        now,
        config.freshness.clock_skew_seconds,
        cache=state.attested,
        requester=requester.id,
    )
    if spec.disclosure == "linkage" and "house_bills" not in params:
        params = {**params, "house_bills": sorted(attestation.lines)}
        _charge_batch(state, requester, len(attestation.lines))
    attestation.require(_asked_bills(params))
    batch = params.get("shipments")
    if isinstance(batch, dict):
        declared, hs6 = attestation.reference(batch["house_bill"],
                                              config.settings.currency_per_usd)
        params = {**params, "shipments": {"house_bill": batch["house_bill"],
                                          "declared_value_usd": declared, "hs6": hs6}}
    return params, attestation.digest


def _check_approvals(envelope: Envelope, requester: Requester, query: query_pb2.Query) -> None:
    """Four eyes: enough distinct approvers co-signed a query the trust config marks."""
    approval = requester.approval
    if approval is None or not approval.applies(query.query_name, query.purpose):
        return
    try:
        signed = len(verify_threshold(envelope, approval.approvers,
                                      payload_type=PAYLOAD_QUERY).signers)
    except UnknownKeyError:  # no approver signed at all
        signed = 0
    if signed < approval.required:
        raise AuthorizationError(
            f"query {query.query_name!r} for purpose {query.purpose!r} needs {approval.required} "
            f"of {len(approval.approvers)} approvers of {requester.id!r} to sign; {signed} of "
            f"{len(approval.approvers)} signed — have more approvers run `fedtrade approve`"
        )


def _param_digest(query: query_pb2.Query) -> str:
    """What the audit entry names: the parameters and the attested blocks (the filer's lines),
    as the SHA-256 of ``Query(params=..., attestations=...)`` serialized deterministically.

    Hashed as the two fields' serializations one after the other (a message's encoding is
    its fields' in field number order): the same bytes, without protobuf serializing the
    two together, which costs several times more for a table of thousands of house bills."""
    hashed = hashlib.sha256(query_pb2.Query(params=query.params)
                            .SerializeToString(deterministic=True))
    hashed.update(query_pb2.Query(attestations=query.attestations)
                  .SerializeToString(deterministic=True))
    return hashed.hexdigest()


def _accept(state: NodeState, envelope: Envelope, trace: _Trace, *, describe: bool) -> _Accepted:
    config = state.config
    now = state.clock()
    query, requester = _identify(config, envelope, trace, now)
    state.rate_limiter.charge_query(requester.id, requester.rate_limit)
    if query.audience != config.node_id:
        raise AudienceError(
            f"the query is addressed to {query.audience!r}, this node is "
            f"{config.node_id!r}; send it to the node it names"
        )
    if len(query.query_id) != 16:
        raise MalformedRequestError("the query id must be 16 random bytes")
    _check_window(config, query, now)
    # before the query id is used up, so a query short of approvals can collect more and return
    _check_approvals(envelope, requester, query)
    params = {name: from_value(v) for name, v in query.params.items()}
    trace.param_digest = _param_digest(query)
    state.store.reserve_query_id(trace.query_id)
    trace.seen = trace.query_id
    if describe != (query.query_name == DESCRIBE):
        raise MalformedRequestError(
            "use the Describe call for the 'describe' query and the Query call for all others"
        )
    grant = None
    if not describe:
        grant, params = _authorize(state, requester, query, params)
    params, attested = _attest(state, config, requester, query, params, now)
    return _Accepted(config, query, digest(envelope.payload), requester, grant, params, attested)


def _audited(state: NodeState, work: Callable[[_Trace], tuple[T, str]]) -> T:
    """Run ``work``; whatever happens, audit first, then log and count.

    An authenticated request gets its own audit entry. A request refused before
    its signature verified is only counted, per peer and reason, and audited in
    aggregate once per interval (``node.refusals``): unauthenticated senders
    cannot grow the audit log one row per request.
    """
    if state.refusals.due():
        state.flush_refusals()
    if state.checkpoint_due():
        state.sign_checkpoint()
    trace = _Trace()
    started = time.perf_counter()
    try:
        result, answer_digest = work(trace)
    except FedtradeError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        if trace.requester == _UNVERIFIED:
            state.refusals.add(current_peer(), type(exc).__name__, reason)
        else:
            state.store.record(trace.entry("refused", reason), trace.seen,
                               state.rate_limiter.changed())
        _observe(state, trace, "refused", status_for(exc).name, started)
        raise
    except Exception as exc:
        reason = f"internal error: {type(exc).__name__}"
        if trace.requester == _UNVERIFIED:
            state.refusals.add(current_peer(), "internal error", reason)
        else:
            state.store.record(trace.entry("failed", reason), trace.seen,
                               state.rate_limiter.changed())
        _observe(state, trace, "failed", "INTERNAL", started)
        raise
    if not trace.recorded:
        state.store.record(trace.entry("answered", "", answer_digest), trace.seen,
                           state.rate_limiter.changed())
    _observe(state, trace, "answered", "OK", started)
    return result


def _observe(state: NodeState, trace: _Trace, decision: str, status: str, started: float) -> None:
    seconds = time.perf_counter() - started
    request_log.submit(trace.query_id, trace.requester, trace.query_name, decision, status,
                       round(seconds * 1000, 3))
    metrics = state.metrics
    if metrics is not None:
        metrics.observe_request(trace.query_name, decision, status, seconds, trace.rows)
        if not metrics.watching_audit_log:
            store = state.store
            metrics.watch_audit_log(lambda: store.audit_entries)


def _sign_answer(state: NodeState, accepted: _Accepted, answer: query_pb2.Answer) -> Envelope:
    answer.request_digest = accepted.request_digest
    answer.query_id = accepted.query.query_id
    answer.node_id = accepted.config.node_id
    answer.status = query_pb2.ANSWER_STATUS_OK
    answer.produced_at.FromMicroseconds(time.time_ns() // 1000)
    _attach_checkpoint(state, answer)
    return sign(PAYLOAD_ANSWER, answer.SerializeToString(deterministic=True), [state.signing_key])


def _attach_checkpoint(state: NodeState, message: query_pb2.Answer | query_pb2.AnswerChunk) -> None:
    if state.checkpoint is not None:
        message.checkpoint.CopyFrom(_checkpoint_proto(state.checkpoint))


@functools.lru_cache(maxsize=2)
def _checkpoint_proto(checkpoint: Envelope) -> envelope_pb2.Envelope:
    """The latest checkpoint as a message, converted once, not once per answer."""
    return envelope_to_proto(checkpoint)


def _table(result: ResultTable) -> query_pb2.Table:
    return encode_rows(result.columns, result.rows)


def _catalogue_for(accepted: _Accepted) -> query_pb2.Catalogue:
    config, requester = accepted.config, accepted.requester
    catalogue = query_pb2.Catalogue(node_id=config.node_id, role=config.role)
    certificate = config.aeo.current(config.node_id, config.role, datetime.now(UTC)) \
        if config.aeo else None
    if certificate is not None:
        catalogue.aeo_certificate.CopyFrom(envelope_to_proto(certificate))
    for name, grant in sorted(requester.grants.items()):
        spec = CATALOGUE[name]
        catalogue.queries.append(
            query_pb2.QueryDescription(
                name=name,
                description=spec.description,
                disclosure_class=spec.disclosure,
                parameters=[
                    query_pb2.ParameterDescription(
                        name=p.name, type=p.type, required=p.required, description=p.description
                    )
                    for p in spec.params
                ],
                output_fields=[*spec.key_columns, *grant.fields],
                purposes=sorted(grant.purposes),
                max_batch=min(requester.max_batch, spec.max_batch()),
            )
        )
    return catalogue


def answer_describe(state: NodeState, envelope: Envelope) -> Envelope:
    """Answer a signed 'describe' query with the catalogue this requester may use."""

    def work(trace: _Trace) -> tuple[Envelope, str]:
        accepted = _accept(state, envelope, trace, describe=True)
        signed = _sign_answer(state, accepted, query_pb2.Answer(catalogue=_catalogue_for(accepted)))
        return signed, digest(signed.payload).hex()

    return _audited(state, work)


def _run(state: NodeState, accepted: _Accepted, epsilon: float | None = None) -> ResultTable:
    assert accepted.grant is not None  # catalogue queries always carry their grant
    conn, dialect = state.store.data()
    return RUNS[accepted.query.query_name](
        Execution(
            conn=conn,
            dialect=dialect,
            role=accepted.config.role,
            params=accepted.params,
            fields=accepted.grant.fields,
            query_id=accepted.query.query_id,
            settings=accepted.config.settings,
            attestation=accepted.attestation,
            epsilon=epsilon,
        )
    )


def _watch(state: NodeState, accepted: _Accepted, result: ResultTable) -> None:
    """Feed the enumeration alarm with how many shipments asked about were not known."""
    if "known" not in result.columns:
        return
    column = result.columns.index("known")
    values = result.rows.columns[column] if isinstance(result.rows, ColumnRows) \
        else [row[column] for row in result.rows]
    unknown = sum(map(operator.is_, values, itertools.repeat(False)))
    requester = accepted.requester.id
    trip = state.alarm.observe(requester, len(result.rows), unknown, state.clock(),
                               accepted.config.alarm)
    if trip is not None:
        state.rate_limiter.throttle(requester, trip.until)
        if state.metrics is not None:
            state.metrics.count_enumeration_alarm(requester)


def _charge(state: NodeState, accepted: _Accepted) -> privacy_ledger.Charge | None:
    """What an aggregate answer costs and whose budget pays; None for other queries."""
    privacy, grant = accepted.config.settings.privacy, accepted.grant
    if CATALOGUE[accepted.query.query_name].disclosure != "aggregate":
        return None
    assert privacy is not None  # the config loader requires it for aggregate grants
    assert grant is not None
    epsilon = grant.epsilon or privacy.epsilon_per_query
    return privacy_ledger.Charge(
        requester=accepted.requester.id,
        node_id=accepted.config.node_id,
        query_id=accepted.query.query_id.hex(),
        query_name=grant.name,
        key=privacy_ledger.cache_key(state.store.data()[0], grant.name, accepted.params,
                                     grant.fields, epsilon),
        epsilon=epsilon,
        budget=privacy_ledger.Budget(
            accepted.requester.budget_epsilon or privacy.budget_epsilon, privacy.period_days),
    )


def _release_aggregate(state: NodeState, accepted: _Accepted, charge: privacy_ledger.Charge,
                       trace: _Trace) -> tuple[Envelope, str]:
    """Budget, noise, then debit + audit in one transaction before the answer is released."""
    with state.store.ledger() as ledger:
        cached = privacy_ledger.check(ledger, charge, state.clock())
    noisy = None if cached is not None else _run(state, accepted, charge.epsilon)

    def debit(conn: SqlConn) -> tuple[Envelope, str, str]:
        table, note = privacy_ledger.debit(conn, charge, noisy, state.clock())
        trace.rows = len(table.rows)
        signed = _sign_answer(state, accepted, query_pb2.Answer(table=_table(table)))
        return signed, digest(signed.payload).hex(), note

    signed, answer_digest = state.store.record_release(
        lambda answer_digest, note: trace.entry("answered", note, answer_digest), trace.seen,
        debit, state.rate_limiter.changed())
    trace.recorded = True
    return signed, answer_digest


def answer_query(state: NodeState, envelope: Envelope) -> Envelope:
    """Answer a signed catalogue query with a signed table."""

    def work(trace: _Trace) -> tuple[Envelope, str]:
        accepted = _accept(state, envelope, trace, describe=False)
        charge = _charge(state, accepted)
        if charge is not None:
            return _release_aggregate(state, accepted, charge, trace)
        result = _run(state, accepted)
        _watch(state, accepted, result)
        trace.rows = len(result.rows)
        answer = query_pb2.Answer(table=_table(result))
        signed = _sign_answer(state, accepted, answer)
        return signed, digest(signed.payload).hex()

    return _audited(state, work)


def answer_screen(state: NodeState, envelope: Envelope) -> list[Envelope]:
    """Answer a signed batch query as a chain of signed chunks.

    Chunk n names the digest of chunk n-1's payload and the last chunk says it
    is last, so the receiver detects a dropped, repeated or reordered chunk and
    a truncated stream.
    """

    def work(trace: _Trace) -> tuple[list[Envelope], str]:
        accepted = _accept(state, envelope, trace, describe=False)
        if _charge(state, accepted) is not None:
            raise MalformedRequestError("use the Query call for aggregate queries")
        result = _run(state, accepted)
        _watch(state, accepted, result)
        trace.rows = len(result.rows)
        chunks = list(_chunks(state, accepted, result))
        return chunks, digest(chunks[-1].payload).hex()

    return _audited(state, work)


def _chunks(state: NodeState, accepted: _Accepted, result: ResultTable) -> Iterator[Envelope]:
    previous = b""
    starts = range(0, max(len(result.rows), 1), CHUNK_ROWS)
    for sequence, start in enumerate(starts):
        part = ResultTable(result.columns, result.rows[start : start + CHUNK_ROWS])
        chunk = query_pb2.AnswerChunk(
            request_digest=accepted.request_digest,
            query_id=accepted.query.query_id,
            node_id=accepted.config.node_id,
            sequence=sequence,
            previous_chunk_digest=previous,
            last=start + CHUNK_ROWS >= len(result.rows),
        )
        chunk.table.SetInParent()  # present even when empty, as when it was assigned
        encode_rows(part.columns, part.rows, into=chunk.table)  # filled in place, not copied
        chunk.produced_at.FromMicroseconds(time.time_ns() // 1000)
        if chunk.last:
            _attach_checkpoint(state, chunk)
        signed = sign(
            PAYLOAD_CHUNK, chunk.SerializeToString(deterministic=True), [state.signing_key]
        )
        previous = digest(signed.payload)
        yield signed
