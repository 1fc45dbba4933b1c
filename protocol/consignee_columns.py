"""``matching.normalize_consignee`` over whole columns of names and addresses.

The coordinator keys the manifest's consignees with it and the filer's
``fedtrade-node attest`` references them with it, a block of rows at a time.
Values that are not ASCII are transliterated one by one (``anyascii``, as the
per-row function does first); the rest is column-wise (the same steps: upper
case and every other character than a letter or digit a space, in one table
lookup over the column's bytes; split into words; honorifics dropped and words
sorted for a name, street words respelt for an address), so every row gets
exactly what it would alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii

from fedtrade.protocol.arrow_text import ascii_translate
from fedtrade.protocol.matching import ADDRESS_WORDS, HONORIFICS

__all__ = ["consignee_material", "normalize_consignees"]

# ``matching._tokens`` byte by byte for ASCII: letters upper-cased, digits kept, the rest
# a space (word boundaries: runs of them and the ends are dropped as empty words)
_TOKEN_BYTES = np.array([ord(chr(c).upper()) if chr(c).isalnum() else 32 for c in range(128)]
                        + [32] * 128, np.uint8)

_SPELT_FROM = pa.array(list(ADDRESS_WORDS), pa.string())
_SPELT_TO = pa.array(list(ADDRESS_WORDS.values()), pa.string())


def _words(text: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Every word of every row of ASCII ``text`` as ``matching._tokens`` splits it, and the
    row each belongs to."""
    lists = pc.split_pattern(ascii_translate(text, _TOKEN_BYTES), " ")
    words = pc.list_flatten(lists)
    rows = np.asarray(pc.list_parent_indices(lists), np.int64)
    kept = np.asarray(pc.not_equal(words, ""), bool)
    return words.filter(pa.array(kept)), rows[kept]


def _join(words: pa.Array, rows: npt.NDArray[np.int64], count: int) -> pa.Array:
    """Rows of ``words`` (in row order) joined by one space; a row without words is ""."""
    offsets = np.zeros(count + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=count), out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def _names(name: pa.Array) -> pa.Array:
    words, rows = _words(name)
    keep = np.asarray(pc.invert(pc.is_in(words, pa.array(sorted(HONORIFICS)))), bool)
    words, rows = words.filter(pa.array(keep)), rows[keep]
    encoded = words.dictionary_encode()
    rank = np.empty(len(encoded.dictionary), np.int64)
    rank[np.asarray(pc.array_sort_indices(encoded.dictionary), np.int64)] = \
        np.arange(len(encoded.dictionary))
    # by row, then word: one sort of a combined key (np.lexsort takes ten times as long)
    order = np.argsort(rows * len(rank) + rank[np.asarray(encoded.indices, np.int64)],
                       kind="stable")
    return _join(words.take(pa.array(order)), rows[order], len(name))


def _addresses(address: pa.Array) -> pa.Array:
    words, rows = _words(pc.replace_substring(address, "#", " APT "))
    spelling = pc.index_in(words, value_set=_SPELT_FROM)
    words = pc.coalesce(_SPELT_TO.take(spelling), words)
    # "Apartment #4" says APT twice: an APT right after an APT of the same row goes
    apt = np.asarray(pc.equal(words, "APT"), bool)
    repeated = np.zeros(len(apt), bool)
    repeated[1:] = apt[1:] & apt[:-1] & (rows[1:] == rows[:-1])
    return _join(words.filter(pa.array(~repeated)), rows[~repeated], len(address))


def _transliterated(text: pa.Array) -> pa.Array:
    """``anyascii`` of every value that is not ASCII (most trade data already is)."""
    if pc.all(pc.string_is_ascii(text)).as_py() is not False:
        return text
    return pa.array([value if value.isascii() else anyascii(value)
                     for value in text.to_pylist()], pa.string())


def normalize_consignees(name: pa.Array, address: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Per row ``normalize_consignee(name, address)``: the normalised names and addresses,
    as string arrays. ``name`` and ``address`` are string arrays of one length without
    nulls."""
    return _names(_transliterated(name)), _addresses(_transliterated(address))


def consignee_material(names: pa.Array, addresses: pa.Array) -> list[bytes]:
    """Per row ``linkage.consignee_material`` of a normalised name and address: a
    normalised name and address are their own material, joined by a unit separator."""
    joined = pc.binary_join_element_wise(names, addresses, "\x1f")
    return joined.cast(pa.binary()).to_pylist()  # type: ignore[no-any-return]
