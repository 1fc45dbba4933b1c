"""Stored signed answers re-verify offline; any alteration is caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.evidence import (
    EvidenceProblem,
    EvidenceStore,
    node_checkpoints,
    verify_evidence,
)
from fedtrade.protocol.limits import CHUNK_ROWS
from fedtrade.protocol.wire import envelope_to_proto
from fedtrade.protos import envelope_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import ConfigError
from tests.conftest import CONTEXT, LiveFederation

# a Screen stream of three chunks (and one answer from each of two other nodes): five rows
_STREAMED = [f"HB{i:06d}" for i in range(CHUNK_ROWS * 2 + 5)]


def ask_and_store(live: LiveFederation) -> list[Envelope]:
    """Ask three nodes (two about the same attested blocks) and keep their answers; the
    blocks."""
    store = EvidenceStore(live.coordinator.config.evidence_db)
    coordinator = Coordinator(live.coordinator.config, evidence=store)
    blocks = live.attest([{"house_bill": bill} for bill in _STREAMED])
    assert len(blocks) == 5
    coordinator.ask("broker-1", "shipment_known", {"house_bills": _STREAMED[:1]}, CONTEXT,
                    attestations=blocks)
    coordinator.ask("carrier-1", "describe", {}, CONTEXT)
    chunks = coordinator.screen("marketplace-1", "shipment_known", {"house_bills": _STREAMED},
                                CONTEXT, attestations=blocks)
    assert len(chunks) == 3
    coordinator.close()
    store.close()
    return blocks


def run_verify(live: LiveFederation) -> int:
    return fedtrade_main(
        ["evidence", "verify", "--config", str(live.federation.coordinator_config)]
    )


def _sql(live: LiveFederation, statement: str, *args: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(live.coordinator.config.evidence_db)
    with conn:
        rows = conn.execute(statement, args).fetchall()
    conn.close()
    return rows


def test_stored_answers_verify(live: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = ask_and_store(live)
    assert run_verify(live) == 0
    assert "5 stored responses verified" in capsys.readouterr().out
    # the stream's request is kept once, on its first chunk
    stored = _sql(live, "SELECT node_id, sequence, length(request) FROM evidence "
                  "ORDER BY node_id, sequence")
    assert [(node, seq) for node, seq, size in stored if size == 0] == [
        ("marketplace-1", 1), ("marketplace-1", 2)]
    # and the attested blocks once for both requests that carry them, not in either
    block_bytes = sum(len(block.payload) for block in blocks)
    assert _sql(live, "SELECT count(*), sum(length(entry)) > ? FROM attested_blocks",
                block_bytes) == [(5, 1)]
    assert _sql(live, "SELECT e.node_id, length(r.digests) FROM request_blocks r "
                "JOIN evidence e ON e.id = r.evidence_id ORDER BY e.node_id") == [
        ("broker-1", 5 * 32), ("marketplace-1", 5 * 32)]
    assert all(size < block_bytes for node, _, size in stored if node != "carrier-1")


def _write_as_before(live: LiveFederation) -> None:
    """Rewrite the store as coordinators before kept it: the whole request on every row."""
    store = EvidenceStore(live.coordinator.config.evidence_db)
    whole = [(envelope_to_proto(request).SerializeToString(), row_id)
             for row_id, _, _, _, _, request, _ in store.rows() if request is not None]
    store.close()
    conn = sqlite3.connect(live.coordinator.config.evidence_db)
    with conn:
        conn.executemany("UPDATE evidence SET request = ? WHERE id = ?", whole)
        conn.execute("DROP TABLE request_blocks")
        conn.execute("DROP TABLE attested_blocks")
    conn.close()


def test_a_store_that_repeats_the_request_per_chunk_reads_and_verifies_the_same(
    live: LiveFederation, capsys: pytest.CaptureFixture[str]
) -> None:
    ask_and_store(live)
    keys = {n: live.coordinator.config.node(n).public_key for n in live.nodes}

    def read() -> tuple[list[object], tuple[int, list[EvidenceProblem]], dict[str, object]]:
        store = EvidenceStore(live.coordinator.config.evidence_db)
        try:
            return (list(store.rows()), verify_evidence(store, keys),
                    {n: node_checkpoints(store, n, key) for n, key in keys.items()})
        finally:
            store.close()

    kept_once = read()
    _write_as_before(live)
    assert _sql(live, "SELECT count(*) FROM evidence WHERE length(request) < 100000") == [(1,)]
    repeated = read()
    assert repeated == kept_once  # the scorecard and render read these same rows
    assert repeated[1] == (5, [])
    assert run_verify(live) == 0
    assert "5 stored responses verified" in capsys.readouterr().out


@pytest.mark.parametrize("change", ["altered", "removed"])
def test_an_attested_block_altered_or_removed_fails(
    live: LiveFederation, change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ask_and_store(live)
    ((digest, entry),) = _sql(live, "SELECT digest, entry FROM attested_blocks LIMIT 1")
    if change == "altered":
        _sql(live, "UPDATE attested_blocks SET entry = ? WHERE digest = ?",
             entry[:-1] + bytes([entry[-1] ^ 1]), digest)
    else:
        _sql(live, "DELETE FROM attested_blocks WHERE digest = ?", digest)
    assert run_verify(live) == 1
    # both requests that carried it (the broker's answer, the marketplace's stream)
    err = capsys.readouterr().err
    assert "2 of 5 stored responses fail verification" in err
    if change == "removed":
        assert err.count("is not in the evidence store") == 2


def _flip_query_id(blob: bytes, query_id: str) -> bytes:
    """A stored request (whole, or with its blocks cut out: no longer an envelope message)
    whose signed query names another query id."""
    at = blob.index(bytes.fromhex(query_id))
    return blob[:at] + bytes([blob[at] ^ 1]) + blob[at + 1:]


@pytest.mark.parametrize("change", ["altered", "removed"])
def test_a_streams_request_altered_or_removed_fails(
    live: LiveFederation, change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ask_and_store(live)
    ((row_id, query_id, blob),) = _sql(live, "SELECT id, query_id, request FROM evidence "
                                       "WHERE node_id = 'marketplace-1' AND sequence = 0")
    _sql(live, "UPDATE evidence SET request = ? WHERE id = ?",
         _flip_query_id(blob, query_id) if change == "altered" else b"", row_id)
    assert run_verify(live) == 1
    assert "1 of 5 stored responses fail verification" in capsys.readouterr().err


def _alter(live: LiveFederation, column: str, mutate: str) -> None:
    ((row_id, query_id, blob),) = _sql(
        live, f"SELECT id, query_id, {column} FROM evidence WHERE node_id='broker-1'")
    if column == "request":
        changed = _flip_query_id(blob, query_id)
    else:
        envelope = envelope_pb2.Envelope.FromString(blob)
        if mutate == "payload":
            payload = bytearray(envelope.payload)
            payload[-1] ^= 0x01
            envelope.payload = bytes(payload)
        else:
            sig = bytearray(envelope.signatures[0].sig)
            sig[0] ^= 0x01
            envelope.signatures[0].sig = bytes(sig)
        changed = envelope.SerializeToString()
    _sql(live, f"UPDATE evidence SET {column}=? WHERE id=?", changed, row_id)


@pytest.mark.parametrize(
    ("column", "mutate"),
    [
        ("response", "payload"),
        ("response", "signature"),
        ("request", "payload"),
    ],
)
def test_altered_evidence_fails(
    live: LiveFederation, column: str, mutate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ask_and_store(live)
    _alter(live, column, mutate)
    assert run_verify(live) == 1
    assert "1 of 5 stored responses fail verification" in capsys.readouterr().err


def test_an_evidence_store_that_cannot_be_written_is_a_config_error(tmp_path: Path) -> None:
    unusable = tmp_path / "evidence.db"
    unusable.mkdir()  # not a database file
    with pytest.raises(ConfigError, match="cannot open the evidence store: it is a directory"):
        EvidenceStore(unusable)
