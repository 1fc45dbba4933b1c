from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fedtrade.node.metrics import OTHER_QUERY, NodeMetrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _fetch(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        body: bytes = reply.read()
    return body.decode()


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


@pytest.fixture
def metrics() -> Iterator[NodeMetrics]:
    node_metrics = NodeMetrics()
    yield node_metrics
    node_metrics.stop()


def test_metrics_endpoint_serves_recorded_requests(metrics: NodeMetrics) -> None:
    port = metrics.start(0)
    assert port > 0
    metrics.observe_request("shipment_known", "answered", "OK", 0.004, rows=3)
    metrics.observe_request("shipment_known", "answered", "OK", 0.2, rows=2)
    metrics.observe_request("shipment_known", "refused", "PERMISSION_DENIED", 0.001, rows=0)
    metrics.observe_request("describe", "answered", "OK", 0.002, rows=1)
    metrics.set_audit_log_entries(4)
    metrics.set_config_version(7)
    expiry = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    metrics.set_certificate_expiry(expiry)

    samples = _samples(_fetch(port))

    requests = "fedtrade_requests_total"
    assert (
        samples[(requests, _labels(query="shipment_known", decision="answered", status="OK"))] == 2
    )
    assert (
        samples[
            (
                requests,
                _labels(query="shipment_known", decision="refused", status="PERMISSION_DENIED"),
            )
        ]
        == 1
    )
    assert samples[(requests, _labels(query="describe", decision="answered", status="OK"))] == 1
    assert samples[("fedtrade_request_seconds_count", _labels(query="shipment_known"))] == 3
    assert samples[("fedtrade_request_seconds_sum", _labels(query="shipment_known"))] == (
        pytest.approx(0.205)
    )
    bucket = "fedtrade_request_seconds_bucket"
    assert samples[(bucket, _labels(query="shipment_known", le="0.005"))] == 2
    assert samples[(bucket, _labels(query="shipment_known", le="+Inf"))] == 3
    assert samples[("fedtrade_rows_returned_total", _labels(query="shipment_known"))] == 5
    assert samples[("fedtrade_audit_log_entries", _labels())] == 4
    assert samples[("fedtrade_config_version", _labels())] == 7
    assert samples[("fedtrade_tls_certificate_expiry_timestamp_seconds", _labels())] == (
        expiry.timestamp()
    )


def test_query_names_outside_the_catalogue_share_one_label(metrics: NodeMetrics) -> None:
    port = metrics.start(0)
    for index in range(50):
        metrics.observe_request(f"made-up-{index}", "refused", "INVALID_ARGUMENT", 0.001, rows=0)
    text = _fetch(port)
    assert "made-up" not in text
    other = _labels(query=OTHER_QUERY, decision="refused", status="INVALID_ARGUMENT")
    assert _samples(text)[("fedtrade_requests_total", other)] == 50


def test_two_nodes_in_one_process_keep_separate_metrics() -> None:
    first, second = NodeMetrics(queries=["q"]), NodeMetrics(queries=["q"])
    try:
        first_port, second_port = first.start(0), second.start(0)
        first.observe_request("q", "answered", "OK", 0.01, rows=1)
        key = ("fedtrade_requests_total", _labels(query="q", decision="answered", status="OK"))
        assert _samples(_fetch(first_port))[key] == 1
        assert key not in _samples(_fetch(second_port))
    finally:
        first.stop()
        second.stop()


def test_stop_closes_the_port_and_start_again_works(metrics: NodeMetrics) -> None:
    port = metrics.start(0)
    with pytest.raises(RuntimeError, match="already running"):
        metrics.start(0)
    metrics.stop()
    with pytest.raises(urllib.error.URLError):
        _fetch(port)
    metrics.stop()  # stopping twice is harmless
    assert metrics.start(0) > 0


def test_a_busy_port_is_reported(metrics: NodeMetrics) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            metrics.start(port)
