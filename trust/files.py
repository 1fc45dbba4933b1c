"""Read a small file named in a config (a key, a certificate, a config) safely.

The path comes from an operator's config and may point anywhere: at a FIFO,
which would block a plain ``open`` until a writer appears, or at a device such
as ``/dev/zero``, which never ends. The file is opened non-blocking, checked
to be a regular file on the open descriptor, and read up to a size cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_KEY_BYTES",
    "FileShapeError",
    "open_regular",
    "read_capped",
    "read_descriptor",
    "shape_problem",
]

MAX_KEY_BYTES = 64 * 1024  # a PEM key or certificate chain is a few KiB
MAX_CONFIG_BYTES = 1024 * 1024  # the largest example config is under 10 KiB

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileShapeError(Exception):
    """The path is not a regular file or the file is too large; says which, without the path."""


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading without blocking; return the descriptor and its fstat.

    Raises ``OSError`` (missing, unreadable) or ``FileShapeError`` (not a
    regular file). The caller closes the descriptor.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        # fstat the open descriptor, so the file checked is the file read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise FileShapeError(f"is {kind}, not a regular file; point the config at a file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def shape_problem(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file ("a FIFO (named pipe)");
    None otherwise. Nothing is opened, so a FIFO cannot block."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def read_descriptor(fd: int, limit: int) -> bytes:
    """Read at most ``limit`` bytes from ``fd``; FileShapeError if there is more."""
    chunks = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileShapeError(f"is larger than {limit} bytes; this is not the file it should be")
    return data


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, refused beyond ``limit`` bytes.

    Raises ``OSError`` (missing, unreadable) or ``FileShapeError``.
    """
    fd, _ = open_regular(path)
    try:
        return read_descriptor(fd, limit)
    finally:
        os.close(fd)
