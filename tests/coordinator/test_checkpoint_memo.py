"""The coordinator verifies each audit checkpoint a node sends once: never a forged one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fedtrade.coordinator.verify import carried_checkpoint
from fedtrade.protocol.checkpoints import sign_checkpoint
from fedtrade.protocol.wire import envelope_to_proto
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope, Signature
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.keys import SigningKey

NODE = "carrier-1"


def _answer(checkpoint: Envelope) -> query_pb2.Answer:
    answer = query_pb2.Answer(node_id=NODE)
    answer.checkpoint.CopyFrom(envelope_to_proto(checkpoint))
    return answer


def test_a_remembered_checkpoint_never_vouches_for_other_bytes_or_keys() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    genuine = sign_checkpoint(key, NODE, 7, "ab" * 32, datetime.now(UTC))
    first = carried_checkpoint(_answer(genuine), node_id=NODE, node_key=key.public_key)
    again = carried_checkpoint(_answer(genuine), node_id=NODE, node_key=key.public_key)
    assert first is not None
    assert again is not None
    assert again[1] is first[1]  # verified once
    assert again[1].sequence == 7
    signature = bytearray(genuine.signatures[0].sig)
    signature[5] ^= 1
    forged = Envelope(genuine.payload_type, genuine.payload,
                      (Signature(genuine.signatures[0].key_id, bytes(signature)),))
    moved = Envelope(genuine.payload_type, genuine.payload.replace(b"ab" * 4, b"cd" * 4),
                     genuine.signatures)
    for bad, node_key, node_id in [(forged, key.public_key, NODE),
                                   (moved, key.public_key, NODE),
                                   (genuine, other.public_key, NODE),  # another node's key
                                   (genuine, key.public_key, "carrier-2")]:
        with pytest.raises(FedtradeError):
            carried_checkpoint(_answer(bad), node_id=node_id, node_key=node_key)
