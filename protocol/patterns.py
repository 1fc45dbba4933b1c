"""Whether a whole column of texts fullmatches a pattern, without a call per text.

A batch carries thousands of house bills; calling ``fullmatch`` once per value costs
more than the rest of checking them. ``every_fullmatch`` joins the texts with newlines,
counts the newlines (no text may hold one) and then checks the joined text once:

- a pattern that is one class of ASCII letters and digits repeated ``{m,n}`` times (such
  as ``protocol.limits.HOUSE_BILL``) by deleting the class's characters from the joined
  bytes (nothing else may be left) and comparing the shortest and longest text with m
  and n (their lengths read from where the newlines are, by numpy);
- another pattern written with literal letters, digits, hyphens, groups, alternation,
  quantifiers and classes of those (none can match a newline) by one regex run of the
  pattern repeated between newlines;
- any other pattern by one ``fullmatch`` per text.

A caller that must name the first bad text looks for it only after this said no.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["every_fullmatch", "longest_match"]

# A pattern none of whose pieces can match a newline: no escapes, no ".", no negated
# class, no group other than plain and (?:...) ones, ^ and $ only at the ends.
_NEWLINE_FREE = re.compile(r"\^?(?:[A-Za-z0-9|)?{},*+-]|\((?:\?:|(?!\?))|\[[A-Za-z0-9-]+\])*\$?")
# One class of letters, digits and ranges of those, repeated {m} or {m,n} times.
_RUN = re.compile(r"\^?\[((?:[A-Za-z0-9](?:-[A-Za-z0-9])?)+)\]\{([0-9]+)(?:,([0-9]+))?\}\$?")
_RANGE = re.compile(r"([A-Za-z0-9])(?:-([A-Za-z0-9]))?")


@functools.cache
def _run(pattern: re.Pattern[str]) -> tuple[bytes, int, int] | None:
    """The class's characters (and a newline) as bytes, and the fewest and most of them."""
    found = _RUN.fullmatch(pattern.pattern)
    if found is None or pattern.flags & re.IGNORECASE:
        return None
    chars = {chr(c) for first, last in _RANGE.findall(found[1])
             for c in range(ord(first), ord(last or first) + 1)}
    fewest = int(found[2])
    return "".join(sorted(chars)).encode("ascii") + b"\n", fewest, int(found[3] or fewest)


@functools.cache
def _joined(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    if pattern.flags & (re.VERBOSE | re.DOTALL) or not _NEWLINE_FREE.fullmatch(pattern.pattern):
        return None
    body = pattern.pattern.removeprefix("^").removesuffix("$")
    try:
        return re.compile(f"(?:(?:{body})\n)*(?:{body})", pattern.flags)
    except re.error:  # a group reference cannot be repeated, for one
        return None


def longest_match(pattern: re.Pattern[str]) -> int | None:
    """The most characters a text ``pattern`` fullmatches can have, where ``every_fullmatch``
    knows it (a repeated class); None for any other pattern."""
    run = _run(pattern)
    return None if run is None else run[2]


def every_fullmatch(pattern: re.Pattern[str], texts: Sequence[str]) -> bool:
    """Whether ``pattern.fullmatch`` accepts every text of ``texts`` (all of them str)."""
    if not texts:
        return True
    run, joined_pattern = _run(pattern), _joined(pattern)
    if run is not None:
        return _every_in_run(run, texts)
    if joined_pattern is None:
        return all(map(pattern.fullmatch, texts))
    joined = "\n".join(texts)
    return (joined.count("\n") == len(texts) - 1
            and joined_pattern.fullmatch(joined) is not None)


# From this many texts the lengths are read from the newlines' places (numpy): 63 against
# 620 us for 5,000 house bills, but 22 against 3 us for 10 (numpy's set-up).
_COLUMN_FROM = 256


def _every_in_run(run: tuple[bytes, int, int], texts: Sequence[str]) -> bool:
    allowed, fewest, most = run
    joined = "\n".join(texts)
    if not joined.isascii():
        return False
    data = joined.encode("ascii")
    if data.translate(None, allowed):  # a character outside the class
        return False
    if len(texts) < _COLUMN_FROM:
        if data.count(b"\n") != len(texts) - 1:  # a text holds a newline
            return False
        return fewest <= min(map(len, texts)) and max(map(len, texts)) <= most
    # each text lies between two newlines (or an end), one byte a character (ASCII)
    bounds = np.empty(len(texts) + 1, np.int64)
    bounds[0], bounds[-1] = -1, len(data)
    breaks = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
    if len(breaks) != len(texts) - 1:  # a text holds a newline
        return False
    bounds[1:-1] = breaks
    lengths = bounds[1:] - bounds[:-1] - 1
    return bool(fewest <= lengths.min() and lengths.max() <= most)
