"""Health of a running node for the standard gRPC health service, and a probe client.

A node is SERVING while its store and key files are usable. ``HealthWatch``
runs a list of checks every few seconds and sets the status of the listed
services on grpc's ``HealthServicer``, so load balancers, orchestrators and
``grpc_health_probe`` stop sending requests to a node that could only refuse
them, and resume when an operator fixed the problem.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fedtrade.protocol.rpc_errors import rpc_failure
from fedtrade.trust.errors import KeyFileError, NodeUnavailableError
from fedtrade.trust.keys import read_secret_file
from fedtrade.trust.pki import TlsMaterial

__all__ = ["Check", "HealthWatch", "database_check", "key_check", "probe"]

log = logging.getLogger("fedtrade.node.health")

Check = Callable[[], str | None]
"""A health check: returns None when all is well, else what is wrong and what to do."""

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def database_check(path: Path) -> Check:
    """The node's SQLite store exists, this process may read it, and it has an audit log."""

    def check() -> str | None:
        if not path.exists():
            return f"database {path} is missing; restore it from backup or fix the config"
        if not os.access(path, os.R_OK):
            return f"database {path} is not readable by this process; check its owner and mode"
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
            try:
                conn.execute("SELECT 1 FROM audit_log LIMIT 1").fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return f"database {path} is unusable ({exc}); restore it from backup"
        return None

    return check


def key_check(path: Path, what: str = "private key") -> Check:
    """The key file exists, is private to its owner (mode 0600) and can be read."""

    def check() -> str | None:
        try:
            read_secret_file(path, what, hint="restore the file the config names")
        except KeyFileError as exc:
            return str(exc)
        return None

    return check


class HealthWatch:
    """Keeps the health status of ``service_names`` in line with ``checks``, in a thread."""

    def __init__(
        self,
        health_servicer: health.HealthServicer,
        service_names: Sequence[str],
        checks: Sequence[Check],
        interval: float,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        self._servicer = health_servicer
        self._services = tuple(service_names)
        self._checks = tuple(checks)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._problems: tuple[str, ...] | None = None
        self._lock = threading.Lock()  # one round at a time, so statuses are set in order

    @property
    def problems(self) -> tuple[str, ...]:
        """What the last round of checks found wrong; empty when the node is healthy."""
        return self._problems or ()

    def check_now(self) -> tuple[str, ...]:
        """Run every check once, set the services' status and return the problems found."""
        with self._lock:
            return self._check_now()

    def _check_now(self) -> tuple[str, ...]:
        problems = []
        for check in self._checks:
            try:
                problem = check()
            except Exception as exc:  # a broken check must not stop the watch
                problem = f"health check failed: {type(exc).__name__}: {exc}"
            if problem is not None:
                problems.append(problem)
        found = tuple(problems)
        before, self._problems = self._problems, found
        status = _NOT_SERVING if found else _SERVING
        for service in self._services:
            self._servicer.set(service, status)
        if found and found != before:
            log.warning("node is NOT_SERVING: %s", "; ".join(found))
        elif not found and before:
            log.info("node is SERVING again")
        return found

    def start(self) -> None:
        """Check once now, then every ``interval`` seconds until ``stop``."""
        if self._thread is not None:
            raise RuntimeError("the health watch is already running")
        self.check_now()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fedtrade-health", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check_now()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None


def probe(
    address: str,
    material: TlsMaterial | None,
    timeout: float,
    *,
    service: str = "",
    expected_id: str | None = None,
) -> str:
    """Ask the health service at ``address``; returns the status name, e.g. "SERVING".

    With ``material`` the probe connects over mutual TLS and presents that
    certificate; the server must be named ``expected_id``, by default the id
    in the material's own certificate (a node probing itself). Raises
    ``NodeUnavailableError`` when no answer arrives.
    """
    if material is None:
        channel = grpc.insecure_channel(address)
    else:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=material.root_certificates,
            private_key=material.private_key,
            certificate_chain=material.certificate_chain,
        )
        name = expected_id or min(material.names)
        channel = grpc.secure_channel(
            address, credentials, options=[("grpc.ssl_target_name_override", name)]
        )
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as exc:
            raise NodeUnavailableError(
                f"health check of {address} failed: {rpc_failure(exc)}"
            ) from None
    status: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return status
