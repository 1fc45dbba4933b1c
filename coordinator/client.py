"""The coordinator's signing client: build a query, sign it, send it, verify the answer."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import grpc

from fedtrade.coordinator.bounds import AnswerLimit, answer_limit
from fedtrade.coordinator.config import CoordinatorConfig, NodeEntry
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.tls import explain_tls_failure, secure_channel
from fedtrade.coordinator.verify import verify_answer, verify_chunk_chain
from fedtrade.protocol.catalogue import DESCRIBE
from fedtrade.protocol.limits import DEFAULT_MESSAGE_BYTES, MAX_MESSAGE_BYTES
from fedtrade.protocol.protobuf_fields import length_delimited
from fedtrade.protocol.rpc_errors import rpc_failure
from fedtrade.protocol.wire import (
    PAYLOAD_QUERY,
    PyValue,
    envelope_from_proto,
    envelope_to_proto,
    to_value,
)
from fedtrade.protos import envelope_pb2, node_pb2, node_pb2_grpc, query_pb2
from fedtrade.trust.envelope import Envelope, sign
from fedtrade.trust.errors import ConfigError, FedtradeError, RemoteError
from fedtrade.trust.keys import SigningKey

__all__ = ["ROUND_ROBIN", "Coordinator", "ParamValue", "QueryContext", "VerifiedAnswer",
           "screen_request_bytes"]

# gRPC's client-side balancing over every address the node's address resolves to.
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})

# A plain value, or a ready Value such as a table of shipments (protocol.wire.table_value).
ParamValue = PyValue | query_pb2.Value

_SCREEN_METHOD = f"/{node_pb2.DESCRIPTOR.services_by_name['NodeService'].full_name}/Screen"
# a node's channel, its stub and its Screen call taking the request serialized
_Channel = tuple[grpc.Channel, node_pb2_grpc.NodeServiceStub,
                 "grpc.UnaryStreamMultiCallable[bytes, node_pb2.ScreenResponse]"]


@dataclass(frozen=True)
class QueryContext:
    """Why a query is asked: recorded in the signed query and the node's audit log."""

    purpose: str
    case_id: str
    officer_id: str
    legal_basis: str


@dataclass(frozen=True)
class VerifiedAnswer:
    node_id: str
    query: query_pb2.Query
    answer: query_pb2.Answer


