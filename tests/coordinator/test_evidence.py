"""Stored signed answers re-verify offline; any alteration is caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
from fedtrade.protos import envelope_pb2
from fedtrade.trust.errors import ConfigError
from tests.conftest import CONTEXT, LiveFederation

# a Screen stream of three chunks (and one answer from each of two other nodes): five rows
_STREAMED = [f"HB{i:06d}" for i in range(CHUNK_ROWS * 2 + 5)]


def ask_and_store(live: LiveFederation) -> EvidenceStore:
    store = EvidenceStore(live.coordinator.config.evidence_db)
    coordinator = Coordinator(live.coordinator.config, evidence=store)
    blocks = live.attest([{"house_bill": bill} for bill in _STREAMED])
    coordinator.ask("broker-1", "shipment_known", {"house_bills": _STREAMED[:1]}, CONTEXT,
                    attestations=blocks)
    coordinator.ask("carrier-1", "describe", {}, CONTEXT)
    chunks = coordinator.screen("marketplace-1", "shipment_known", {"house_bills": _STREAMED},
                                CONTEXT, attestations=blocks)
    assert len(chunks) == 3
    coordinator.close()
    store.close()
    return store


def run_verify(live: LiveFederation) -> int:
    return fedtrade_main(
        ["evidence", "verify", "--config", str(live.federation.coordinator_config)]
    )


def _requests(live: LiveFederation) -> list[tuple[str, int, int]]:
    """(node, sequence, stored request bytes) of every row."""
    conn = sqlite3.connect(live.coordinator.config.evidence_db)
    with conn:
        rows = conn.execute("SELECT node_id, sequence, length(request) FROM evidence "
                            "ORDER BY node_id, sequence").fetchall()
    conn.close()
    return rows


def test_stored_answers_verify(live: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    ask_and_store(live)
    assert run_verify(live) == 0
    assert "5 stored responses verified" in capsys.readouterr().out
    # the stream's request (with every attested block) is kept once, on its first chunk
    stored = _requests(live)
    assert [(node, seq) for node, seq, size in stored if size == 0] == [
        ("marketplace-1", 1), ("marketplace-1", 2)]
    assert all(size > 0 for _, seq, size in stored if seq == 0)


def _repeat_requests(live: LiveFederation) -> None:
    """Rewrite the store as coordinators before kept it: the request on every chunk row."""
    conn = sqlite3.connect(live.coordinator.config.evidence_db)
    with conn:
        conn.execute("UPDATE evidence SET request = (SELECT f.request FROM evidence f WHERE "
                     "f.query_id = evidence.query_id AND f.node_id = evidence.node_id AND "
                     "f.sequence = 0) WHERE request = x''")
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
    _repeat_requests(live)
    assert all(size > 0 for _, _, size in _requests(live))
    repeated = read()
    assert repeated == kept_once  # the scorecard and render read these same rows
    assert repeated[1] == (5, [])
    assert run_verify(live) == 0
    assert "5 stored responses verified" in capsys.readouterr().out


@pytest.mark.parametrize("request_bytes", ["altered", "removed"])
def test_a_streams_request_altered_or_removed_fails(
    live: LiveFederation, request_bytes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ask_and_store(live)
    conn = sqlite3.connect(live.coordinator.config.evidence_db)
    with conn:
        row_id, blob = conn.execute("SELECT id, request FROM evidence WHERE "
                                    "node_id = 'marketplace-1' AND sequence = 0").fetchone()
        envelope = envelope_pb2.Envelope.FromString(blob)
        envelope.payload = envelope.payload[:-1] + bytes([envelope.payload[-1] ^ 1])
        conn.execute("UPDATE evidence SET request = ? WHERE id = ?", (
            envelope.SerializeToString() if request_bytes == "altered" else b"", row_id))
    conn.close()
    assert run_verify(live) == 1
    assert "1 of 5 stored responses fail verification" in capsys.readouterr().err


def _alter(live: LiveFederation, column: str, mutate: str) -> None:
    conn = sqlite3.connect(live.coordinator.config.evidence_db)
    with conn:
        row_id, blob = conn.execute(
            f"SELECT id, {column} FROM evidence WHERE node_id='broker-1'"
        ).fetchone()
        envelope = envelope_pb2.Envelope.FromString(blob)
        if mutate == "payload":
            payload = bytearray(envelope.payload)
            payload[-1] ^= 0x01
            envelope.payload = bytes(payload)
        else:
            sig = bytearray(envelope.signatures[0].sig)
            sig[0] ^= 0x01
            envelope.signatures[0].sig = bytes(sig)
        conn.execute(
            f"UPDATE evidence SET {column}=? WHERE id=?", (envelope.SerializeToString(), row_id)
        )
    conn.close()


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
    unusable.mkdir()  # not a database file: what a read-only or foreign file also gives
    with pytest.raises(ConfigError, match="cannot open the evidence store for writing"):
        EvidenceStore(unusable)
