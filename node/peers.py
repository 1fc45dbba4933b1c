"""Which network peer sent the request being handled, for code below the servicer.

A server interceptor records the gRPC peer of each call (and the names in its
TLS client certificate) in context variables
while the call's handler runs, so the pipeline can count refusals per peer
without the servicer passing it along. The port is dropped: one client opens
many connections, and counting per port would let it spread its refusals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import grpc

from fedtrade.node.tls import peer_ids

__all__ = [
    "MAX_PEER_CHARS",
    "PeerInterceptor",
    "current_peer",
    "current_peer_identities",
    "peer_host",
]

MAX_PEER_CHARS = 64
_UNKNOWN = "unknown"
_PEER: ContextVar[str] = ContextVar("fedtrade_peer", default=_UNKNOWN)
_PEER_IDS: ContextVar[frozenset[str]] = ContextVar("fedtrade_peer_ids", default=frozenset())


def peer_host(peer: str) -> str:
    """``ipv4:127.0.0.1:5000`` -> ``ipv4:127.0.0.1``, capped; unix sockets stay as they are."""
    if peer.startswith(("ipv4:", "ipv6:")):
        peer = peer.rpartition(":")[0]
    return peer[:MAX_PEER_CHARS] or _UNKNOWN


def current_peer() -> str:
    """The peer host of the call being handled in this thread ('unknown' outside a call)."""
    return _PEER.get()


def current_peer_identities() -> frozenset[str]:
    """The certificate names of this call's TLS client (empty without TLS or outside a call)."""
    return _PEER_IDS.get()


def _enter(context: grpc.ServicerContext) -> None:
    _PEER.set(peer_host(context.peer()))
    _PEER_IDS.set(peer_ids(context))


def _leave() -> None:
    _PEER.set(_UNKNOWN)
    _PEER_IDS.set(frozenset())


def _unary(behaviour: Callable[[Any, grpc.ServicerContext], Any]) -> Callable[..., Any]:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        _enter(context)
        try:
            return behaviour(request, context)
        finally:
            _leave()

    return handle


def _stream(
    behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]],
) -> Callable[..., Iterator[Any]]:
    def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        # A streaming handler runs while its responses are drawn, in this same thread.
        # (set, not reset: a cancelled stream may be closed from another thread's context)
        _enter(context)
        try:
            yield from behaviour(request, context)
        finally:
            _leave()

    return handle


class PeerInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],  # type: ignore[type-arg]
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:  # type: ignore[type-arg]
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
