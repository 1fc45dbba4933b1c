"""Byte-level work on whole pyarrow string columns, where a kernel per value is slower."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["ascii_translate", "text_bytes", "value_lengths", "value_offsets"]

Bytes = npt.NDArray[np.uint8]


def value_offsets(column: pa.Array) -> npt.NDArray[np.int32]:
    """The ``len(column) + 1`` value offsets of a string or binary column into its data
    buffer (a view)."""
    if len(column) == 0:
        return np.zeros(1, np.int32)
    offsets = np.frombuffer(column.buffers()[1], np.int32)
    return offsets[column.offset : column.offset + len(column) + 1]


def text_bytes(column: pa.Array) -> Bytes:
    """The bytes of every value of a string column, one after another (a view)."""
    data = column.buffers()[2]
    if data is None or len(column) == 0:
        return np.zeros(0, np.uint8)
    offsets = value_offsets(column)
    return np.frombuffer(data, np.uint8)[int(offsets[0]) : int(offsets[-1])]


def value_lengths(column: pa.Array) -> npt.NDArray[np.int32]:
    """The length in bytes of every value of a string column without nulls."""
    return np.diff(value_offsets(column))


def ascii_translate(column: pa.Array, table: Bytes) -> pa.Array:
    """Each byte of an ASCII string column (no nulls) replaced by ``table[byte]``, an ASCII
    byte: ``str.translate`` for the whole column at once."""
    if column.buffers()[2] is None or len(column) == 0:
        return column
    offsets = value_offsets(column)
    mapped = table[text_bytes(column)]  # only this column's bytes, not a whole shared buffer
    return pa.StringArray.from_buffers(len(column), pa.py_buffer(offsets - offsets[0]),
                                       pa.py_buffer(mapped))
