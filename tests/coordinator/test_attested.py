"""The coordinator's index of an attestation file: blocks found by house bill, read back
from the file, and every problem of the file reported before anything is sent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fedtrade.coordinator.attested import load_attested
from fedtrade.coordinator.config import NodeEntry
from fedtrade.protocol.attestation import write_attestations
from fedtrade.protocol.wire import parse_payload
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey
from tests.conftest import attest

FILER = "carrier-1"


def _nodes(key: SigningKey) -> dict[str, NodeEntry]:
    return {FILER: NodeEntry(FILER, "carrier", "127.0.0.1:1", key.public_key, 5.0)}


def _bills(blocks: list[Envelope]) -> list[list[str]]:
    return [[line.house_bill for line in
             parse_payload(attestation_pb2.ManifestBlock, block.payload).lines]
            for block in blocks]


def _file(tmp_path: Path, blocks: list[Envelope]) -> Path:
    path = tmp_path / "manifest.attest.jsonl"
    write_attestations(path, blocks)
    return path


def test_blocks_are_found_by_house_bill_and_read_back_from_the_file(tmp_path: Path) -> None:
    key = SigningKey.generate()
    bills = [f"HB{i:05d}" for i in range(2_500)]
    blocks = attest(key, FILER, [{"house_bill": b} for b in bills], block_lines=1_000)
    attested = load_attested(_file(tmp_path, blocks), _nodes(key))
    assert attested.blocks_for(["HB02400", "HB00003", "HB00999", "HB00004"]) == \
        [blocks[0], blocks[2]]
    assert attested.blocks_for(["HB01000"]) == [blocks[1]]
    assert attested.all_blocks() == blocks
    assert _bills(attested.all_blocks()) == [bills[:1000], bills[1000:2000], bills[2000:]]
    assert attested.blocks_of(pa.array(["HB00001", "HB99999", "HB0000", "A", "HB024999"])
                              ).tolist() == [0, -1, -1, -1, -1]
    assert "HB02499" in attested
    assert "HB02500" not in attested
    assert 7 not in attested
    assert attested.filer_of("HB01234") == FILER
    assert attested.filers_of(["HB02499", "HB00000"]) == [FILER, FILER]
    with pytest.raises(KeyError):
        attested.filer_of("HB02500")
    with pytest.raises(KeyError):
        attested.blocks_for(["HB00001", "NOPE0001"])


def test_a_whole_column_is_looked_up_at_once_as_bill_by_bill(tmp_path: Path) -> None:
    key = SigningKey.generate()
    blocks = attest(key, FILER, [{"house_bill": f"HB{i:05d}"} for i in range(2_500)],
                    block_lines=1_000)
    attested = load_attested(_file(tmp_path, blocks), _nodes(key))
    asked = ["HB02400", "HB99999", "HB00003", "HB0000", "HB01000", "A", "HB024999", "HB00999"]
    found = attested.blocks_of(pa.array(asked))
    assert found.tolist() == [2, -1, 0, -1, 1, -1, -1, 0]
    assert [asked[i] for i in np.flatnonzero(found < 0)] == \
        [bill for bill in asked if bill not in attested]
    present = [bill for bill in asked if bill in attested]
    assert attested.read(np.unique(found[found >= 0]).tolist()) == attested.blocks_for(present)
    assert attested.blocks_of(pa.array([], pa.string())).tolist() == []
    # a slice of a column, and a column with a value of several-byte characters (encoded
    # value by value), find the same
    assert attested.blocks_of(pa.array(["X", *asked]).slice(1)).tolist() == found.tolist()
    assert attested.blocks_of(pa.array([*asked, "HBÉ0001"])).tolist() == [*found.tolist(), -1]
    many = [f"HB{i:05d}" for i in range(0, 200_000, 3)]  # several slices, most not attested
    assert attested.blocks_of(pa.array(many)).tolist() == \
        [int(bill[2:]) // 1_000 if int(bill[2:]) < 2_500 else -1 for bill in many]


def test_the_blocks_sent_are_the_bytes_that_were_checked(tmp_path: Path) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    blocks = attest(key, FILER, [{"house_bill": f"HB{i:05d}"} for i in range(20)],
                    block_lines=10)
    path = _file(tmp_path, blocks)
    attested = load_attested(path, _nodes(key))
    # the file swapped for another, signed by a key the coordinator does not trust
    write_attestations(path, attest(other, FILER, [{"house_bill": f"HB{i:05d}"}
                                                   for i in range(20)], block_lines=10))
    with pytest.raises(DataError, match="block 2 changed since it was checked"):
        attested.blocks_for(["HB00015"])


def test_problems_are_reported_in_file_order(tmp_path: Path) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    rows = [{"house_bill": f"HB{i:05d}"} for i in range(30)]
    good = attest(key, FILER, rows, block_lines=10)
    again = attest(key, FILER, rows[15:16], block_lines=10)
    forged = attest(other, FILER, rows[:10], block_lines=10)
    nodes = _nodes(key)

    with pytest.raises(DataError, match=r"block 4: house bill HB00015 is attested twice"):
        load_attested(_file(tmp_path, [*good, *again, *forged]), nodes)
    with pytest.raises(DataError, match=r"block 2: .*not signed by any trusted key"):
        load_attested(_file(tmp_path, [good[0], *forged, *again]), nodes)
    stranger = attest(key, "carrier-9", rows[:1])
    with pytest.raises(DataError, match="block 3 is signed for filer 'carrier-9', which is "
                                        "not a node in the coordinator config"):
        load_attested(_file(tmp_path, [*good[:2], *stranger]), nodes)
    # an unreadable line is reported before the blocks above it are judged
    path = _file(tmp_path, [*forged, *good])
    path.write_text(path.read_text() + "\n\n{not json}\n")
    with pytest.raises(DataError, match=r"manifest.attest.jsonl:7: not a signed manifest block"):
        load_attested(path, nodes)
    path.write_text("\n \n")
    with pytest.raises(DataError, match="holds no attested blocks"):
        load_attested(path, nodes)
    path.write_bytes(b"\xff\n")
    with pytest.raises(DataError, match="cannot read the attestations"):
        load_attested(path, nodes)
    with pytest.raises(DataError, match="cannot read the attestations"):
        load_attested(tmp_path / "absent.jsonl", nodes)
