"""The filer's signed manifest blocks as the coordinator uses them.

The coordinator checks each block's signature against the filer's public key
from its own config (the filer is one of its nodes), so a wrong or damaged
file fails before anything is sent, and finds for any batch of house bills
the blocks its questions must carry. Nodes verify again: this check only
saves a round of refusals.

The file is read once to check it, and what is kept is an index, a few bytes
per house bill: each block's place in the file and digest, and the attested
house bills sorted, with their block. A batch's blocks are read back from the
file when it is sent (and must be the bytes that were checked): memory grows by
about 16 bytes a house bill, not by the blocks.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fedtrade.coordinator.config import NodeEntry
from fedtrade.protocol.attestation import PAYLOAD_MANIFEST_BLOCK, parse_attestation
from fedtrade.protocol.input_files import capped_lines, open_binary
from fedtrade.protocol.limits import MAX_MESSAGE_BYTES
from fedtrade.protocol.wire import parse_payload
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope, verify
from fedtrade.trust.errors import DataError, FedtradeError

__all__ = ["AttestedManifest", "load_attested"]

Ints = npt.NDArray[np.int64]
Ints32 = npt.NDArray[np.int32]
Bills = npt.NDArray[np.bytes_]


# rows of a text column looked up at a time (``blocks_of``): a few MiB of padded copies
_LOOKUP_ROWS = 1 << 16
# Longest line read: a block (base64 in JSON, 4/3 of its bytes) must fit in a question,
# so in the largest message a node accepts; a file without line breaks stops here.
_MAX_LINE_BYTES = MAX_MESSAGE_BYTES * 4 // 3 + 4096


def _encoded(house_bills: Iterable[str]) -> Bills:
    return np.array([bill.encode() for bill in house_bills], dtype=np.bytes_)


def _column_encoded(house_bills: pa.StringArray) -> Bills:
    """``_encoded`` of a text column without a Python object per row: each value padded with
    NULs to the longest (numpy's own padding of bytes values) and the padded column's data
    read as one array. A value of several-byte characters pads to another byte length:
    such a column is encoded value by value."""
    if len(house_bills) == 0:
        return np.zeros(0, np.bytes_)
    width = max(int(pc.max(pc.binary_length(house_bills)).as_py() or 0), 1)
    padded = pc.utf8_rpad(house_bills, width=width, padding="\0").cast(pa.binary())
    _, offsets_buffer, data = padded.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, len(padded) + 1, 4 * padded.offset)
    first, last = int(offsets[0]), int(offsets[-1])
    if data is None or last - first != width * len(padded):
        return _encoded(house_bills.to_pylist())
    return np.frombuffer(data, f"S{width}", len(padded), first)


class AttestedManifest:
    """The checked blocks of one attestation file, found again by house bill."""

    def __init__(self, path: Path, spans: list[tuple[int, int, bytes]], filers: list[str],
                 filer_of_block: Ints, bills: Bills, block_of_bill: Ints32) -> None:
        self._path = path
        self._spans = spans  # per block: offset, length and digest of its line
        self._filers = filers
        self._filer_of_block = filer_of_block
        self._bills = bills  # sorted
        self._block_of_bill = block_of_bill

    def _find(self, house_bills: Iterable[str]) -> Ints:
        """Per house bill its block, or -1 when none attests it."""
        return self._find_encoded(_encoded(house_bills))

    def _find_encoded(self, wanted: Bills) -> Ints:
        if len(self._bills) == 0 or len(wanted) == 0:
            return np.full(len(wanted), -1, np.int64)
        at = np.minimum(np.searchsorted(self._bills, wanted), len(self._bills) - 1)
        return np.where(self._bills[at] == wanted, self._block_of_bill[at], -1)

    def filer_of(self, house_bill: str) -> str:
        """The node id of the filer that attested ``house_bill``."""
        return self.filers_of([house_bill])[0]

    def filers_of(self, house_bills: Sequence[str]) -> list[str]:
        """``filer_of`` each of ``house_bills``, in one search."""
        blocks = self._find(house_bills)
        if (blocks < 0).any():
            raise KeyError(house_bills[int(np.flatnonzero(blocks < 0)[0])])
        return [self._filers[i] for i in self._filer_of_block[blocks].tolist()]

    def __contains__(self, house_bill: object) -> bool:
        return isinstance(house_bill, str) and int(self._find([house_bill])[0]) >= 0

    def blocks_for(self, house_bills: Iterable[str]) -> list[Envelope]:
        """The blocks holding ``house_bills``, each once, in file order."""
        bills = list(house_bills)
        blocks = self._find(bills)
        if (blocks < 0).any():
            raise KeyError(bills[int(np.flatnonzero(blocks < 0)[0])])
        return self.read(np.unique(blocks).tolist())

    def all_blocks(self) -> list[Envelope]:
        """Every block of the file, in file order."""
        return self.read(range(len(self._spans)))

    def blocks_of(self, house_bills: pa.StringArray) -> Ints32:
        """Per house bill of a text column (a whole manifest's) its block, or -1 where none
        attests it: ``_find`` with the values encoded column-wise, a slice at a time."""
        found = np.empty(len(house_bills), np.int32)
        for start in range(0, len(house_bills), _LOOKUP_ROWS):
            part = house_bills.slice(start, _LOOKUP_ROWS)
            found[start : start + len(part)] = self._find_encoded(_column_encoded(part))
        return found

    def read(self, blocks: Iterable[int]) -> list[Envelope]:
        """The blocks numbered ``blocks`` (from ``blocks_of``), read back from the file and
        checked to be the bytes that were verified, in the order given."""
        envelopes = []
        try:
            with open_binary(self._path, "attestations") as handle:
                for block in blocks:
                    offset, length, checked = self._spans[block]
                    handle.seek(offset)
                    line = handle.read(length)
                    if hashlib.sha256(line).digest() != checked:
                        raise DataError(
                            f"{self._path}: block {block + 1} changed since it was checked; "
                            "screen again with the file as `fedtrade-node attest` wrote it")
                    envelopes.append(parse_attestation(line))
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise DataError(f"{self._path}: cannot read the attestations ({exc})") from None
        return envelopes


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset, bytes) of each line of the file that is not blank."""
    with open_binary(path, "attestations") as handle:
        offset = 0
        lines = capped_lines(handle, path, "attestations", _MAX_LINE_BYTES)
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield number, offset, line
            offset += len(line)


@dataclass
class _Index:
    """What reading the file has found so far, block by block."""

    spans: list[tuple[int, int, bytes]] = field(default_factory=list)
    filers: dict[str, int] = field(default_factory=dict)
    filer_of_block: list[int] = field(default_factory=list)
    bills: list[Bills] = field(default_factory=list)

    def add(self, offset: int, line: bytes, filer: str, block: attestation_pb2.ManifestBlock
            ) -> None:
        self.spans.append((offset, len(line), hashlib.sha256(line).digest()))
        self.filer_of_block.append(self.filers.setdefault(filer, len(self.filers)))
        self.bills.append(_encoded(entry.house_bill for entry in block.lines))

    def sorted_bills(self, path: Path) -> tuple[Bills, Ints32]:
        """The bills sorted, and each one's block; DataError naming the first line in file
        order that attests a bill again."""
        ends = np.cumsum([len(b) for b in self.bills])
        bills = np.concatenate(self.bills) if self.bills else np.zeros(0, np.bytes_)
        self.bills = []
        order = np.argsort(bills, kind="stable")  # equal bills stay in file order
        ranked = bills[order]
        again = order[np.flatnonzero(ranked[1:] == ranked[:-1]) + 1]
        if len(again):
            first = int(again.min())
            block = int(np.searchsorted(ends, first, "right"))
            raise DataError(f"{path}: block {block + 1}: house bill "
                            f"{bills[first].decode()} is attested twice")
        return ranked, np.searchsorted(ends, order, "right").astype(np.int32)


def _check(path: Path, number: int, line: bytes) -> Envelope:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: cannot read the attestations ({exc})") from None
    try:
        return parse_attestation(text)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise DataError(
            f"{path}:{number}: not a signed manifest block ({type(exc).__name__}: {exc}); "
            "use the file `fedtrade-node attest` wrote"
        ) from None


def load_attested(path: Path, nodes: Mapping[str, NodeEntry]) -> AttestedManifest:
    """Read and verify an attestation file from ``fedtrade-node attest``.

    Problems are reported as a whole read would find them: an unreadable line anywhere
    first, then the first block (in file order) whose filer, signature or house bills
    are wrong."""
    index = _Index()
    failure: DataError | None = None
    for number, offset, line in _lines(path):
        envelope = _check(path, number, line)
        if failure is not None:
            continue  # still read on: an unreadable line later is reported first
        where = f"{path}: block {len(index.spans) + 1}"
        unverified = parse_payload(attestation_pb2.ManifestBlock, envelope.payload)
        filer = nodes.get(unverified.filer_id)
        if filer is None:
            failure = DataError(f"{where} is signed for filer {unverified.filer_id[:64]!r}, "
                                "which is not a node in the coordinator config")
            continue
        try:
            verify(envelope, {filer.public_key.key_id: filer.public_key},
                   payload_type=PAYLOAD_MANIFEST_BLOCK)
        except FedtradeError as exc:
            failure = DataError(f"{where}: {exc}")
            continue
        index.add(offset, line, unverified.filer_id, unverified)
    if not index.spans and failure is None:
        raise DataError(f"{path}: holds no attested blocks")
    bills, block_of_bill = index.sorted_bills(path)  # a bill attested twice before it
    if failure is not None:
        raise failure
    return AttestedManifest(path, index.spans, list(index.filers),
                            np.array(index.filer_of_block, np.int64), bills, block_of_bill)
