from __future__ import annotations

import math
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fedtrade.node.config import load_node_config
from fedtrade.node.metrics import OTHER_QUERY, NodeMetrics
from fedtrade.sim.federation import Federation
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.pki import issue_certificate
from tests.conftest import wait_for

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


def test_metrics_endpoint_serves_recorded_requests(
    metrics: NodeMetrics, federation: Federation
) -> None:
    port = metrics.start(0)
    assert port > 0
    metrics.observe_request("shipment_known", "answered", "OK", 0.004, rows=3)
    metrics.observe_request("shipment_known", "answered", "OK", 0.2, rows=2)
    metrics.observe_request("shipment_known", "refused", "PERMISSION_DENIED", 0.001, rows=0)
    metrics.observe_request("describe", "answered", "OK", 0.002, rows=1)
    metrics.set_audit_log_entries(4)
    config = load_node_config(federation.node_configs["carrier-1"])
    assert config.tls is not None
    metrics.observe_config(config)

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
    assert samples[("fedtrade_config_version", _labels())] == config.version
    assert samples[("fedtrade_tls_certificate_expiry_timestamp_seconds", _labels())] == (
        config.tls.not_after.timestamp()
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
        with pytest.raises(FedtradeError, match=f"cannot serve metrics on 127.0.0.1:{port}: "
                           "Address already in use"):
            metrics.start(port)


def test_a_plaintext_node_exports_no_certificate_expiry(
    metrics: NodeMetrics, federation: Federation
) -> None:
    """No certificate: no expiry series at all, rather than 0 that an alert reads as expired."""
    config = load_node_config(federation.node_configs["carrier-1"])
    port = metrics.start(0)
    metrics.observe_config(replace(config, tls=None))
    assert "fedtrade_tls_certificate_expiry" not in _fetch(port)
    metrics.observe_config(config)
    assert "fedtrade_tls_certificate_expiry" in _fetch(port)
    metrics.observe_config(replace(config, tls=None))
    assert "fedtrade_tls_certificate_expiry" not in _fetch(port)


# --- a running `fedtrade-node serve` ----------------------------------------------------------

NODE = "broker-1"


@contextmanager
def serving_with_metrics(config: Path) -> Iterator[int]:
    """Run `fedtrade-node serve --metrics-port 0`; yield the metrics port from its log."""
    log = config.parent / "node.log"
    port_file = config.parent / "node.port"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fedtrade.node.cli", "serve", "--config", str(config),
             "--port-file", str(port_file), "--metrics-port", "0"],
            stdout=sink, stderr=subprocess.STDOUT, text=True,
        )
    try:
        if not wait_for(lambda: port_file.exists() or process.poll() is not None, 30):
            pytest.fail(f"node did not start: {log.read_text()}")
        found = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", log.read_text())
        assert found is not None, log.read_text()
        yield int(found.group(1))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()


def _gauges(port: int) -> tuple[float, float]:
    samples = _samples(_fetch(port))
    return (samples[("fedtrade_config_version", _labels())],
            samples[("fedtrade_tls_certificate_expiry_timestamp_seconds", _labels())])


@pytest.mark.slow
def test_running_node_shows_its_certificate_and_config_reloads(federation: Federation) -> None:
    """The README's expiry alert reads a real certificate; a renewal by reload moves both."""
    config_path = federation.node_configs[NODE]
    first = load_node_config(config_path)
    assert first.tls is not None
    with serving_with_metrics(config_path) as port:
        assert _gauges(port) == (1, first.tls.not_after.timestamp())

        renewed = issue_certificate(federation.root / "ca", NODE, federation.root / "renewed",
                                    days=30)
        text = config_path.read_text()
        for kind in ("crt", "key"):
            text = text.replace(f"keys/{NODE}.tls.{kind}", f"renewed/{NODE}.tls.{kind}")
        config_path.write_text(text.replace("version: 1\n", "version: 2\n", 1))

        expected = (2, renewed.not_after.timestamp())
        assert wait_for(lambda: _gauges(port) == expected, 15), _gauges(port)
    assert renewed.not_after < first.tls.not_after  # the gauge really moved


def test_the_audit_log_length_is_read_when_the_metrics_are_read(metrics: NodeMetrics) -> None:
    entries = [5]
    metrics.watch_audit_log(lambda: entries[0])
    assert metrics.watching_audit_log
    port = metrics.start(0)
    assert _samples(_fetch(port))[("fedtrade_audit_log_entries", _labels())] == 5
    entries[0] = 9
    assert _samples(_fetch(port))[("fedtrade_audit_log_entries", _labels())] == 9


def test_an_unreachable_store_shows_no_audit_log_length(metrics: NodeMetrics) -> None:
    def unreachable() -> int:
        raise FedtradeError("the state store cannot be reached")

    metrics.watch_audit_log(unreachable)
    port = metrics.start(0)
    assert math.isnan(_samples(_fetch(port))[("fedtrade_audit_log_entries", _labels())])
