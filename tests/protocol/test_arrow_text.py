"""Byte-level column helpers against Python's own per-value operations, on sliced arrays
(an offset into shared buffers) as well as whole ones."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.arrow_text import (
    ascii_translate,
    text_bytes,
    value_lengths,
    value_offsets,
)

_TABLE = np.array([ord(chr(c).upper()) if chr(c).isalnum() else ord("_") for c in range(128)]
                  + [ord("_")] * 128, np.uint8)
_ASCII = st.text(st.characters(max_codepoint=127), max_size=8)


@settings(max_examples=80, deadline=None)
@given(st.lists(_ASCII, max_size=12), st.integers(0, 12), st.integers(0, 12))
def test_translate_and_bytes_are_per_value_ones(values: list[str], start: int, length: int
                                                ) -> None:
    column = pa.array(values, pa.string()).slice(start, length)
    kept = values[start:start + length]
    translation = bytes(_TABLE[:128]).decode("ascii")
    assert ascii_translate(column, _TABLE).to_pylist() == \
        [v.translate(dict(enumerate(translation))) for v in kept]
    assert text_bytes(column).tobytes() == "".join(kept).encode()
    assert value_lengths(column).tolist() == [len(v.encode()) for v in kept]
    offsets = value_offsets(column)
    assert [text_bytes(column)[a - offsets[0] : b - offsets[0]].tobytes().decode()
            for a, b in itertools.pairwise(offsets)] == kept
