"""Server-side mutual TLS for a node: only peers with a federation certificate connect."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from fedtrade.trust.pki import TlsMaterial

__all__ = ["peer_ids", "rotating_server_credentials", "server_credentials"]


def _configuration(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.private_key, material.certificate_chain)],
        root_certificates=material.root_certificates,
    )


def server_credentials(material: TlsMaterial) -> grpc.ServerCredentials:
    """Credentials that present the node's certificate and require a client certificate
    issued by the federation CA."""
    return grpc.ssl_server_credentials(
        [(material.private_key, material.certificate_chain)],
        root_certificates=material.root_certificates,
        require_client_auth=True,
    )


def rotating_server_credentials(current: Callable[[], TlsMaterial]) -> grpc.ServerCredentials:
    """Like ``server_credentials``, but each new connection uses ``current()``.

    ``current`` is called on every TLS handshake and must be cheap (return the
    material held by the node's state, reloaded with its config): a renewed
    certificate then takes effect without a restart. Established connections
    keep the certificate they were opened with.
    """
    served = current()

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        nonlocal served
        material = current()
        if material is served:
            return None  # gRPC keeps the configuration in use
        served = material
        return _configuration(material)

    return grpc.dynamic_ssl_server_credentials(
        _configuration(served),
        fetch,  # type: ignore[arg-type]  # grpc documents None as "no change"; the stubs omit it
        require_client_authentication=True,
    )


def peer_ids(context: grpc.ServicerContext) -> frozenset[str]:
    """The ids (certificate DNS names) of the authenticated TLS peer of a call; empty without
    TLS."""
    identities = context.peer_identities() or ()
    return frozenset(identity.decode("ascii", "replace") for identity in identities)