class Coordinator:
    """Signs queries as the configured requester and verifies every answer."""

    def __init__(
        self,
        config: CoordinatorConfig,
        *,
        signing_key: SigningKey | None = None,
        evidence: EvidenceStore | None = None,
        insecure: bool = False,
    ) -> None:
        if config.tls is None and not insecure:
            raise ConfigError(
                "coordinator.tls is not configured: nodes are reached over mutual TLS (see the "
                "README, 'Operating a node'); pass --insecure to use plaintext on a test network",
                path=config.path, key="coordinator.tls",
            )
        self.config = config
        self._key = signing_key or SigningKey.from_file(config.signing_key)
        self._evidence = evidence
        # one channel per node, its stub (building a stub costs more than signing a query)
        # and its Screen call taking the request as bytes (``screen``)
        self._channels: dict[str, _Channel] = {}

    @property
    def evidence(self) -> EvidenceStore | None:
        """Where signed answers (and green-lane sample seeds) are kept, if anywhere."""
        return self._evidence

    def _stub(self, node: NodeEntry) -> node_pb2_grpc.NodeServiceStub:
        return self._channel(node)[1]

    def _channel(self, node: NodeEntry) -> _Channel:
        known = self._channels.get(node.id)
        if known is None:
            options = [
                # the largest answer chunk lists at most the house bills the largest request
                # sent (protocol.limits); a node's own limit refuses a request too large for it
                ("grpc.max_receive_message_length", DEFAULT_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # a replicated node is one address resolving to every replica
                # (dns:///node.example:50051, a Kubernetes headless Service): spread the
                # requests over all of them rather than pinning the first
                ("grpc.service_config", ROUND_ROBIN),
            ]
            tls = self.config.tls
            channel = (grpc.insecure_channel(node.address, options=options) if tls is None
                       else secure_channel(node.address, node.id, tls, options))
            known = self._channels[node.id] = (
                channel, node_pb2_grpc.NodeServiceStub(channel),
                channel.unary_stream(_SCREEN_METHOD, request_serializer=None,
                                     response_deserializer=node_pb2.ScreenResponse.FromString))
        return known

    def sign_query(
        self,
        node: NodeEntry,
        query_name: str,
        params: Mapping[str, ParamValue],
        context: QueryContext,
        *,
        query_id: bytes | None = None,
        attestations: Sequence[Envelope] = (),
    ) -> tuple[query_pb2.Query, Envelope]:
        """Sign a query for ``node``; ``query_id`` is shared only by the fan-out of one
        federated query to several nodes (each node still sees it once). ``attestations``
        are the filer's signed manifest blocks the question is about."""
        now = time.time_ns() // 1000  # microseconds
        query = query_pb2.Query(
            query_id=query_id or os.urandom(16),
            requester_id=self.config.requester_id,
            audience=node.id,
            purpose=context.purpose,
            legal_basis=context.legal_basis,
            case_id=context.case_id,
            officer_id=context.officer_id,
            query_name=query_name,
            params={name: _param_value(value) for name, value in params.items()},
            attestations=[_block_message(block) for block in attestations],
        )
        query.issued_at.FromMicroseconds(now)
        query.expires_at.FromMicroseconds(now + self.config.query_ttl_seconds * 1_000_000)
        payload = query.SerializeToString(deterministic=True)
        return query, sign(PAYLOAD_QUERY, payload, [self._key])

    def ask(
        self, node_id: str, query_name: str, params: Mapping[str, ParamValue],
        context: QueryContext, *, attestations: Sequence[Envelope] = (),
    ) -> VerifiedAnswer:
        """Send one signed query (or 'describe') and return the verified answer."""
        query, request = self.sign_query(self.config.node(node_id), query_name, params, context,
                                         attestations=attestations)
        return self.send(query, request)

    def send(self, query: query_pb2.Query, request: Envelope) -> VerifiedAnswer:
        """Send ``request`` (signed ``query``, approvers' signatures included) to its audience
        and return the verified answer."""
        node, query_name = self.config.node(query.audience), query.query_name
        stub = self._stub(node)
        wire = envelope_to_proto(request)
        try:
            try:
                if query_name == DESCRIBE:
                    reply = stub.Describe(node_pb2.DescribeRequest(envelope=wire),
                                          timeout=node.deadline_seconds).envelope
                else:
                    reply = stub.Query(node_pb2.QueryRequest(envelope=wire),
                                       timeout=node.deadline_seconds).envelope
            except grpc.RpcError as exc:
                raise _remote_error(node.id, exc) from None
            response = envelope_from_proto(reply)
            answer = verify_answer(response, request=request, node_id=node.id,
                                   node_key=node.public_key, limit=self._limit(query))
        except FedtradeError as exc:
            self._unanswered(node.id, query, request, exc)
            raise
        if self._evidence is not None:
            self._evidence.add(
                node_id=node.id,
                query_id=query.query_id.hex(),
                query_name=query_name,
                request=request,
                responses=[response],
                kind="answer",
                attestations=[envelope_from_proto(block) for block in query.attestations],
            )
        return VerifiedAnswer(node_id=node.id, query=query, answer=answer)

    def screen(
        self,
        node_id: str,
        query_name: str,
        params: Mapping[str, ParamValue],
        context: QueryContext,
        *,
        query_id: bytes | None = None,
        deadline_seconds: float | None = None,
        attestations: Sequence[Envelope] = (),
    ) -> list[query_pb2.AnswerChunk]:
        """Send a signed batch query over Screen and verify the whole chunk chain.

        ``deadline_seconds`` overrides the node's deadline (for whole-manifest queries).
        """
        node = self.config.node(node_id)
        query, request = self.sign_query(node, query_name, params, context, query_id=query_id,
                                         attestations=attestations)
        timeout = deadline_seconds or node.deadline_seconds
        # the request serialized once, sent as a ScreenRequest and kept as evidence: with the
        # blocks it carries it is hundreds of kilobytes
        serialized = envelope_to_proto(request).SerializeToString()
        stream = self._channel(node)[2](screen_request_bytes(serialized), timeout=timeout)
        replies: list[Envelope] = []
        try:
            chunks = verify_chunk_chain(
                _received(node, stream, replies), request=request, node_id=node.id,
                node_key=node.public_key, limit=self._limit(query))
        except FedtradeError as exc:
            stream.cancel()  # type: ignore[no-untyped-call]  # stop the node sending the rest
            self._unanswered(node.id, query, request, exc)
            raise
        if self._evidence is not None:
            self._evidence.add(
                node_id=node.id,
                query_id=query.query_id.hex(),
                query_name=query_name,
                request=request,
                responses=replies,
                kind="chunk",
                attestations=attestations,
                serialized=serialized,
            )
        return chunks

    def _unanswered(self, node_id: str, query: query_pb2.Query, request: Envelope,
                    exc: FedtradeError) -> None:
        """Keep a question the node did not answer (refused, late, unverifiable) as evidence."""
        if self._evidence is not None:
            code = exc.code if isinstance(exc, RemoteError) else type(exc).__name__
            self._evidence.add_unanswered(
                node_id=node_id, query_id=query.query_id.hex(), query_name=query.query_name,
                request=request, code=code, reason=str(exc)[:500])

    def _limit(self, query: query_pb2.Query) -> AnswerLimit:
        settings = self.config.screening
        return answer_limit(query, max_rows=settings.max_answer_rows,
                            max_bytes=settings.max_answer_bytes)

    def close(self) -> None:
        for channel, *_ in self._channels.values():
            channel.close()
        self._channels.clear()


def _received(
    node: NodeEntry, stream: Iterable[node_pb2.ScreenResponse], into: list[Envelope]
) -> Iterator[Envelope]:
    """The envelopes of a Screen stream as they arrive, kept in ``into`` for the evidence."""
    try:
        for reply in stream:
            envelope = envelope_from_proto(reply.envelope)
            into.append(envelope)
            yield envelope
    except grpc.RpcError as exc:
        raise _remote_error(node.id, exc) from None


def screen_request_bytes(envelope: bytes) -> bytes:
    """A ``ScreenRequest`` holding the serialized ``envelope``, as protobuf serializes it."""
    return length_delimited(node_pb2.ScreenRequest.ENVELOPE_FIELD_NUMBER, envelope)


@functools.lru_cache(maxsize=64)
def _block_message(block: Envelope) -> envelope_pb2.Envelope:
    """A filer's block as a message, converted once: the same blocks go with every question
    about their lines, to every node (the query copies the message, never changes it)."""
    return envelope_to_proto(block)


def _param_value(value: ParamValue) -> query_pb2.Value:
    return value if isinstance(value, query_pb2.Value) else to_value(value)


def _remote_error(node_id: str, exc: grpc.RpcError) -> RemoteError:
    failure = rpc_failure(exc)
    if failure.code == grpc.StatusCode.UNAVAILABLE:
        return RemoteError(node_id, failure.code.name, explain_tls_failure(exc, node_id))
    return RemoteError(node_id, failure.code.name, failure.details)
