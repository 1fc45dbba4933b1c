from __future__ import annotations

import inspect
import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.logs import (
    REQUEST_FIELDS,
    JsonFormatter,
    RequestLog,
    configure_logging,
    log_request,
)

QUERY_ID = "9f2c1a7e5b3d4c6f8a0b1c2d3e4f5a6b"


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("fedtrade.test", logging.WARNING, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.usefixtures("restore_root_logger")
def test_json_logging_writes_one_object_per_line_with_request_fields() -> None:
    stream = io.StringIO()
    configure_logging(json=True, verbose=False, stream=stream)
    log = logging.getLogger("fedtrade.node")
    log.info("node %s listening on %s", "carrier-1", "127.0.0.1:50051")
    log_request(
        log,
        query_id=QUERY_ID,
        requester="cbp-coordinator",
        query="shipment_known",
        decision="answered",
        status="OK",
        latency_ms=1.23456,
    )
    log.debug("not shown unless verbose")
    first, second = _lines(stream)
    assert first["message"] == "node carrier-1 listening on 127.0.0.1:50051"
    assert first["level"] == "INFO"
    assert first["logger"] == "fedtrade.node"
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None
    assert set(first) == {"time", "level", "logger", "message"}
    assert set(second) == {"time", "level", "logger", "message", *REQUEST_FIELDS}
    assert second["query_id"] == QUERY_ID
    assert second["requester"] == "cbp-coordinator"
    assert second["query"] == "shipment_known"
    assert (second["decision"], second["status"]) == ("answered", "OK")
    assert second["latency_ms"] == 1.235
    assert second["message"] == (
        f"request {QUERY_ID} from cbp-coordinator: shipment_known answered (OK) in 1.2 ms"
    )


@pytest.mark.usefixtures("restore_root_logger")
def test_verbose_text_logging_and_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, verbose=False, stream=first)
    configure_logging(json=False, verbose=True, stream=second)
    logging.getLogger("fedtrade.node").debug("detail %d", 42)
    assert first.getvalue() == ""
    assert second.getvalue().rstrip().endswith("DEBUG fedtrade.node: detail 42")


def test_log_request_accepts_only_fields_that_may_be_logged() -> None:
    parameters = inspect.signature(log_request).parameters
    keyword_only = [p.name for p in parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert tuple(keyword_only) == REQUEST_FIELDS
    assert [p.name for p in parameters.values() if p.kind is not p.KEYWORD_ONLY] == ["logger"]
    with pytest.raises(TypeError, match="params"):
        log_request(  # type: ignore[call-arg]
            logging.getLogger("fedtrade.test"),
            query_id=QUERY_ID,
            requester="cbp-coordinator",
            query="shipment_known",
            decision="answered",
            status="OK",
            latency_ms=1.0,
            params={"house_bills": ["HB-SECRET-0001"]},
        )


def test_exceptions_and_unserializable_extras_stay_on_one_json_line() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("broken\nstore")
    except ValueError:
        record = _record("failed", path=Path("/data/node.db"), count=3)
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["path"] == "/data/node.db"
    assert entry["count"] == 3
    assert "ValueError: broken\nstore" in entry["exception"]


@settings(max_examples=50, deadline=None)
@given(message=st.text(), value=st.text())
def test_any_message_is_one_parseable_line(message: str, value: str) -> None:
    record = _record("%s", note=value)
    record.args = (message,)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == message
    assert entry["note"] == value


@pytest.mark.usefixtures("restore_root_logger")
def test_request_log_writes_lines_in_order_from_its_thread_and_flush_waits() -> None:
    stream = io.StringIO()
    configure_logging(json=True, verbose=False, stream=stream)
    lines = RequestLog(logging.getLogger("fedtrade.node.requests"))
    for number in range(50):
        lines.submit(f"{number:032x}", "cbp-coordinator", "shipment_known", "answered", "OK",
                     1.0)
    lines.flush()
    written = _lines(stream)
    assert [line["query_id"] for line in written] == [f"{n:032x}" for n in range(50)]
    assert {line["logger"] for line in written} == {"fedtrade.node.requests"}


def test_request_log_queues_nothing_when_info_is_not_logged() -> None:
    quiet = logging.getLogger("fedtrade.test.quiet")
    quiet.setLevel(logging.WARNING)
    lines = RequestLog(quiet)
    lines.submit(QUERY_ID, "cbp-coordinator", "shipment_known", "answered", "OK", 1.0)
    assert lines._thread is None  # no thread started, nothing waiting


@pytest.mark.usefixtures("restore_root_logger")
def test_request_log_keeps_writing_after_a_handler_fails() -> None:
    class Failing(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith(f"request {QUERY_ID}"):
                raise RuntimeError("disk full")

    stream = io.StringIO()
    configure_logging(json=True, verbose=False, stream=stream)
    logger = logging.getLogger("fedtrade.test.failing")
    failing = Failing()
    logger.addHandler(failing)
    try:
        lines = RequestLog(logger)
        lines.submit(QUERY_ID, "cbp-coordinator", "shipment_known", "answered", "OK", 1.0)
        lines.submit("0" * 32, "cbp-coordinator", "shipment_known", "refused", "OK", 2.0)
        lines.flush()
    finally:
        logger.removeHandler(failing)
    problem, written = _lines(stream)
    assert problem["message"] == "cannot write a request log line"
    assert "disk full" in problem["exception"]
    assert written["query_id"] == "0" * 32


def test_a_request_record_is_the_one_logger_info_made_minus_the_caller_lookup() -> None:
    """``log_request`` makes its record itself: the same message, fields and level as
    ``logger.info`` made, the logger's own filters and level still deciding."""
    logger = logging.getLogger("fedtrade.test.records")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.setLevel(logging.INFO)
        log_request(logger, query_id=QUERY_ID, requester="cbp", query="seller_flags",
                    decision="refused", status="PERMISSION_DENIED", latency_ms=1.23456)
        logger.addFilter(lambda record: record.decision != "refused")  # type: ignore[attr-defined]
        log_request(logger, query_id="", requester="cbp", query="", decision="refused",
                    status="UNAUTHENTICATED", latency_ms=0.5)  # filtered out
        logger.setLevel(logging.WARNING)
        log_request(logger, query_id=QUERY_ID, requester="cbp", query="seller_flags",
                    decision="answered", status="OK", latency_ms=0.5)  # below the level
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
        logger.propagate = True
    (record,) = records
    assert record.levelno == logging.INFO
    assert record.name == "fedtrade.test.records"
    assert record.getMessage() == (
        f"request {QUERY_ID} from cbp: seller_flags refused (PERMISSION_DENIED) in 1.2 ms")
    assert {field: getattr(record, field) for field in REQUEST_FIELDS} == {
        "query_id": QUERY_ID, "requester": "cbp", "query": "seller_flags",
        "decision": "refused", "status": "PERMISSION_DENIED", "latency_ms": 1.235}
    assert record.funcName == "log_request"
    assert record.exc_info is None
