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

from fedtrade.protocol.tables import PyValue, decode_table, encode_columns
from fedtrade.protos import aeo_pb2, attestation_pb2, envelope_pb2, query_pb2
from fedtrade.trust.envelope import Envelope, Signature
from fedtrade.trust.errors import MalformedRequestError

__all__ = [
    "PAYLOAD_ANSWER",
    "PAYLOAD_CHECKPOINT",
    "PAYLOAD_CHUNK",
    "PAYLOAD_QUERY",
    "PyValue",
    "digest",
    "envelope_from_proto",
    "envelope_to_proto",
    "from_value",
    "parse_payload",
    "table_value",
    "timestamp",
    "to_datetime",
    "to_value",
]

PAYLOAD_QUERY = "application/vnd.fedtrade.query.v1+protobuf"
PAYLOAD_ANSWER = "application/vnd.fedtrade.answer.v1+protobuf"
PAYLOAD_CHUNK = "application/vnd.fedtrade.answer-chunk.v1+protobuf"
PAYLOAD_CHECKPOINT = "application/vnd.fedtrade.audit-checkpoint.v1+protobuf"

M = TypeVar(
    "M", query_pb2.Query, query_pb2.Answer, query_pb2.AnswerChunk, query_pb2.AuditCheckpoint,
    attestation_pb2.ManifestBlock, aeo_pb2.AeoCertificate, aeo_pb2.AeoRevocation,
)


def digest(payload: bytes) -> bytes:
    """The SHA-256 digest that binds answers and audit entries to a request payload."""
    return hashlib.sha256(payload).digest()


def envelope_to_proto(
    envelope: Envelope, into: envelope_pb2.Envelope | None = None
) -> envelope_pb2.Envelope:
    """``envelope`` as a message; ``into`` (an empty message, such as a response's envelope
    field) is filled in place instead of a new message being copied into it."""
    message = envelope_pb2.Envelope() if into is None else into
    message.SetInParent()  # present even if every field were empty
    message.payload_type = envelope.payload_type
    message.payload = envelope.payload
    for s in envelope.signatures:
        message.signatures.add(key_id=s.key_id, sig=s.sig)
    return message


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
    kind = type(value)  # exact types first: this runs for every cell of every answer
    if kind is str:
        return query_pb2.Value(text=value)  # type: ignore[arg-type]
    if kind is bool:
        return query_pb2.Value(flag=value)  # type: ignore[arg-type]
    if kind is int:
        return query_pb2.Value(integer=value)  # type: ignore[arg-type]
    if kind is float:
        return query_pb2.Value(number=value)  # type: ignore[arg-type]
    if value is None:
        return query_pb2.Value()
    if isinstance(value, Mapping):
        fields = {k: to_value(v) for k, v in value.items()}
        return query_pb2.Value(record=query_pb2.Record(fields=fields))
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if value and all(type(v) is str for v in value):
            return query_pb2.Value(texts=query_pb2.TextList(values=value))  # type: ignore[arg-type]
        return query_pb2.Value(list=query_pb2.ValueList(values=[to_value(v) for v in value]))
    raise TypeError(f"cannot put a {type(value).__name__} into a Value")


def table_value(columns: Mapping[str, Sequence[PyValue]]) -> query_pb2.Value:
    """A Value holding named columns of equal length (read back as a dict of lists)."""
    return query_pb2.Value(table=encode_columns(columns))


def from_value(value: query_pb2.Value) -> PyValue:
    """Unwrap a Value into plain Python; an unset Value is None."""
    kind = value.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "list":
        return [from_value(v) for v in value.list.values]
    if kind == "record":
        return {k: from_value(v) for k, v in value.record.fields.items()}
    if kind == "table":
        return dict(decode_table(value.table).columns)
    if kind == "texts":
        return list(value.texts.values)
    result: PyValue = getattr(value, kind)
    return result
