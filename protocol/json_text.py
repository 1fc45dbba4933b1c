"""JSON from files others write (attestations, signed envelopes, scorecards).

``json.loads`` recurses once per nesting level, so a line of a few hundred
thousand brackets raises RecursionError, which the readers' ``ValueError``
handling would let through as if it were a bug in fedtrade. Here it is a
``ValueError`` like any other text that is not the JSON expected. So are a key
given twice in one object (``json.loads`` keeps the last silently, where another
reader may keep the first) and NaN or Infinity, which are not JSON.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_json"]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) < len(pairs):
        again = next(key for index, (key, _) in enumerate(pairs)
                     if any(key == other for other, _ in pairs[:index]))
        raise ValueError(f"key {again[:64]!r} given twice in one object")
    return record


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str | bytes) -> Any:
    """``json.loads(text)``; ValueError (json.JSONDecodeError among them) if ``text`` is not
    JSON, repeats a key in an object, holds NaN or Infinity, or nests arrays and objects
    too deeply to read."""
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except RecursionError:
        raise ValueError("arrays or objects nested too deeply") from None
