"""Open a data file someone hands over (a manifest, currency rates, attested blocks,
results to evaluate).

The path comes from a command line and may name a FIFO, whose plain ``open``
blocks until a writer appears, or a device such as ``/dev/zero``, which never
ends: it must be a regular file. Such files can be large (a manifest of a
million rows), so they are read line by line, and each line is capped: a file
without line breaks is refused at the cap instead of read whole into memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, AnyStr

from fedtrade.trust.errors import DataError
from fedtrade.trust.files import FileShapeError, open_regular
from fedtrade.trust.lines import MAX_LINE_CHARS, LineTooLongError
from fedtrade.trust.lines import capped_lines as _capped_lines

__all__ = ["MAX_LINE_CHARS", "capped_lines", "open_binary", "text_lines"]

def _descriptor(path: Path, what: str, hint: str) -> int:
    try:
        fd, _ = open_regular(path)
    except FileShapeError as exc:
        raise DataError(f"{path}: cannot read the {what} file: it {exc}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} file: {exc.strerror or exc}"
                        + (f"; {hint}" if hint else "")) from None
    os.set_blocking(fd, True)
    return fd


def open_binary(path: Path, what: str) -> IO[bytes]:
    """``path`` opened for reading bytes; DataError naming the file if it is missing or not
    a regular file (``what``: what it should be, "manifest")."""
    return os.fdopen(_descriptor(path, what, ""), "rb")


@contextmanager
def text_lines(path: Path, what: str, *, hint: str = "") -> Iterator[Iterator[str]]:
    """The lines of UTF-8 text file ``path`` (a BOM skipped, line ends kept for the csv
    module), each at most MAX_LINE_CHARS; DataError as ``open_binary``, ``hint`` added."""
    with os.fdopen(_descriptor(path, what, hint), newline="", encoding="utf-8-sig") as handle:
        yield capped_lines(handle, path, what, MAX_LINE_CHARS)


def capped_lines(handle: IO[AnyStr], path: Path, what: str, limit: int) -> Iterator[AnyStr]:
    """The lines of ``handle``, each at most ``limit`` characters (bytes); DataError naming
    the line that is longer, read no further than the cap."""
    try:
        yield from _capped_lines(handle, limit)
    except LineTooLongError as exc:
        raise DataError(f"{path}:{exc.line}: a line longer than {limit:,} characters; check "
                        f"that this is the {what} file") from None
