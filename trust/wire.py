"""Conversions between the wire messages (``protos``) and plain Python.

Signed bytes are never re-serialized: an envelope's payload travels as the
exact bytes that were signed, and a receiver parses only bytes it verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from protos import envelope_pb2, query_pb2
from trust.envelope import Envelope, Signature
from trust.errors import MalformedRequestError

__all__ = [
    "PAYLOAD_ANSWER",
    "PAYLOAD_CHUNK",
    "PAYLOAD_QUERY",
    "PyValue",
    "digest",
    "envelope_from_proto",
    "envelope_to_proto",
    "from_value",
    "parse_payload",
    "timestamp",
    "to_value",
    "to_datetime",
]

PAYLOAD_QUERY = "application/vnd.fedtrade.query.v1+protobuf"
PAYLOAD_ANSWER = "application/vnd.fedtrade.answer.v1+protobuf"
PAYLOAD_CHUNK = "application/vnd.fedtrade.answer-chunk.v1+protobuf"

M = TypeVar("M", query_pb2.Query, query_pb2.Answer, query_pb2.AnswerChunk)

# Sequence and Mapping (not list and dict) so that list[str] is a PyValue too.
PyValue = str | int | float | bool | None | Sequence["PyValue"] | Mapping[str, "PyValue"]


def digest(payload: bytes) -> bytes:
    """The SHA-256 digest that binds answers and audit entries to a request payload."""
    return hashlib.sha256(payload).digest()


def envelope_to_proto(envelope: Envelope) -> envelope_pb2.Envelope:
    return envelope_pb2.Envelope(
        payload_type=envelope.payload_type,
        payload=envelope.payload,
        signatures=[envelope_pb2.Signature(key_id=s.key_id, sig=s.sig) for s in envelope.signatures],
    )


def envelope_from_proto(message: envelope_pb2.Envelope) -> Envelope:
    return Envelope(
        payload_type=message.payload_type,
        payload=message.payload,
        signatures=tuple(Signature(key_id=s.key_id, sig=s.sig) for s in message.signatures),
    )


def parse_payload(message_type: type[M], payload: bytes) -> M:
    """Parse verified payload bytes, refusing anything that is not a well-formed message."""
    message = message_type()
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise MalformedRequestError(
            f"the signed payload is not a valid {message_type.__name__} message ({exc})"
        ) from exc
    return message


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def to_datetime(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def to_value(value: PyValue) -> query_pb2.Value:
    """Wrap a plain Python value (bool, int, float, str, list, dict, None) in a Value."""
    if value is None:
        return query_pb2.Value()
    if isinstance(value, bool):
        return query_pb2.Value(flag=value)
    if isinstance(value, int):
        return query_pb2.Value(integer=value)
    if isinstance(value, float):
        return query_pb2.Value(number=value)
    if isinstance(value, str):
        return query_pb2.Value(text=value)
    if isinstance(value, Sequence):
        return query_pb2.Value(list=query_pb2.ValueList(values=[to_value(v) for v in value]))
    if isinstance(value, Mapping):
        fields = {k: to_value(v) for k, v in value.items()}
        return query_pb2.Value(record=query_pb2.Record(fields=fields))
    raise TypeError(f"cannot put a {type(value).__name__} into a Value")


def from_value(value: query_pb2.Value) -> PyValue:
    """Unwrap a Value into plain Python; an unset Value is None."""
    kind = value.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "list":
        return [from_value(v) for v in value.list.values]
    if kind == "record":
        return {k: from_value(v) for k, v in value.record.fields.items()}
    result: PyValue = getattr(value, kind)
    return result
