"""Which network peer sent the request being handled, for code below the servicer.

The server's interceptor (``node.intake``) records the gRPC peer of each call (and
the names in its TLS client certificate) in context variables while the call's
handler runs, so the pipeline can count refusals per peer
without the servicer passing it along. The port is dropped: one client opens
many connections, and counting per port would let it spread its refusals.
"""

from __future__ import annotations

from contextvars import ContextVar

import grpc

from fedtrade.node.tls import peer_ids

__all__ = [
    "MAX_PEER_CHARS",
    "current_peer",
    "current_peer_identities",
    "enter_call",
    "leave_call",
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


def enter_call(context: grpc.ServicerContext) -> None:
    """Record the call's peer for this thread (the intake interceptor does, per call)."""
    _PEER.set(peer_host(context.peer()))
    _PEER_IDS.set(peer_ids(context))


def leave_call() -> None:
    # set, not reset: a cancelled stream may be closed from another thread's context
    _PEER.set(_UNKNOWN)
    _PEER_IDS.set(frozenset())
