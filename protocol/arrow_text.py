"""Byte-level work on whole pyarrow string columns, where a kernel per value is slower."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["ascii_translate", "text_bytes"]

Bytes = npt.NDArray[np.uint8]


def text_bytes(column: pa.Array) -> Bytes:
    """The bytes of every value of a string column, one after another (a view)."""
    offsets_buffer, data = column.buffers()[1:3]
    if data is None or len(column) == 0:
        return np.zeros(0, np.uint8)
    offsets = np.frombuffer(offsets_buffer, np.int32)
    start, end = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    return np.frombuffer(data, np.uint8)[start:end]


def ascii_translate(column: pa.Array, table: Bytes) -> pa.Array:
    """Each byte of an ASCII string column (no nulls) replaced by ``table[byte]``, an ASCII
    byte: ``str.translate`` for the whole column at once."""
    offsets_buffer, data = column.buffers()[1:3]
    if data is None or len(column) == 0:
        return column
    mapped = table[np.frombuffer(data, np.uint8)]
    return pa.StringArray.from_buffers(len(column), offsets_buffer, pa.py_buffer(mapped),
                                       offset=column.offset)
