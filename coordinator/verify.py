"""Checks the coordinator applies to every signed answer before using it."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from fedtrade.coordinator.bounds import AnswerLimit
from fedtrade.protocol.checkpoints import Checkpoint, verify_checkpoint
from fedtrade.protocol.wire import (
    PAYLOAD_ANSWER,
    PAYLOAD_CHUNK,
    digest,
    envelope_from_proto,
    parse_payload,
)
from fedtrade.protos import envelope_pb2, query_pb2
from fedtrade.trust.envelope import Envelope, verify
from fedtrade.trust.errors import VerificationError
from fedtrade.trust.keys import PublicKey

__all__ = ["carried_checkpoint", "verify_answer", "verify_chunk_chain"]


def _check_binding(
    message: query_pb2.Answer | query_pb2.AnswerChunk, request_digest: bytes, node_id: str
) -> None:
    if message.request_digest != request_digest:
        raise VerificationError(
            f"the answer from {node_id} is bound to another request (digest mismatch); "
            "it must not be used"
        )
    if message.node_id != node_id:
        raise VerificationError(f"the answer names node {message.node_id!r}, expected {node_id!r}")


def carried_checkpoint(
    message: query_pb2.Answer | query_pb2.AnswerChunk, *, node_id: str, node_key: PublicKey
) -> tuple[Envelope, Checkpoint] | None:
    """The node's signed audit checkpoint carried by an answer (or last chunk), verified."""
    if not message.HasField("checkpoint"):
        return None
    envelope = envelope_from_proto(message.checkpoint)
    return envelope, _verified_checkpoint(envelope, node_id, node_key)


@functools.lru_cache(maxsize=64)
def _verified_checkpoint(envelope: Envelope, node_id: str, node_key: PublicKey) -> Checkpoint:
    """A node re-signs its checkpoint every few minutes and every answer carries the latest:
    the same bytes under the same key verify once (a failure is not remembered)."""
    return verify_checkpoint(envelope, node_id=node_id, node_key=node_key)


@functools.lru_cache(maxsize=64)
def _verified_checkpoint_message(message: bytes, node_id: str, node_key: PublicKey) -> None:
    """``_verified_checkpoint`` found by the checkpoint message's bytes: one call into
    protobuf instead of building the envelope for every answer."""
    _verified_checkpoint(envelope_from_proto(envelope_pb2.Envelope.FromString(message)),
                         node_id, node_key)


def verify_answer(
    response: Envelope, *, request: Envelope, node_id: str, node_key: PublicKey,
    limit: AnswerLimit | None = None,
) -> query_pb2.Answer:
    """Verify the node's signature and the answer's binding to ``request`` (and ``limit``)."""
    payload = verify(response, {node_key.key_id: node_key}, payload_type=PAYLOAD_ANSWER)
    answer = parse_payload(query_pb2.Answer, payload)
    _check_binding(answer, digest(request.payload), node_id)
    if limit is not None:
        limit.check(node_id, 1, answer.table.row_count, len(payload))
    if answer.HasField("checkpoint"):
        _verified_checkpoint_message(answer.checkpoint.SerializeToString(), node_id, node_key)
    return answer


def verify_chunk_chain(
    responses: Iterable[Envelope], *, request: Envelope, node_id: str, node_key: PublicKey,
    limit: AnswerLimit | None = None,
) -> list[query_pb2.AnswerChunk]:
    """Verify a complete chunk stream: signatures, binding, order, chain and the last mark.

    With ``limit``, each chunk is checked against it as it arrives, so a stream
    that exceeds it stops being read at the first chunk too many.
    """
    chunks: list[query_pb2.AnswerChunk] = []
    # once per stream: a screening question carries hundreds of kilobytes of blocks
    request_digest = digest(request.payload)
    previous = b""
    rows = size = 0
    for position, response in enumerate(responses):
        size += len(response.payload)
        if limit is not None:  # bytes and chunks before the signature: no work on excess
            limit.check(node_id, position + 1, rows, size)
        payload = verify(response, {node_key.key_id: node_key}, payload_type=PAYLOAD_CHUNK)
        chunk = parse_payload(query_pb2.AnswerChunk, payload)
        _check_binding(chunk, request_digest, node_id)
        rows += chunk.table.row_count
        if limit is not None:
            limit.check(node_id, position + 1, rows, size)
        if chunk.sequence != position or chunk.previous_chunk_digest != previous:
            raise VerificationError(
                f"chunk {position} from {node_id} is out of order or a chunk before it is "
                f"missing (got sequence {chunk.sequence}); discard the stream and ask again"
            )
        if chunks and chunks[-1].last:
            raise VerificationError(f"{node_id} sent chunks after its last chunk")
        previous = digest(response.payload)
        chunks.append(chunk)
    if not chunks or not chunks[-1].last:
        raise VerificationError(
            f"the answer stream from {node_id} ended before its last chunk (truncated); "
            "discard it and ask again"
        )
    carried_checkpoint(chunks[-1], node_id=node_id, node_key=node_key)
    return chunks
