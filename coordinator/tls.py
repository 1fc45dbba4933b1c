"""Client-side mutual TLS for the coordinator: connect to a node and check who it is.

The coordinator addresses nodes by host:port, but trusts them by id: the TLS
handshake checks that the node's certificate, issued by the federation CA,
names the node id from the coordinator config, whatever host name the address
uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from fedtrade.protocol.rpc_errors import rpc_failure
from fedtrade.trust.pki import TlsMaterial

__all__ = ["channel_credentials", "explain_tls_failure", "secure_channel"]

_TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"


def channel_credentials(material: TlsMaterial) -> grpc.ChannelCredentials:
    """Trust only the federation CA and present our own certificate as client certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=material.root_certificates,
        private_key=material.private_key,
        certificate_chain=material.certificate_chain,
    )


def secure_channel(
    address: str,
    node_id: str,
    material: TlsMaterial,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A mutual-TLS channel to ``address`` that accepts only a certificate naming ``node_id``."""
    if any(name == _TARGET_NAME_OVERRIDE for name, _ in options):
        raise ValueError(f"{_TARGET_NAME_OVERRIDE} is set from node_id; do not pass it")
    return grpc.secure_channel(
        address,
        channel_credentials(material),
        options=[*options, (_TARGET_NAME_OVERRIDE, node_id)],
    )


# Substrings of gRPC/BoringSSL error details, most specific first, and what they mean.
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("Hostname Verification", "Peer name", "No match found for server name"),
        "its certificate does not name {node}: the address may point at another node, or the "
        "node presents another party's certificate; its operator should serve a certificate "
        "from `fedtrade pki issue --name {node}`",
    ),
    (
        ("certificate has expired",),
        "its certificate has expired; its operator must issue a new one with "
        "`fedtrade pki issue --name {node}`",
    ),
    (
        ("certificate is not yet valid",),
        "its certificate is not valid yet; check the clocks of both machines",
    ),
    (
        (
            "unable to get local issuer certificate",
            "self signed certificate",
            "self-signed certificate",
            "CERTIFICATE_VERIFY_FAILED",
        ),
        "its certificate is not from the federation CA named in the coordinator's TLS config; "
        "check that both sides use the same ca.crt",
    ),
    (
        ("WRONG_VERSION_NUMBER",),
        "it does not speak TLS on this address (a plaintext server?); enable TLS in the node's "
        "config or check the address",
    ),
    (
        ("Socket closed", "Connection reset", "Broken pipe"),
        "the node closed the connection during the handshake: it most likely refused our "
        "client certificate (expired, or not from its federation CA), or it expects TLS and "
        "we spoke plaintext; the node's log names the reason",
    ),
    (
        ("Connection refused",),
        "nothing accepts connections at its address; is the node running, and is the address "
        "in the coordinator config right?",
    ),
)


def explain_tls_failure(exc: grpc.RpcError, node_id: str) -> str:
    """A person-readable reason for a failed connection to ``node_id``, as far as gRPC tells."""
    failure = rpc_failure(exc)
    if failure.code == grpc.StatusCode.UNAVAILABLE:
        for needles, meaning in _CAUSES:
            if any(needle in failure.details for needle in needles):
                return f"connection to {node_id} failed: {meaning.format(node=node_id)}"
    if failure.code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return (
            f"connection to {node_id} timed out before an answer: the node is overloaded or "
            "unreachable (a firewall dropping packets?)"
        )
    return f"call to {node_id} failed with {failure}"
