"""Keyed pseudonymous linkage tokens for consignees.

Nodes share a federation linkage secret that the coordinator never holds. For
each question, the token key is derived from that secret, the query id and the
digest of the attested manifest blocks the question is about (HKDF-SHA256), so
the same consignee gets the same token at every node that answers one question,
while tokens from two different questions cannot be joined: nodes answer a
query id once, ever (``node.replay``), and the same id with other blocks gives
another key.
"""

from __future__ import annotations

import hmac
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedtrade.trust.errors import KeyFileError
from fedtrade.trust.keys import read_secret_file, write_secret_file

__all__ = [
    "MIN_SECRET_BYTES",
    "consignee_material",
    "consignee_token",
    "generate_linkage_secret",
    "load_linkage_secret",
    "normalize_party",
    "query_token_key",
    "token_of",
]

MIN_SECRET_BYTES = 32
_INFO = b"fedtrade consignee token v2"
_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
_HINT = "create one with `fedtrade linkage-secret --out FILE` and give every node a copy"


# ASCII bytes: letters upper-cased, digits kept, everything else a space.
_ASCII_TABLE = bytes(
    (c - 32 if 97 <= c <= 122 else c) if chr(c).isalnum() and c < 128 else 32
    for c in range(256)
)


def normalize_party(text: str) -> str:
    """Upper-case, punctuation to spaces, whitespace collapsed.

    'Apt. 4,  Main st' and 'APT 4 MAIN ST' both become 'APT 4 MAIN ST'.
    """
    return " ".join(_NOT_ALNUM.sub(" ", text.upper()).split())


def consignee_material(name: str, address: str) -> bytes:
    """The normalized name and address that a consignee token is computed over."""
    if name.isascii() and address.isascii():  # the common case, fast (runs per row)
        return b" ".join(name.encode().translate(_ASCII_TABLE).split()) + b"\x1f" + \
            b" ".join(address.encode().translate(_ASCII_TABLE).split())
    return f"{normalize_party(name)}\x1f{normalize_party(address)}".encode()


def query_token_key(secret: bytes, query_id: bytes, attestation: bytes) -> bytes:
    """The token key of one question: ``attestation`` is the digest of its attested blocks."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=query_id, info=_INFO + attestation
    ).derive(secret)


def token_of(key: bytes, material: bytes) -> str:
    return hmac.digest(key, material, "sha256")[:16].hex()


def consignee_token(key: bytes, name: str, address: str) -> str:
    return token_of(key, consignee_material(name, address))


def generate_linkage_secret(path: Path) -> None:
    """Write a new random secret (mode 0600, never overwriting)."""
    write_secret_file(path, os.urandom(MIN_SECRET_BYTES).hex().encode() + b"\n", "linkage secret")


def load_linkage_secret(path: Path) -> bytes:
    text = read_secret_file(path, "linkage secret", hint=_HINT).strip()
    try:
        secret = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError(f"{path}: a linkage secret is hex text; {_HINT}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyFileError(
            f"{path}: the linkage secret has {len(secret)} bytes, at least {MIN_SECRET_BYTES} "
            f"are needed; {_HINT}"
        )
    return secret
