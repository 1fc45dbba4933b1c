"""Names shared by every config: roles, ids and addresses."""

from __future__ import annotations

import re

__all__ = ["ROLES", "is_valid_id", "parse_address"]

ROLES: tuple[str, ...] = ("marketplace", "carrier", "broker")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def is_valid_id(text: str) -> bool:
    """Node and requester ids: 1-63 lowercase letters, digits, '.', '_' or '-'."""
    return _ID.match(text) is not None


def parse_address(text: str) -> tuple[str, int]:
    """Split ``host:port``; raises ValueError with a readable reason."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port such as 127.0.0.1:50051, got {text!r}")
    return host, int(port)
