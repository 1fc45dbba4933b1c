"""Read a text file a line at a time, refusing a line too long to be what it should be.

Iterating over a file reads each line whole, whatever its length: a file with no
line break (a binary dump, a disk image, a file cut off mid-write) would be read into
memory whole before any parser could refuse it. ``capped_lines`` reads at most
``limit`` characters of a line and stops there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, AnyStr

__all__ = ["MAX_LINE_CHARS", "LineTooLongError", "capped_lines"]

# An import row or a manifest line is a few hundred characters; csv refuses a field
# beyond 131,072. A mebibyte per line is far beyond any real one and bounds the memory.
MAX_LINE_CHARS = 1 << 20


class LineTooLongError(Exception):
    """Line ``line`` is longer than the limit; the message says so, without the path."""

    def __init__(self, line: int, limit: int) -> None:
        self.line = line
        super().__init__(f"is longer than {limit:,} characters: a line break is missing, or "
                         "this is not a file of text lines")


def capped_lines(handle: IO[AnyStr], limit: int = MAX_LINE_CHARS) -> Iterator[AnyStr]:
    """The lines of ``handle`` (as iterating over it gives them, text or bytes);
    ``LineTooLongError`` at the first longer than ``limit`` (its line end included), read
    no further than that."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit:
            raise LineTooLongError(number, limit)
        yield line
