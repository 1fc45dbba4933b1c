"""The filer's signed manifest blocks as the coordinator uses them.

The coordinator checks each block's signature against the filer's public key
from its own config (the filer is one of its nodes), so a wrong or damaged
file fails before anything is sent, and finds for any batch of house bills
the blocks its questions must carry. Nodes verify again: this check only
saves a round of refusals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from fedtrade.coordinator.config import NodeEntry
from fedtrade.protocol.attestation import PAYLOAD_MANIFEST_BLOCK, read_attestations
from fedtrade.protocol.wire import parse_payload
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope, verify
from fedtrade.trust.errors import DataError, FedtradeError

__all__ = ["AttestedManifest", "load_attested"]


class AttestedManifest:
    def __init__(self, blocks: list[Envelope], block_of: Mapping[str, int],
                 filers: list[str]) -> None:
        self.blocks = blocks
        self._block_of = block_of
        self._filers = filers  # filer id per block

    def filer_of(self, house_bill: str) -> str:
        """The node id of the filer that attested ``house_bill``."""
        return self._filers[self._block_of[house_bill]]

    def __contains__(self, house_bill: object) -> bool:
        return house_bill in self._block_of

    def blocks_for(self, house_bills: Iterable[str]) -> list[Envelope]:
        """The blocks holding ``house_bills``, each once, in file order."""
        return [self.blocks[i] for i in sorted({self._block_of[bill] for bill in house_bills})]

    def missing(self, house_bills: Iterable[str]) -> list[str]:
        return [bill for bill in house_bills if bill not in self._block_of]


def load_attested(path: Path, nodes: Mapping[str, NodeEntry]) -> AttestedManifest:
    """Read and verify an attestation file from ``fedtrade-node attest``."""
    blocks = read_attestations(path)
    block_of: dict[str, int] = {}
    filers: list[str] = []
    for index, envelope in enumerate(blocks):
        where = f"{path}: block {index + 1}"
        unverified = parse_payload(attestation_pb2.ManifestBlock, envelope.payload)
        filer = nodes.get(unverified.filer_id)
        if filer is None:
            raise DataError(f"{where} is signed for filer {unverified.filer_id[:64]!r}, which "
                            "is not a node in the coordinator config")
        try:
            verify(envelope, {filer.public_key.key_id: filer.public_key},
                   payload_type=PAYLOAD_MANIFEST_BLOCK)
        except FedtradeError as exc:
            raise DataError(f"{where}: {exc}") from None
        filers.append(unverified.filer_id)
        for line in unverified.lines:
            if block_of.setdefault(line.house_bill, index) != index:
                raise DataError(f"{where}: house bill {line.house_bill} is attested twice")
    return AttestedManifest(blocks, block_of, filers)
