"""Signed envelopes in files: one JSON object per line, bytes in base64.

Used for audit checkpoints (``fedtrade evidence checkpoints``, the node's
checkpoint file) and for queries waiting for approvers (``fedtrade query
--sign-only``, ``fedtrade approve``, ``fedtrade send``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fedtrade.protocol.json_text import parse_json
from fedtrade.trust.envelope import Envelope, Signature
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.files import FileShapeError, not_regular, read_capped

__all__ = ["envelope_from_record", "envelope_line", "read_envelope_lines", "write_envelope_lines"]

_MAX_FILE_BYTES = 64 * 1024 * 1024


def envelope_line(envelope: Envelope) -> str:
    """One line of an envelope file: the envelope as JSON, bytes in base64."""
    return json.dumps({
        "payload_type": envelope.payload_type,
        "payload": base64.b64encode(envelope.payload).decode("ascii"),
        "signatures": [{"key_id": s.key_id, "sig": base64.b64encode(s.sig).decode("ascii")}
                       for s in envelope.signatures],
    }, separators=(",", ":"))


def envelope_from_record(item: Any) -> Envelope:
    """The envelope of one parsed line (ValueError, KeyError or TypeError if malformed)."""
    return Envelope(
        payload_type=str(item["payload_type"]),
        payload=base64.b64decode(item["payload"], validate=True),  # binascii.Error: ValueError
        signatures=tuple(
            Signature(str(s["key_id"]), base64.b64decode(s["sig"], validate=True))
            for s in item["signatures"]),
    )


def write_envelope_lines(path: Path, envelopes: Sequence[Envelope]) -> None:
    """Write ``envelopes`` to ``path``, replacing it in one rename."""
    kind = not_regular(path)
    if kind is not None:
        raise FedtradeError(f"{path}: cannot write: it is {kind}, not a regular file; give the "
                            "path of a file")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text("".join(envelope_line(e) + "\n" for e in envelopes))
        os.replace(tmp, path)
    except OSError as exc:
        raise FedtradeError(f"{path}: cannot write: {exc.strerror}") from exc


def read_envelope_lines(path: Path, what: str) -> Sequence[Envelope]:
    """The envelopes in a file of JSON lines; FedtradeError naming the file and line."""
    try:
        text = read_capped(path, _MAX_FILE_BYTES).decode("utf-8")
    except (OSError, FileShapeError, UnicodeDecodeError) as exc:
        raise FedtradeError(f"{path}: cannot read the {what} file: {exc}") from exc
    envelopes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            envelopes.append(envelope_from_record(parse_json(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise FedtradeError(
                f"{path}, line {number}: not a {what} envelope ({type(exc).__name__}); use a "
                "file written by fedtrade") from exc
    if not envelopes:
        raise FedtradeError(f"{path}: holds no {what}")
    return envelopes
