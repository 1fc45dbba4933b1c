"""A Screen request sent as bytes is the ScreenRequest protobuf would have serialized."""

from __future__ import annotations

import pytest

from fedtrade.coordinator.client import screen_request_bytes
from fedtrade.protocol.wire import PAYLOAD_QUERY, envelope_to_proto
from fedtrade.protos import node_pb2
from fedtrade.trust.envelope import sign
from fedtrade.trust.keys import SigningKey


# payloads whose envelopes' lengths (about 180 bytes more) take two to four varint bytes,
# each side of 2**14 and 2**21, and a screening question's
@pytest.mark.parametrize("size", [0, 16_000, 16_250, 548_367, 2_000_000, 2_100_000])
def test_the_bytes_sent_are_protobufs_screen_request(size: int) -> None:
    request = sign(PAYLOAD_QUERY, bytes(range(256)) * (size // 256) + b"q" * (size % 256),
                   [SigningKey.generate()])
    envelope = envelope_to_proto(request)
    sent = screen_request_bytes(envelope.SerializeToString())
    assert sent == node_pb2.ScreenRequest(envelope=envelope).SerializeToString()
    assert node_pb2.ScreenRequest.FromString(sent).envelope == envelope
