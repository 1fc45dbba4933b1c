"""The node's gRPC server: a thin servicer over the plain functions in node.pipeline."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from node.pipeline import answer_describe, answer_query, answer_screen
from node.state import NodeState
from node.status import status_for
from protos import envelope_pb2, node_pb2, node_pb2_grpc
from trust.envelope import Envelope
from trust.errors import FedtradeError, RateLimitError
from trust.wire import envelope_from_proto, envelope_to_proto

__all__ = ["MAX_MESSAGE_BYTES", "NodeServicer", "create_server"]

log = logging.getLogger("fedtrade.node")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
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
        context: grpc.ServicerContext,
    ) -> envelope_pb2.Envelope:
        try:
            return envelope_to_proto(handler(self._state, envelope_from_proto(request)))
        except Exception as exc:  # every failure becomes a status code, in one place
            _abort(context, exc)

    def Describe(
        self, request: envelope_pb2.Envelope, context: grpc.ServicerContext
    ) -> envelope_pb2.Envelope:
        return self._unary(answer_describe, request, context)

    def Query(
        self, request: envelope_pb2.Envelope, context: grpc.ServicerContext
    ) -> envelope_pb2.Envelope:
        return self._unary(answer_query, request, context)

    def Screen(
        self, request: envelope_pb2.Envelope, context: grpc.ServicerContext
    ) -> Iterator[envelope_pb2.Envelope]:
        try:
            chunks = answer_screen(self._state, envelope_from_proto(request))
        except Exception as exc:
            _abort(context, exc)
        for chunk in chunks:
            yield envelope_to_proto(chunk)


def create_server(
    state: NodeState, address: str, *, max_workers: int = 8
) -> tuple[grpc.Server, int]:
    """Build a started-ready server bound to ``address`` ("host:0" picks a free port)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fedtrade-rpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    node_pb2_grpc.add_NodeServiceServicer_to_server(NodeServicer(state), server)
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not listen on {address}: the address is in use or not local")
    return server, port
