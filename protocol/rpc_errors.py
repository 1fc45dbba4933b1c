"""What a failed gRPC call says: its status code and details, read in one place.

``grpc.RpcError`` promises neither ``code()`` nor ``details()``: only errors that are
also a ``grpc.Call`` carry them. Every caller (the coordinator's client, its TLS
diagnosis, the node's health probe) reads a failure through ``rpc_failure``.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

__all__ = ["RpcFailure", "rpc_failure"]


@dataclass(frozen=True)
class RpcFailure:
    code: grpc.StatusCode
    details: str

    def __str__(self) -> str:
        return f"{self.code.name}: {self.details}"


def rpc_failure(exc: grpc.RpcError) -> RpcFailure:
    """The status code and details of ``exc``; UNKNOWN and its text when gRPC gives none."""
    if isinstance(exc, grpc.Call):
        return RpcFailure(exc.code(), exc.details() or str(exc))
    return RpcFailure(grpc.StatusCode.UNKNOWN, str(exc))
