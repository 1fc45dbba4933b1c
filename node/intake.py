"""The node's one server interceptor: who is calling, and bounds on large requests.

For the whole of each unary-request call it records the caller's peer and TLS names
(``node.peers``), so refusals count per peer and the pipeline can check that the
certificate may speak for the signing requester. One interceptor, one wrapper per
method (built once, not per call): each layer of wrapping costs every request.

gRPC itself refuses a message over the node's ``max_message_bytes`` (reading
only its length) and more than ``max_concurrent`` calls in progress. Within
those, this interceptor takes each request's raw bytes instead of the parsed
message and refuses with RESOURCE_EXHAUSTED, before parsing (each parse costs
a copy or two of the message), and counting the refusal for the peer:

- a unary call (Query, Describe) over ``threshold`` bytes: none is that large
  legitimately (a batch of the most shipments one query may carry is far under);
- a streaming call (Screen) over ``threshold`` bytes while ``slots`` such calls
  are already being handled (a whole manifest's consignee totals is that large).

A request gRPC cannot parse is refused with INVALID_ARGUMENT.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeAlias

import grpc
from google.protobuf.message import DecodeError

from fedtrade.node.peers import enter_call, leave_call

__all__ = ["Intake"]

Refused = Callable[[str, str], None]  # (reason, message)
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class Intake(grpc.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, threshold: int, slots: int, refused: Refused) -> None:
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}
        self._threshold = threshold
        self._slots = threading.BoundedSemaphore(slots)
        self._busy = (f"the node is already handling {slots} requests over {threshold} bytes; "
                      "retry later, or send smaller requests")
        self._too_large = (f"a Query or Describe request is at most {threshold} bytes; "
                           "send fewer shipments per query")
        self._refused = refused

    def _refuse(self, context: grpc.ServicerContext, message: str) -> NoReturn:
        self._refused("large request limit", message)
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)

    def _admit(self, raw: bytes, context: grpc.ServicerContext) -> bool:
        """True if ``raw`` is large and took a slot; aborts the call if no slot is free."""
        if len(raw) <= self._threshold:
            return False
        if not self._slots.acquire(blocking=False):
            self._refuse(context, self._busy)
        return True

    def _parse(self, parse: Callable[[bytes], Any] | None, raw: bytes,
               context: grpc.ServicerContext) -> Any:
        if parse is None:
            return raw
        try:
            return parse(raw)
        except DecodeError:
            self._refused("malformed message", "not a valid protobuf message")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "the request is not a valid protobuf message of this call's type")

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler
        method: str = handler_call_details.method
        known = self._wrapped.get(method)
        if known is None or known[0] is not handler:
            known = self._wrapped[method] = (handler, self._wrap(handler))
        return known[1]

    def _wrap(self, handler: Handler) -> Handler:
        parse = handler.request_deserializer
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            def handle(raw: bytes, context: grpc.ServicerContext) -> Any:
                enter_call(context)
                try:
                    if len(raw) > self._threshold:
                        self._refuse(context, self._too_large)
                    request = self._parse(parse, raw, context)
                    del raw  # do not hold the bytes while the request is handled
                    return unary(request, context)
                finally:
                    leave_call()

            return grpc.unary_unary_rpc_method_handler(
                handle, response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            def handle_stream(raw: bytes, context: grpc.ServicerContext) -> Iterator[Any]:
                # a streaming handler runs while its responses are drawn, in this same thread
                enter_call(context)
                try:
                    large = self._admit(raw, context)
                    try:
                        request = self._parse(parse, raw, context)
                        del raw
                        yield from stream(request, context)
                    finally:
                        if large:
                            self._slots.release()
                finally:
                    leave_call()

            return grpc.unary_stream_rpc_method_handler(
                handle_stream, response_serializer=handler.response_serializer)
        return handler
