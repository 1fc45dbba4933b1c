"""Consignee keys of a block of manifest rows, computed column-wise.

A key is a 64-bit BLAKE2b digest of the consignee's normalised identity
(``fedtrade.protocol.matching.normalize_consignee``: the name without
honorifics, its words sorted, and the normalised address), so one consignee
however spelt has one key. The normalisation runs over the whole column
(``fedtrade.protocol.consignee_columns``).
"""

from __future__ import annotations

import functools
import hashlib
from operator import methodcaller

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fedtrade.protocol.consignee_columns import consignee_material, normalize_consignees

__all__ = ["consignee_keys"]

Keys = npt.NDArray[np.uint64]
Flags = npt.NDArray[np.bool_]


_digest = functools.partial(hashlib.blake2b, digest_size=8)


def consignee_keys(name: pa.Array, address: pa.Array, forwarding: frozenset[str]
                   ) -> tuple[Keys, Flags]:
    """Per row the consignee key, and whether the normalised address is a forwarder's."""
    names, addresses = normalize_consignees(name, address)
    digests = map(methodcaller("digest"), map(_digest, consignee_material(names, addresses)))
    keys = np.frombuffer(b"".join(digests), ">u8").astype(np.uint64)
    at_forwarder = pc.is_in(addresses, value_set=pa.array(sorted(forwarding), pa.string()))
    return keys, np.asarray(at_forwarder, bool)
