"""The node's gRPC server: a thin servicer over the plain functions in node.pipeline."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fedtrade.node.health import HealthWatch, database_check, key_check
from fedtrade.node.intake import Intake
from fedtrade.node.peers import current_peer
from fedtrade.node.pipeline import answer_describe, answer_query, answer_screen
from fedtrade.node.state import NodeState
from fedtrade.node.status import status_for
from fedtrade.node.tls import rotating_server_credentials
from fedtrade.protocol.limits import LARGE_REQUEST_BYTES, MAX_MESSAGE_BYTES
from fedtrade.protocol.wire import envelope_from_proto, envelope_to_proto
from fedtrade.protos import envelope_pb2, node_pb2, node_pb2_grpc
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import FedtradeError, RateLimitError
from fedtrade.trust.ids import parse_address

__all__ = ["SERVICE_NAME", "NodeServer", "NodeServicer", "create_server"]

log = logging.getLogger("fedtrade.node")

SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name


def _abort(context: grpc.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, FedtradeError):
        if isinstance(exc, RateLimitError):
            context.set_trailing_metadata((("retry-after-ms", str(int(exc.retry_after * 1000))),))
        context.abort(status_for(exc), str(exc))
    log.exception("internal error while answering a request")
    context.abort(
        grpc.StatusCode.INTERNAL, "internal error in the node; its operator can see the log"
    )


class NodeServicer(node_pb2_grpc.NodeServiceServicer):
    """Verifies nothing itself: converts, delegates, and maps errors to status codes."""

    def __init__(self, state: NodeState) -> None:
        self._state = state

    def _unary(
        self,
        handler: Callable[[NodeState, Envelope], Envelope],
        request: envelope_pb2.Envelope,
        into: envelope_pb2.Envelope,
        context: grpc.ServicerContext,
    ) -> None:
        """Answer ``request`` into ``into``, the response's own envelope field (not a copy)."""
        try:
            envelope_to_proto(handler(self._state, envelope_from_proto(request)), into)
        except Exception as exc:  # every failure becomes a status code, in one place
            _abort(context, exc)

    def Describe(
        self, request: node_pb2.DescribeRequest, context: grpc.ServicerContext
    ) -> node_pb2.DescribeResponse:
        response = node_pb2.DescribeResponse()
        self._unary(answer_describe, request.envelope, response.envelope, context)
        return response

    def Query(
        self, request: node_pb2.QueryRequest, context: grpc.ServicerContext
    ) -> node_pb2.QueryResponse:
        response = node_pb2.QueryResponse()
        self._unary(answer_query, request.envelope, response.envelope, context)
        return response

    def Screen(
        self, request: node_pb2.ScreenRequest, context: grpc.ServicerContext
    ) -> Iterator[node_pb2.ScreenResponse]:
        try:
            chunks = answer_screen(self._state, envelope_from_proto(request.envelope))
        except Exception as exc:
            _abort(context, exc)
        for chunk in chunks:
            response = node_pb2.ScreenResponse()
            envelope_to_proto(chunk, response.envelope)
            yield response


@dataclass
class NodeServer:
    """A node's gRPC server and the watch that keeps its health status true."""

    server: grpc.Server
    port: int
    health: HealthWatch

    def start(self) -> None:
        self.server.start()
        self.health.start()

    def stop(self, grace: float | None) -> None:
        """Stop accepting; let in-flight requests finish within ``grace`` seconds."""
        self.health.stop()
        self.server.stop(grace).wait()


def create_server(
    state: NodeState,
    address: str,
    *,
    max_workers: int = 8,
    max_concurrent: int = 64,
    health_interval: float = 5.0,
) -> NodeServer:
    """Build a node server bound to ``address`` ("host:0" picks a free port).

    Over ``max_concurrent`` requests in progress, gRPC itself refuses new calls
    with RESOURCE_EXHAUSTED instead of queueing without bound; so it does a message
    over ``node.max_message_bytes``, and the intake limit a large request beyond
    ``node.max_large_requests`` at once (see node.intake).
    """
    _check_bindable(address)
    intake = state.config.intake

    def refused(reason: str, message: str) -> None:
        state.refusals.add(current_peer(), reason, message)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fedtrade-rpc"),
        options=[
            ("grpc.max_receive_message_length", intake.max_message_bytes),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=max_concurrent,
        interceptors=[Intake(LARGE_REQUEST_BYTES, intake.max_large_requests, refused)],
    )
    node_pb2_grpc.add_NodeServiceServicer_to_server(NodeServicer(state), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )
    config = state.config
    checks = [database_check(config.database), key_check(config.signing_key), state.store.check]
    watch = HealthWatch(health_servicer, ("", SERVICE_NAME), checks, health_interval)
    tls = config.tls
    try:
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            # read the material from the config in force, so a reload renews the certificate
            port = server.add_secure_port(
                address, rotating_server_credentials(lambda: state.config.tls or tls))
    except RuntimeError as exc:  # gRPC logs the reason and raises only "Failed to bind"
        raise FedtradeError(_cannot_listen(address, "gRPC could not bind it")) from exc
    return NodeServer(server, port, watch)


def _cannot_listen(address: str, reason: str) -> str:
    return (f"cannot listen on {address}: {reason}; check node.listen (or --listen): the port "
            "must be free and the host an address of this machine")


def _check_bindable(address: str) -> None:
    """Raise a FedtradeError with the system's reason if ``address`` cannot be bound.

    gRPC itself only logs why a bind failed (in use, not a local address) and
    raises a bare "Failed to bind"; a trial bind names the reason in one line.
    """
    try:
        host, port = parse_address(address)
    except ValueError as exc:
        raise FedtradeError(f"cannot listen on {address}: {exc}") from None
    try:
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, proto) as trial:
                trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
                trial.bind(sockaddr)
    except OSError as exc:  # socket.gaierror included: an unknown host name
        raise FedtradeError(_cannot_listen(address, exc.strerror or str(exc))) from exc
