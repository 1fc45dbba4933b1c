"""Whether a whole column of texts fullmatches a pattern, in one regex run.

A batch carries thousands of house bills; calling ``fullmatch`` once per value costs
more than the rest of checking them. ``every_fullmatch`` joins the texts with newlines
and matches the joined text once against the pattern repeated between newlines. That
says the same as matching each text only when no text holds a newline (counted) and
the pattern cannot match one: it is used only for patterns written with literal
letters, digits, hyphens, groups, alternation, quantifiers and classes of those
(such as ``protocol.limits.HOUSE_BILL``), and falls back to one ``fullmatch`` per text
for any other. A caller that must name the first bad text looks for it only after
this said no.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = ["every_fullmatch"]

# A pattern none of whose pieces can match a newline: no escapes, no ".", no negated
# class, no group other than plain and (?:...) ones, ^ and $ only at the ends.
_NEWLINE_FREE = re.compile(r"\^?(?:[A-Za-z0-9|)?{},*+-]|\((?:\?:|(?!\?))|\[[A-Za-z0-9-]+\])*\$?")


@functools.cache
def _joined(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    if pattern.flags & (re.VERBOSE | re.DOTALL) or not _NEWLINE_FREE.fullmatch(pattern.pattern):
        return None
    body = pattern.pattern.removeprefix("^").removesuffix("$")
    try:
        return re.compile(f"(?:(?:{body})\n)*(?:{body})", pattern.flags)
    except re.error:  # a group reference cannot be repeated, for one
        return None


def every_fullmatch(pattern: re.Pattern[str], texts: Sequence[str]) -> bool:
    """Whether ``pattern.fullmatch`` accepts every text of ``texts`` (all of them str)."""
    if not texts:
        return True
    joined_pattern = _joined(pattern)
    if joined_pattern is None:
        return all(map(pattern.fullmatch, texts))
    joined = "\n".join(texts)
    return (joined.count("\n") == len(texts) - 1
            and joined_pattern.fullmatch(joined) is not None)
