"""Signed scorecard files: the coordinator signs the document, anyone verifies it.

The document is signed as canonical JSON (sorted keys, no spaces) in a DSSE
envelope of payload type ``PAYLOAD_AEO_SCORECARD`` with the coordinator's key.
``NAME.json`` holds the readable document next to its envelope; ``NAME.html``
carries the envelope inside the page. ``verify_scorecard`` checks the signature
against the coordinator's public key, then that the readable part is exactly
what was signed (for a page: that re-rendering the signed document gives the
same bytes), so neither file can be edited without failing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fedtrade.coordinator.result_files import atomic_text_file
from fedtrade.coordinator.scorecard_html import ENVELOPE_SCRIPT_ID, render_scorecard
from fedtrade.protocol.envelope_files import envelope_from_record, envelope_line
from fedtrade.protocol.json_text import parse_json
from fedtrade.trust.envelope import Envelope, sign, verify
from fedtrade.trust.errors import DataError, FedtradeError
from fedtrade.trust.files import FileShapeError, read_capped
from fedtrade.trust.keys import PublicKey, SigningKey

__all__ = ["PAYLOAD_AEO_SCORECARD", "sign_scorecard", "verify_scorecard", "write_scorecard"]

PAYLOAD_AEO_SCORECARD = "application/vnd.fedtrade.aeo-scorecard.v1+json"
_MAX_BYTES = 64 * 1024 * 1024
_SCRIPT = re.compile(
    rf'<script type="application/json" id="{ENVELOPE_SCRIPT_ID}">(.*?)</script>', re.S)


def _canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sign_scorecard(document: dict[str, Any], key: SigningKey) -> Envelope:
    return sign(PAYLOAD_AEO_SCORECARD, _canonical(document), [key])


def write_scorecard(stem: Path, document: dict[str, Any], envelope: Envelope
                    ) -> tuple[Path, Path]:
    """Write ``STEM.json`` and ``STEM.html``; both carry the signed envelope."""
    line = envelope_line(envelope)
    json_path, html_path = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".html")
    with atomic_text_file(json_path) as out:
        out.write(json.dumps({"scorecard": document, "signed": json.loads(line)}, indent=2,
                             ensure_ascii=False) + "\n")
    with atomic_text_file(html_path) as out:
        out.write(render_scorecard(document, line))
    return json_path, html_path


def verify_scorecard(path: Path, coordinator_key: PublicKey) -> dict[str, Any]:
    """The scorecard in ``path`` (.json or .html) once its signature and content check out."""
    try:
        text = read_capped(path, _MAX_BYTES).decode("utf-8")
    except (OSError, FileShapeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the scorecard: {exc}") from None
    is_html = path.suffix.lower() in (".html", ".htm")
    try:
        if is_html:
            found = _SCRIPT.search(text)
            if found is None:
                raise DataError(f"{path}: no signed scorecard inside this page")
            record, shown = parse_json(found.group(1).replace("<\\/", "</")), None
        else:
            whole = parse_json(text)
            record, shown = whole["signed"], whole["scorecard"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a scorecard file written by fedtrade ({exc})") from None
    try:
        envelope = envelope_from_record(record)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: the signed scorecard envelope is malformed ({exc})") from None
    try:
        payload = verify(envelope, {coordinator_key.key_id: coordinator_key},
                         payload_type=PAYLOAD_AEO_SCORECARD)
    except FedtradeError as exc:
        raise DataError(f"{path}: the scorecard's signature does not verify against the "
                        f"coordinator key {coordinator_key.key_id[:16]}…: {exc}") from None
    document: dict[str, Any] = json.loads(payload)
    if is_html and render_scorecard(document, envelope_line(envelope)) != text:
        raise DataError(f"{path}: the page differs from the scorecard the coordinator signed "
                        "(it was altered after signing); ask for the original")
    if not is_html and _canonical(shown) != payload:
        raise DataError(f"{path}: the readable scorecard differs from what the coordinator "
                        "signed (it was altered after signing); ask for the original")
    return document
