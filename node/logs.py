"""Logging for node operators: plain text for a terminal, JSON lines for log collectors.

A request log line says who asked what and what came of it, never with which
parameters or what the answer was: those stay in the store, and only their
digests in the audit log. ``log_request`` takes exactly the fields that may
be logged, so nothing else can slip into a line.

``RequestLog`` writes those lines from one background thread, in order: making a
log record, formatting and writing it cost about 50 µs (text) to 80 µs (JSON), which
an answer should not wait for. The audit entry, not the log line, is the record a
request was answered, and it is committed before the answer leaves.
"""

from __future__ import annotations

import atexit
import json as jsonlib
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from queue import SimpleQueue
from typing import TextIO

__all__ = ["REQUEST_FIELDS", "JsonFormatter", "RequestLog", "configure_logging", "log_request"]

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
    if not logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "query_id": query_id,
        "requester": requester,
        "query": query,
        "decision": decision,
        "status": status,
        "latency_ms": round(latency_ms, 3),
    }
    # The record made here, as ``logger.info`` would make it, minus the stack walk that
    # finds the caller's file and line (a quarter of a line's cost; none of our formats
    # prints them): this function is the caller.
    logger.handle(logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, "request %s from %s: %s %s (%s) in %.1f ms",
        (query_id or "-", requester, query or "-", decision, status, latency_ms), None,
        "log_request", fields,
    ))


_Line = tuple[str, str, str, str, str, float]  # REQUEST_FIELDS, in order
PAUSE_SECONDS = 0.02  # the longest a line waits before it is written


class RequestLog:
    """Request log lines handed to one daemon thread that writes them in order."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._queue: SimpleQueue[_Line | threading.Event] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, query_id: str, requester: str, query: str, decision: str, status: str,
               latency_ms: float) -> None:
        """Queue one line (nothing when INFO is not logged)."""
        if not self._logger.isEnabledFor(logging.INFO):
            return
        if self._thread is None:
            self._start()
        self._queue.put((query_id, requester, query, decision, status, latency_ms))

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every line queued before this call is written."""
        if self._thread is None:
            return
        written = threading.Event()
        self._queue.put(written)
        written.wait(timeout)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name="fedtrade-request-log",
                                                daemon=True)
                self._thread.start()
                atexit.register(self.flush)  # before the interpreter stops daemon threads

    def _write(self) -> None:
        while True:
            self._write_item(self._queue.get())
            # A wake-up costs the answering threads more than the line it writes (the
            # thread hand-off and the GIL going back and forth): after one, pause a moment
            # and then write every line queued meanwhile, so a busy node wakes this
            # thread about PAUSE_SECONDS apart instead of once per request.
            time.sleep(PAUSE_SECONDS)
            while not self._queue.empty():
                self._write_item(self._queue.get())

    def _write_item(self, item: _Line | threading.Event) -> None:
        if isinstance(item, threading.Event):
            item.set()
            return
        query_id, requester, query, decision, status, latency_ms = item
        try:
            log_request(self._logger, query_id=query_id, requester=requester, query=query,
                        decision=decision, status=status, latency_ms=latency_ms)
        except Exception:  # a broken handler must not stop the lines after it
            logging.getLogger(__name__).exception("cannot write a request log line")


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
