"""Stored signed answers re-verify offline; any alteration is caught."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.protos import envelope_pb2
from fedtrade.trust.errors import ConfigError
from tests.conftest import CONTEXT, LiveFederation


def ask_and_store(live: LiveFederation) -> EvidenceStore:
    store = EvidenceStore(live.coordinator.config.evidence_db)
    coordinator = Coordinator(live.coordinator.config, evidence=store)
    blocks = live.attest([{"house_bill": "HB0001"}, {"house_bill": "HB0002"}])
    coordinator.ask("broker-1", "shipment_known", {"house_bills": ["HB0001"]}, CONTEXT,
                    attestations=blocks)
    coordinator.ask("carrier-1", "describe", {}, CONTEXT)
    coordinator.screen("marketplace-1", "shipment_known", {"house_bills": ["HB0002"]}, CONTEXT,
                       attestations=blocks)
    coordinator.close()
    store.close()
    return store


def run_verify(live: LiveFederation) -> int:
    return fedtrade_main(
        ["evidence", "verify", "--config", str(live.federation.coordinator_config)]
    )


def test_stored_answers_verify(live: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    ask_and_store(live)
    assert run_verify(live) == 0
    assert "3 stored responses verified" in capsys.readouterr().out


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
    assert "1 of 3 stored responses fail verification" in capsys.readouterr().err


def test_an_evidence_store_that_cannot_be_written_is_a_config_error(tmp_path: Path) -> None:
    unusable = tmp_path / "evidence.db"
    unusable.mkdir()  # not a database file: what a read-only or foreign file also gives
    with pytest.raises(ConfigError, match="cannot open the evidence store for writing"):
        EvidenceStore(unusable)
