"""Manifest attestations: signed blocks of manifest lines, and the file they travel in.

A filer (the carrier or broker that filed a manifest) signs its lines in blocks,
one Ed25519 signature per block over the block's bytes (payload type
``PAYLOAD_MANIFEST_BLOCK``). A question carries the blocks it is about; a node
answers only for lines inside blocks its trust config says to trust, and takes
declared values and HS codes from them, never from the requester.

Blocks travel between filer and requester as DSSE JSON lines (one envelope per
line, payload and signatures base64).

A block's bytes are its protobuf serialization (deterministic: fields in number
order, so the lines come last; ``protocol.manifest_lines`` writes the lines' part
column-wise for the filer's attest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from fedtrade.protocol.json_text import parse_json
from fedtrade.protocol.wire import digest, timestamp
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope, Signature, sign
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey

__all__ = [
    "MAX_BLOCK_LINES",
    "PAYLOAD_MANIFEST_BLOCK",
    "attestation_digest",
    "digest_of_payload_digests",
    "parse_attestation",
    "read_attestations",
    "sign_block",
    "sign_blocks",
    "write_attestations",
]

PAYLOAD_MANIFEST_BLOCK = "application/vnd.fedtrade.manifest-block.v1+protobuf"
# Most lines one block may hold (a node refuses larger blocks).
MAX_BLOCK_LINES = 10_000


def sign_blocks(
    key: SigningKey,
    filer_id: str,
    lines: Sequence[attestation_pb2.ManifestLine],
    *,
    block_lines: int,
    valid_from: datetime,
    valid_until: datetime,
) -> list[Envelope]:
    """Cut ``lines`` into blocks of at most ``block_lines`` and sign each block once."""
    if not 1 <= block_lines <= MAX_BLOCK_LINES:
        raise DataError(f"a block holds 1 to {MAX_BLOCK_LINES} lines, not {block_lines}")
    return [sign_block(key, filer_id, attestation_pb2.ManifestBlock(
                lines=lines[start : start + block_lines]).SerializeToString(deterministic=True),
                       valid_from=valid_from, valid_until=valid_until)
            for start in range(0, len(lines), block_lines)]


def sign_block(
    key: SigningKey, filer_id: str, lines: bytes, *, valid_from: datetime, valid_until: datetime,
) -> Envelope:
    """Sign one block whose ``lines`` are given serialized (a ``ManifestBlock`` holding
    only them, serialized: ``manifest_lines.line_records`` joined)."""
    block = attestation_pb2.ManifestBlock(block_id=os.urandom(16), filer_id=filer_id)
    block.valid_from.CopyFrom(timestamp(valid_from))
    block.valid_until.CopyFrom(timestamp(valid_until))
    # serialized in field number order, the lines (field 5) come after the rest
    payload = block.SerializeToString(deterministic=True) + lines
    return sign(PAYLOAD_MANIFEST_BLOCK, payload, [key])


def attestation_digest(blocks: Iterable[Envelope]) -> bytes:
    """One digest for the set of blocks a question carries (order does not matter)."""
    return digest_of_payload_digests(digest(b.payload) for b in blocks)


def digest_of_payload_digests(digests: Iterable[bytes]) -> bytes:
    """``attestation_digest`` from the blocks' payload digests (SHA-256), already computed."""
    return hashlib.sha256(b"".join(sorted(digests))).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_attestations(path: Path, blocks: Iterable[Envelope]) -> None:
    try:
        with path.open("w", encoding="utf-8") as out:
            for block in blocks:
                record = {
                    "payloadType": block.payload_type,
                    "payload": _b64(block.payload),
                    "signatures": [{"keyid": s.key_id, "sig": _b64(s.sig)}
                                   for s in block.signatures],
                }
                out.write(json.dumps(record) + "\n")
    except OSError as exc:
        raise DataError(f"{path}: cannot write the attestations: {exc.strerror}") from None


def parse_attestation(line: str | bytes) -> Envelope:
    """One line of an attestation file as its envelope (not yet verified); ValueError,
    KeyError, TypeError or binascii.Error if it is not one."""
    record = parse_json(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    signatures = record["signatures"]
    if not isinstance(signatures, list):
        raise ValueError("signatures is not a list")
    return Envelope(
        payload_type=str(record["payloadType"]),
        payload=base64.b64decode(record["payload"], validate=True),
        signatures=tuple(
            Signature(str(s["keyid"]), base64.b64decode(s["sig"], validate=True))
            for s in signatures
        ),
    )


def read_attestations(path: Path) -> list[Envelope]:
    """The signed blocks of an attestation file (not yet verified)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the attestations ({exc})") from None
    blocks = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            blocks.append(parse_attestation(line))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise DataError(
                f"{path}:{number}: not a signed manifest block ({type(exc).__name__}: {exc}); "
                "use the file `fedtrade-node attest` wrote"
            ) from None
    if not blocks:
        raise DataError(f"{path}: holds no attested blocks")
    return blocks
