"""JSON from files others write (attestations, signed envelopes, scorecards).

``json.loads`` recurses once per nesting level, so a line of a few hundred
thousand brackets raises RecursionError, which the readers' ``ValueError``
handling would let through as if it were a bug in fedtrade. Here it is a
``ValueError`` like any other text that is not the JSON expected.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_json"]


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``; ValueError (json.JSONDecodeError among them) if ``text`` is not
    JSON or nests arrays and objects too deeply to read."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply") from None
