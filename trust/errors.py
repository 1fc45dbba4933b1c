"""The one error hierarchy of fedtrade.

Every error a user can meet is a ``FedtradeError`` whose message says what is
wrong and what to do about it. The gRPC layer maps these classes to status
codes in one place (``node.status``); nothing here knows about gRPC.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AttestationError",
    "AudienceError",
    "AuthorizationError",
    "BadSignatureError",
    "ConfigError",
    "DataError",
    "FedtradeError",
    "FreshnessError",
    "KeyFileError",
    "MalformedRequestError",
    "NodeUnavailableError",
    "RateLimitError",
    "RemoteError",
    "ReplayError",
    "ThresholdError",
    "UnknownKeyError",
    "VerificationError",
]


class FedtradeError(Exception):
    """Base class: the message is meant for a person and says what to do."""


class ConfigError(FedtradeError):
    """A configuration file is invalid; names the file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.key = key
        self.reason = message
        where = ""
        if self.path is not None:
            where = self.path
            if line is not None:
                where += f":{line}"
            where += ": "
        if key is not None:
            where += f"{key}: "
        super().__init__(f"{where}{message}")


class KeyFileError(FedtradeError):
    """A key file is missing, malformed or has unsafe permissions."""


class DataError(FedtradeError):
    """Input data (an import file, a manifest) is invalid."""


class VerificationError(FedtradeError):
    """A signature or signed envelope did not verify."""


class UnknownKeyError(VerificationError):
    """The envelope is signed only by keys we do not trust."""


class BadSignatureError(VerificationError):
    """A signature by a trusted key does not match the signed bytes."""


class ThresholdError(VerificationError):
    """Fewer distinct trusted keys signed than the threshold requires."""


class FreshnessError(VerificationError):
    """The signed request is expired, not yet valid or lives too long."""


class ReplayError(VerificationError):
    """The query id was already used."""


class AudienceError(FedtradeError):
    """The request is addressed to another node."""


class AuthorizationError(FedtradeError):
    """The requester may not run this query, for this purpose or these fields."""


class AttestationError(AuthorizationError):
    """A question is about lines no trusted, valid manifest attestation covers."""


class MalformedRequestError(FedtradeError):
    """The request payload or its parameters are not valid."""


class RateLimitError(FedtradeError):
    """The requester exceeded its rate limit; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NodeUnavailableError(FedtradeError):
    """The node cannot answer now (its data or keys are unusable)."""


class RemoteError(FedtradeError):
    """A node refused or failed a call; ``code`` is the gRPC status name."""

    def __init__(self, node_id: str, code: str, details: str) -> None:
        self.node_id = node_id
        self.code = code
        self.details = details
        super().__init__(f"node {node_id} answered {code}: {details}")
