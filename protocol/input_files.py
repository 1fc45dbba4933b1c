"""Open a data file someone hands over (a manifest, currency rates, attested blocks).

The path comes from a command line and may name a FIFO, whose plain ``open``
blocks until a writer appears, or a device such as ``/dev/zero``, which never
ends: it must be a regular file. Such files can be large (a manifest of a
million rows), so they are read line by line, and each line is capped: a file
without line breaks is refused at the cap instead of read whole into memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, AnyStr

from fedtrade.trust.errors import DataError
from fedtrade.trust.files import FileShapeError, open_regular

__all__ = ["capped_lines", "open_binary", "open_text"]


def _descriptor(path: Path, what: str) -> int:
    try:
        fd, _ = open_regular(path)
    except (OSError, FileShapeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataError(f"{path}: cannot read the {what}: {reason}") from None
    os.set_blocking(fd, True)
    return fd


def open_text(path: Path, what: str) -> IO[str]:
    """``path`` opened as UTF-8 text (a BOM skipped, newlines kept for the csv module);
    DataError naming the file if it is missing or not a regular file."""
    return os.fdopen(_descriptor(path, what), newline="", encoding="utf-8-sig")


def open_binary(path: Path, what: str) -> IO[bytes]:
    """``path`` opened for reading bytes; DataError as ``open_text``."""
    return os.fdopen(_descriptor(path, what), "rb")


def capped_lines(handle: IO[AnyStr], path: Path, what: str, limit: int) -> Iterator[AnyStr]:
    """The lines of ``handle``, each at most ``limit`` characters (bytes); DataError naming
    the line that is longer, read no further than the cap."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit:
            raise DataError(f"{path}:{number}: a line longer than {limit:,} characters: not "
                            f"a {what}; check the file")
        yield line
