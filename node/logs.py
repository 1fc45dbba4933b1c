"""Logging for node operators: plain text for a terminal, JSON lines for log collectors.

A request log line says who asked what and what came of it, never with which
parameters or what the answer was: those stay in the store, and only their
digests in the audit log. ``log_request`` takes exactly the fields that may
be logged, so nothing else can slip into a line.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

__all__ = ["REQUEST_FIELDS", "JsonFormatter", "configure_logging", "log_request"]

REQUEST_FIELDS = ("query_id", "requester", "query", "decision", "status", "latency_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
# Marks the handler ``configure_logging`` installed, so calling it again replaces it.
_HANDLER_NAME = "fedtrade"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return jsonlib.dumps(entry, default=str, ensure_ascii=False)


def log_request(
    logger: logging.Logger,
    *,
    query_id: str,
    requester: str,
    query: str,
    decision: str,
    status: str,
    latency_ms: float,
) -> None:
    """Log one request outcome: identifiers and outcome only, never parameters or answers."""
    fields = {
        "query_id": query_id,
        "requester": requester,
        "query": query,
        "decision": decision,
        "status": status,
        "latency_ms": round(latency_ms, 3),
    }
    logger.info(
        "request %s from %s: %s %s (%s) in %.1f ms",
        query_id or "-",
        requester,
        query or "-",
        decision,
        status,
        latency_ms,
        extra=fields,
    )


def configure_logging(json: bool, verbose: bool, stream: TextIO | None = None) -> None:
    """Send all logs to ``stream`` (stderr) as JSON lines or text, at INFO (DEBUG if verbose)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
            existing.close()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
