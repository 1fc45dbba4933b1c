"""The one place where fedtrade errors become gRPC status codes."""

from __future__ import annotations

import grpc

from fedtrade.trust.errors import (
    AudienceError,
    AuthorizationError,
    FedtradeError,
    MalformedRequestError,
    NodeUnavailableError,
    RateLimitError,
    VerificationError,
)

__all__ = ["status_for"]

_CODES: tuple[tuple[type[FedtradeError], grpc.StatusCode], ...] = (
    (VerificationError, grpc.StatusCode.UNAUTHENTICATED),
    (AudienceError, grpc.StatusCode.PERMISSION_DENIED),
    (AuthorizationError, grpc.StatusCode.PERMISSION_DENIED),
    (MalformedRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (RateLimitError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NodeUnavailableError, grpc.StatusCode.FAILED_PRECONDITION),
)


def status_for(error: FedtradeError) -> grpc.StatusCode:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL
