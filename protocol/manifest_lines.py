"""The lines' part of a signed manifest block, written a whole column at a time.

A block's bytes are its protobuf serialization (deterministic: fields in number order,
so the lines come last). ``line_records`` writes the lines' part byte for byte as
protobuf does: protobuf has no column-wise serializer, and a message per row was a
fifth of the filer's attest CPU (a hypothesis test holds the two equal). Kept apart from
``protocol.attestation`` so that nodes and the coordinator, which only read blocks, do
not import pyarrow for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["line_records"]

_LINES_KEY = 5 << 3 | 2  # ManifestBlock.lines: field 5, length-delimited


def _keyed(field: int, lengths: npt.NDArray[np.int64]) -> pa.Array:
    """Per value of ``lengths`` (each under 128): the key and length protobuf writes
    before a string field ``field`` of that length; nothing for an empty one (proto3)."""
    present = lengths > 0
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(present * 2, out=offsets[1:])
    data = np.empty(int(offsets[-1]), np.uint8)
    data[0::2] = field << 3 | 2
    data[1::2] = lengths[present]
    return pa.BinaryArray.from_buffers(pa.binary(), len(lengths),
                                       [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _line_heads(sizes: npt.NDArray[np.int64]) -> pa.Array:
    """Per line of ``sizes`` bytes (under 16,384): the ``ManifestBlock.lines`` key and the
    size as a varint (one byte under 128, else two)."""
    long = sizes >= 128
    offsets = np.zeros(len(sizes) + 1, np.int32)
    np.cumsum(2 + long, out=offsets[1:])
    starts = offsets[:-1]
    data = np.empty(int(offsets[-1]), np.uint8)
    data[starts] = _LINES_KEY
    data[starts + 1] = np.where(long, sizes & 0x7F | 0x80, sizes)
    data[starts[long] + 2] = sizes[long] >> 7
    return pa.BinaryArray.from_buffers(pa.binary(), len(sizes),
                                       [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def line_records(fields: Sequence[pa.Array]) -> pa.Array:
    """Per row, the bytes a ``ManifestBlock`` holds for a ``ManifestLine`` whose string
    fields, by field number, are ``fields`` (string arrays without nulls, each value
    under 128 bytes): what ``ManifestBlock(lines=[line]).SerializeToString()`` gives."""
    parts: list[pa.Array] = []
    sizes = np.zeros(len(fields[0]), np.int64)
    for number, field in enumerate(fields, start=1):
        lengths = np.asarray(pc.binary_length(field), np.int64)
        parts += [_keyed(number, lengths), field.cast(pa.binary())]
        sizes += np.where(lengths > 0, lengths + 2, 0)
    return pc.binary_join_element_wise(_line_heads(sizes), *parts, b"")
