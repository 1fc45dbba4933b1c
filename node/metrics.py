"""Prometheus metrics of a node, served over HTTP at /metrics.

Metrics carry counts and timings only, never parameters or answers. Every
label value is bounded: query names outside the catalogue (a refused request
may name anything) are counted as ``other``, so a requester cannot blow up
the number of series.

Each ``NodeMetrics`` has its own registry, so several nodes in one process
(tests, the demo) do not share or clash over series.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from fedtrade.node.config import NodeConfig
from fedtrade.protocol.catalogue import CATALOGUE, DESCRIBE
from fedtrade.trust.errors import FedtradeError

__all__ = ["OTHER_QUERY", "NodeMetrics"]

OTHER_QUERY = "other"
# Signed single queries take about a millisecond on loopback; batches take seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class NodeMetrics:
    """The node's counters, histogram and gauges, and an optional HTTP endpoint for them."""

    def __init__(self, queries: Collection[str] = (*CATALOGUE, DESCRIBE)) -> None:
        self._queries = frozenset(queries)
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "fedtrade_requests",
            "Signed requests received, by query, decision (answered, refused, failed) "
            "and gRPC status code.",
            ["query", "decision", "status"],
            registry=self.registry,
        )
        self._seconds = Histogram(
            "fedtrade_request_seconds",
            "Time from receiving a request to its answer or refusal, in seconds.",
            ["query"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._rows = Counter(
            "fedtrade_rows_returned",
            "Result rows returned in answers (shipments answered, aggregate cells); a proxy "
            "for the rows scanned, which SQLite does not report.",
            ["query"],
            registry=self.registry,
        )
        self._audit_entries = Gauge(
            "fedtrade_audit_log_entries",
            "Entries in the node's audit log.",
            registry=self.registry,
        )
        self._config_version = Gauge(
            "fedtrade_config_version",
            "Version of the trust config in force (changes when a reload is applied).",
            registry=self.registry,
        )
        self._refused_reloads = Counter(
            "fedtrade_config_reloads_refused",
            "Edited trust configs refused (invalid, version not increased, or a change that "
            "needs a restart); the previous config stays in force. Alert on any increase.",
            registry=self.registry,
        )
        self._enumeration_alarms = Counter(
            "fedtrade_enumeration_alarms",
            "Requesters throttled because most shipments they asked about in a window "
            "were not known to this node (see the alarms log). Alert on any increase.",
            ["requester"],
            registry=self.registry,
        )
        # registered once the node has a certificate: a plaintext node exports no expiry
        # rather than 0, which an expiry alert would read as long expired
        self._certificate_expiry: Gauge | None = None
        # each label combination's series, looked up once (``labels`` validates and locks);
        # bounded: queries outside the catalogue are "other", decisions and statuses are fixed
        self._series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._returned: dict[str, Counter] = {}
        self._audit_log_watched = False
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def _query_label(self, query: str) -> str:
        return query if query in self._queries else OTHER_QUERY

    def observe_request(
        self, query: str, decision: str, status: str, seconds: float, rows: int
    ) -> None:
        """Count one request; ``rows`` is the number of result rows returned (0 if refused)."""
        label = self._query_label(query)
        series = self._series.get((label, decision, status))
        if series is None:
            series = self._series[(label, decision, status)] = (
                self._requests.labels(query=label, decision=decision, status=status),
                self._seconds.labels(query=label))
        series[0].inc()
        series[1].observe(seconds)
        if rows:
            returned = self._returned.get(label)
            if returned is None:
                returned = self._returned[label] = self._rows.labels(query=label)
            returned.inc(rows)

    def count_enumeration_alarm(self, requester: str) -> None:
        self._enumeration_alarms.labels(requester=requester).inc()

    def set_audit_log_entries(self, count: int) -> None:
        self._audit_entries.set(count)

    def watch_audit_log(self, count: Callable[[], int]) -> None:
        """Read the audit log's length from ``count`` when the metrics are read, not per
        request (a PostgreSQL store reads its head from the database); NaN while the store
        cannot say."""

        def read() -> float:
            try:
                return count()
            except FedtradeError:
                return math.nan

        self._audit_entries.set_function(read)
        self._audit_log_watched = True

    @property
    def watching_audit_log(self) -> bool:
        return self._audit_log_watched

    def observe_config(self, config: NodeConfig) -> None:
        """Show the config now in force: its version and its TLS certificate's expiry.

        Called at start-up and after every applied reload (a renewed certificate
        arrives with a reload).
        """
        self._config_version.set(config.version)
        if config.tls is None:
            if self._certificate_expiry is not None:
                self.registry.unregister(self._certificate_expiry)
                self._certificate_expiry = None
            return
        if self._certificate_expiry is None:
            self._certificate_expiry = Gauge(
                "fedtrade_tls_certificate_expiry_timestamp_seconds",
                "When the node's TLS certificate expires, as a Unix time; alert well before it.",
                registry=self.registry,
            )
        self._certificate_expiry.set(config.tls.not_after.timestamp())

    def count_refused_reload(self) -> None:
        self._refused_reloads.inc()

    def start(self, port: int, address: str = "127.0.0.1") -> int:
        """Serve /metrics over plain HTTP in a daemon thread; returns the bound port.

        Port 0 picks a free port. Bind to loopback or a private network: the
        endpoint has no authentication (its content is counts only).
        """
        if self._server is not None:
            raise RuntimeError("the metrics endpoint is already running")
        try:
            self._server, self._thread = start_http_server(
                port, addr=address, registry=self.registry
            )
        except OSError as exc:
            raise FedtradeError(
                f"cannot serve metrics on {address}:{port}: {exc.strerror}; choose another "
                "--metrics-port or stop the process that holds this one"
            ) from exc
        return int(self._server.server_port)

    def stop(self) -> None:
        """Stop the HTTP endpoint, if it runs."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None
