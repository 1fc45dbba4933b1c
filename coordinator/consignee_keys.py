"""Consignee keys of a block of manifest rows, computed column-wise.

A key is a 64-bit BLAKE2b digest of the consignee's normalised identity
(``fedtrade.protocol.matching.normalize_consignee``: the name without
honorifics, its words sorted, and the normalised address), so one consignee
however spelt has one key. For ASCII text the normalisation is done with
pyarrow string kernels (the same steps: upper case, runs of other characters
to one space, words sorted or respelt); other rows take the per-row function.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fedtrade.protocol.matching import ADDRESS_WORDS, HONORIFICS, normalize_consignee

__all__ = ["consignee_keys"]

Keys = npt.NDArray[np.uint64]
Flags = npt.NDArray[np.bool_]


def _tokens(text: pa.Array) -> pa.Array:
    """``matching._tokens`` for ASCII text: upper case, other runs to one space, trimmed."""
    spaced = pc.replace_substring_regex(pc.ascii_upper(text), "[^0-9A-Z]+", " ")
    return pc.ascii_trim(spaced, " ")


def _words(text: pa.Array) -> tuple[pa.Array, npt.NDArray[np.int64]]:
    """Every word of every row, and the row each belongs to."""
    lists = pc.split_pattern(text, " ")
    return pc.list_flatten(lists), np.asarray(pc.list_parent_indices(lists), np.int64)


def _join(words: pa.Array, rows: npt.NDArray[np.int64], count: int) -> pa.Array:
    """Rows of ``words`` (in row order) joined by one space; a row without words is ""."""
    offsets = np.zeros(count + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=count), out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), words), " ")


def _names(name: pa.Array) -> pa.Array:
    words, rows = _words(_tokens(name))
    keep = np.asarray(pc.invert(pc.is_in(words, pa.array(sorted(HONORIFICS)))), bool)
    words, rows = words.filter(pa.array(keep)), rows[keep]
    encoded = words.dictionary_encode()
    rank = np.empty(len(encoded.dictionary), np.int64)
    rank[np.asarray(pc.array_sort_indices(encoded.dictionary), np.int64)] = \
        np.arange(len(encoded.dictionary))
    order = np.lexsort((rank[np.asarray(encoded.indices, np.int64)], rows))
    return _join(words.take(pa.array(order)), rows[order], len(name))


def _addresses(address: pa.Array) -> pa.Array:
    words, rows = _words(_tokens(pc.replace_substring(address, "#", " APT ")))
    encoded = words.dictionary_encode()
    spelt = pa.array([ADDRESS_WORDS.get(w, w) for w in encoded.dictionary.to_pylist()],
                     pa.string())
    words = spelt.take(encoded.indices)
    # "Apartment #4" says APT twice: an APT right after an APT of the same row goes
    apt = np.asarray(pc.equal(words, "APT"), bool)
    repeated = np.zeros(len(apt), bool)
    repeated[1:] = apt[1:] & apt[:-1] & (rows[1:] == rows[:-1])
    return _join(words.filter(pa.array(~repeated)), rows[~repeated], len(address))


def _digest(name: str, address: str) -> bytes:
    return hashlib.blake2b(f"{name}\x1f{address}".encode(), digest_size=8).digest()


def consignee_keys(name: pa.Array, address: pa.Array, forwarding: frozenset[str]
                   ) -> tuple[Keys, Flags]:
    """Per row the consignee key, and whether the normalised address is a forwarder's."""
    ascii_rows = np.asarray(pc.and_(pc.string_is_ascii(name), pc.string_is_ascii(address)), bool)
    names = _names(name.filter(pa.array(ascii_rows))).to_pylist()
    addresses = _addresses(address.filter(pa.array(ascii_rows))).to_pylist()
    digests = [b""] * len(name)
    at_forwarder = np.zeros(len(name), bool)
    for index, normal_name, normal_address in zip(
            np.flatnonzero(ascii_rows).tolist(), names, addresses, strict=True):
        digests[index] = _digest(normal_name, normal_address)
        at_forwarder[index] = normal_address in forwarding
    others = np.flatnonzero(~ascii_rows).tolist()
    for index, raw_name, raw_address in zip(
            others, name.take(pa.array(others, pa.int64())).to_pylist(),
            address.take(pa.array(others, pa.int64())).to_pylist(), strict=True):
        normal_name, normal_address = normalize_consignee(raw_name, raw_address)
        digests[index] = _digest(normal_name, normal_address)
        at_forwarder[index] = normal_address in forwarding
    keys = np.frombuffer(b"".join(digests), ">u8").astype(np.uint64)
    return keys, at_forwarder

