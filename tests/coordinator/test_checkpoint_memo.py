"""The coordinator verifies each audit checkpoint a node sends once: never a forged one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fedtrade.coordinator.verify import carried_checkpoint, verify_answer
from fedtrade.protocol.checkpoints import sign_checkpoint
from fedtrade.protocol.wire import PAYLOAD_ANSWER, PAYLOAD_QUERY, digest, envelope_to_proto
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope, Signature, sign
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.keys import SigningKey

NODE = "carrier-1"


def _answer(checkpoint: Envelope) -> query_pb2.Answer:
    answer = query_pb2.Answer(node_id=NODE)
    answer.checkpoint.CopyFrom(envelope_to_proto(checkpoint))
    return answer


def _forgeries(genuine: Envelope, hash_text: bytes) -> tuple[Envelope, Envelope]:
    """``genuine`` with one signature bit flipped, and with its entry hash (``hash_text``
    repeated) changed under the same signature."""
    signature = bytearray(genuine.signatures[0].sig)
    signature[5] ^= 1
    forged = Envelope(genuine.payload_type, genuine.payload,
                      (Signature(genuine.signatures[0].key_id, bytes(signature)),))
    moved = Envelope(genuine.payload_type, genuine.payload.replace(hash_text * 4, b"cd" * 4),
                     genuine.signatures)
    return forged, moved


def test_a_remembered_checkpoint_never_vouches_for_other_bytes_or_keys() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    genuine = sign_checkpoint(key, NODE, 7, "ab" * 32, datetime.now(UTC))
    first = carried_checkpoint(_answer(genuine), node_id=NODE, node_key=key.public_key)
    again = carried_checkpoint(_answer(genuine), node_id=NODE, node_key=key.public_key)
    assert first is not None
    assert again is not None
    assert again[1] is first[1]  # verified once
    assert again[1].sequence == 7
    forged, moved = _forgeries(genuine, b"ab")
    for bad, node_key, node_id in [(forged, key.public_key, NODE),
                                   (moved, key.public_key, NODE),
                                   (genuine, other.public_key, NODE),  # another node's key
                                   (genuine, key.public_key, "carrier-2")]:
        with pytest.raises(FedtradeError):
            carried_checkpoint(_answer(bad), node_id=node_id, node_key=node_key)


def _signed_answer(node_key: SigningKey, request: Envelope, checkpoint: Envelope,
                   node_id: str = NODE) -> Envelope:
    answer = _answer(checkpoint)
    answer.node_id = node_id
    answer.request_digest = digest(request.payload)
    return sign(PAYLOAD_ANSWER, answer.SerializeToString(deterministic=True), [node_key])


def test_an_answer_carrying_a_forged_checkpoint_is_refused_after_a_genuine_one() -> None:
    """verify_answer remembers a checkpoint by its message bytes: a genuine checkpoint seen
    first never lets one with another signature or entry through, nor another node's key."""
    key, other = SigningKey.generate(), SigningKey.generate()
    request = sign(PAYLOAD_QUERY, b"a query", [SigningKey.generate()])
    genuine = sign_checkpoint(key, NODE, 9, "ef" * 32, datetime.now(UTC))
    for _ in range(2):
        verify_answer(_signed_answer(key, request, genuine), request=request, node_id=NODE,
                      node_key=key.public_key)
    for bad in _forgeries(genuine, b"ef"):
        with pytest.raises(FedtradeError):
            verify_answer(_signed_answer(key, request, bad), request=request, node_id=NODE,
                          node_key=key.public_key)
    # the same checkpoint bytes in an answer from a node with another key, or another id
    with pytest.raises(FedtradeError):
        verify_answer(_signed_answer(other, request, genuine), request=request, node_id=NODE,
                      node_key=other.public_key)
    with pytest.raises(FedtradeError):
        verify_answer(_signed_answer(key, request, genuine, "carrier-2"), request=request,
                      node_id="carrier-2", node_key=key.public_key)
