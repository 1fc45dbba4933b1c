"""Limits on a verified query payload, checked before any of it is used.

A signed payload can still hold a 4 MiB ``case_id`` or a timestamp no clock
can read: the requester is authenticated but not necessarily careful. Each
text field has a length limit and each timestamp must lie in the range a
protobuf Timestamp allows; a payload outside them is refused with
INVALID_ARGUMENT naming the field and the limit, never echoing the value.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from fedtrade.protos import query_pb2
from fedtrade.trust.errors import MalformedRequestError

__all__ = ["MAX_PARAM_NAME_CHARS", "TEXT_LIMITS", "check_query_payload"]

# Characters per text field of a Query; ids follow the 1-63 character id rule.
TEXT_LIMITS = {
    "requester_id": 64,
    "audience": 64,
    "query_name": 64,
    "purpose": 32,
    "case_id": 128,
    "officer_id": 128,
    "legal_basis": 512,
}
MAX_PARAM_NAME_CHARS = 64
# The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799


def _check_timestamp(name: str, stamp: Timestamp) -> None:
    if not _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS:
        raise MalformedRequestError(
            f"field {name!r}: seconds must lie between years 0001 and 9999; send a real time"
        )
    if not 0 <= stamp.nanos <= 999_999_999:
        raise MalformedRequestError(
            f"field {name!r}: nanos must be between 0 and 999999999; send a real time"
        )


def check_query_payload(query: query_pb2.Query) -> None:
    """Raise MalformedRequestError for an over-long text field or an unreadable timestamp."""
    for name, limit in TEXT_LIMITS.items():
        length = len(getattr(query, name))
        if length > limit:
            raise MalformedRequestError(
                f"field {name!r} is {length} characters long; the limit is {limit}"
            )
    for param in query.params:
        if len(param) > MAX_PARAM_NAME_CHARS:
            raise MalformedRequestError(
                f"a parameter name is {len(param)} characters long; the limit is "
                f"{MAX_PARAM_NAME_CHARS}"
            )
    _check_timestamp("issued_at", query.issued_at)
    _check_timestamp("expires_at", query.expires_at)
