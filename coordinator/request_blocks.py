"""A stored request without its attested blocks, and the same bytes again.

A screening question carries the filer's signed blocks of the lines it is about
(hundreds of kilobytes), and the same blocks go with every question about those
lines, to every node. The evidence store keeps each block once: a request is
stored with the run of its blocks cut out (where they sit in its serialized
envelope: inside the query payload, as repeated ``attestations`` entries) and
the blocks named by digest. Putting them back gives the request byte for byte;
the requester's signature over it proves that on every verification, so a
block altered or lost in the store shows as a request that no longer verifies.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fedtrade.protocol.wire import envelope_to_proto
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope

__all__ = ["DIGEST_BYTES", "Cut", "block_entry", "cut_blocks", "splice_blocks"]

DIGEST_BYTES = 32


@dataclass(frozen=True)
class Cut:
    """Where the blocks were cut out of a request, and each block's (digest, entry bytes)."""

    position: int
    entries: tuple[tuple[bytes, bytes], ...]

    @property
    def digests(self) -> bytes:
        return b"".join(digest for digest, _ in self.entries)


@functools.lru_cache(maxsize=24)
def block_entry(block: Envelope) -> tuple[bytes, bytes]:
    """The block as a query's payload holds it (field tag, length, message) and its SHA-256:
    made once per block, which goes with several questions to every node (a few batches'
    blocks are kept: each is ~100 KB, and a batch's questions are asked within moments)."""
    entry = query_pb2.Query(attestations=[envelope_to_proto(block)]).SerializeToString(
        deterministic=True)
    return hashlib.sha256(entry).digest(), entry


def cut_blocks(request: Envelope, blocks: Sequence[Envelope], serialized: bytes | None = None
               ) -> tuple[bytes, Cut | None]:
    """``request`` serialized (``serialized``, when the caller has it already) without the
    run of ``blocks``, and where they were; whole (and None) if it does not hold them as one
    run where a query's last field goes: at the end of its payload, before the signatures
    (compared there, never searched for)."""
    data = serialized if serialized is not None else \
        envelope_to_proto(request).SerializeToString()
    if not blocks:
        return data, None
    entries = tuple(block_entry(block) for block in blocks)
    signatures = envelope_to_proto(replace(request, payload_type="", payload=b"")).ByteSize()
    position = end = len(data) - signatures - sum(len(entry) for _, entry in entries)
    for _, entry in entries:
        if end < 0 or not data.startswith(entry, end):
            return data, None
        end += len(entry)
    return data[:position] + data[end:], Cut(position, entries)


def splice_blocks(stored: bytes, position: int, entries: Sequence[bytes]) -> bytes:
    """The request as it was sent: the blocks' entries put back at ``position``."""
    return b"".join([stored[:position], *entries, stored[position:]])
