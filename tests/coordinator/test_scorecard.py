"""Scorecards from hand-made evidence: the arithmetic, integrity, tiers and the signed files."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fedtrade.coordinator.cli import main
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.scorecard import compute_scorecards
from fedtrade.coordinator.scorecard_files import sign_scorecard, verify_scorecard, write_scorecard
from fedtrade.protocol.checkpoints import sign_checkpoint
from fedtrade.protocol.tables import encode_columns
from fedtrade.protocol.wire import (
    PAYLOAD_CHUNK,
    PAYLOAD_QUERY,
    digest,
    envelope_to_proto,
    timestamp,
)
from fedtrade.protos import attestation_pb2, query_pb2
from fedtrade.sim.aeo import add_coordinator_aeo, certify_node
from fedtrade.sim.federation import COORDINATOR_ID, Federation, create_federation
from fedtrade.trust.envelope import Envelope, sign
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey

TIERS = [
    {"name": "silver", "availability": 0.5, "coverage": 0.5, "consistency": 0.5,
     "integrity": True},
    {"name": "gold", "availability": 0.9, "coverage": 0.9, "timeliness": 0.9,
     "consistency": 0.9, "integrity": True, "min_questions": 2},
]
Row = tuple[str, bool, int | None]  # house bill, known, HS match depth


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@dataclass
class Evidence:
    fed: Federation
    store: EvidenceStore

    def key(self, party: str) -> SigningKey:
        return SigningKey.from_file(self.fed.root / "keys" / f"{party}.key")

    def question(self, node: str, issued: str, lines: dict[str, str]) -> Envelope:
        """A signed indicator question about ``lines`` (bill -> arrival day), filed by the
        carrier."""
        block = attestation_pb2.ManifestBlock(block_id=os.urandom(16), filer_id="carrier-1",
                                              lines=[attestation_pb2.ManifestLine(
                                                  house_bill=b, arrival_date=a)
                                                  for b, a in lines.items()])
        query = query_pb2.Query(
            query_id=os.urandom(16), requester_id=COORDINATOR_ID, audience=node,
            query_name="shipment_indicators",
            attestations=[envelope_to_proto(sign(
                "application/vnd.fedtrade.manifest-block.v1+protobuf",
                block.SerializeToString(), [self.key("carrier-1")]))])
        query.issued_at.CopyFrom(timestamp(_at(issued)))
        return sign(PAYLOAD_QUERY, query.SerializeToString(), [self.key(COORDINATOR_ID)])

    def answered(self, node: str, issued: str, produced: str, lines: dict[str, str],
                 rows: list[Row], checkpoint: int | None = None) -> None:
        request = self.question(node, issued, lines)
        columns: dict[str, Any] = {"house_bill": [r[0] for r in rows],
                                   "known": [r[1] for r in rows]}
        if any(r[2] is not None for r in rows):
            columns["hs_match_depth"] = [r[2] for r in rows]
        table = encode_columns(columns)
        table.row_count = len(rows)
        chunk = query_pb2.AnswerChunk(request_digest=digest(request.payload), node_id=node,
                                      sequence=0, last=True, table=table)
        chunk.produced_at.CopyFrom(timestamp(_at(produced)))
        if checkpoint is not None:
            chunk.checkpoint.CopyFrom(envelope_to_proto(sign_checkpoint(
                self.key(node), node, checkpoint, f"{checkpoint:064x}", _at(produced))))
        response = sign(PAYLOAD_CHUNK, chunk.SerializeToString(), [self.key(node)])
        self.store.add(node_id=node, query_id=os.urandom(16).hex(),
                       query_name="shipment_indicators", request=request,
                       responses=[response], kind="chunk")

    def unanswered(self, node: str, issued: str, code: str) -> None:
        self.store.add_unanswered(node_id=node, query_id=os.urandom(16).hex(),
                                  query_name="shipment_indicators",
                                  request=self.question(node, issued, {"HB9": "2026-11-30"}),
                                  code=code, reason="hand-made")


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    fed = create_federation(tmp_path / "fed")
    fed.write_coordinator_config({n: "127.0.0.1:1" for n in fed.node_configs})
    # valid over the whole month scored, whatever today's date is
    certify_node(fed, "carrier-1", "gold", valid_from=_at("2026-10-01"),
                 valid_until=_at("2027-10-01"))
    add_coordinator_aeo(fed, tiers=TIERS)
    made = Evidence(fed, EvidenceStore(fed.root / "data" / "evidence.db"))
    early = {f"HB{i}": "2026-11-05" for i in range(1, 5)}
    made.answered("carrier-1", "2026-11-02T10:00", "2026-11-02T10:00", early,
                  [("HB1", True, 6), ("HB2", True, 6), ("HB3", True, 6), ("HB4", True, 6)])
    made.answered("marketplace-1", "2026-11-02T10:00", "2026-11-02T10:00", early,
                  [("HB1", True, 6), ("HB2", True, 6), ("HB3", True, 4), ("HB4", False, None)])
    made.answered("broker-1", "2026-11-02T10:00", "2026-11-02T10:00", early,
                  [("HB1", True, 6), ("HB2", True, 2), ("HB3", False, None),
                   ("HB4", False, None)], checkpoint=10)
    late = {"HB5": "2026-11-08", "HB6": "2026-11-08"}
    made.answered("carrier-1", "2026-11-10T09:00", "2026-11-10T09:00", late,
                  [("HB5", True, None), ("HB6", True, None)])
    made.unanswered("marketplace-1", "2026-11-10T09:00", "DEADLINE_EXCEEDED")
    made.unanswered("broker-1", "2026-11-10T09:00", "PERMISSION_DENIED")
    # another month: counts nowhere in November
    made.answered("carrier-1", "2026-10-30T10:00", "2026-10-30T10:00", {"HB7": "2026-11-02"},
                  [("HB7", False, None)])
    made.unanswered("carrier-1", "2026-12-01T00:00", "UNAVAILABLE")
    return made


def _cards(made: Evidence) -> dict[str, dict[str, Any]]:
    config = load_coordinator_config(made.fed.coordinator_config)
    document = compute_scorecards(config, made.store, "2026-11")
    return {card["node_id"]: card for card in document["nodes"]}


def _values(card: dict[str, Any]) -> dict[str, Any]:
    return {m: (v["numerator"], v["denominator"]) for m, v in card["measures"].items()}


def test_scorecard_arithmetic(evidence: Evidence) -> None:
    cards = _cards(evidence)
    # the filer: its own six lines all known; four answered before arrival, two after;
    # HS depth pairs HB1 (2 agree), HB2 (1 of 2), HB3 (0 of 1)
    assert _values(cards["carrier-1"]) == {"availability": (2, 2), "coverage": (6, 6),
                                           "timeliness": (4, 6), "consistency": (3, 5)}
    assert _values(cards["marketplace-1"]) == {"availability": (1, 2), "coverage": (3, 4),
                                               "timeliness": (3, 3), "consistency": (3, 5)}
    # the broker's refusal is policy, not unavailability: counted under refusals only
    assert _values(cards["broker-1"]) == {"availability": (1, 1), "coverage": (2, 4),
                                          "timeliness": (2, 2), "consistency": (2, 4)}
    assert cards["carrier-1"]["measures"]["timeliness"]["value"] == pytest.approx(4 / 6, abs=1e-6)
    assert cards["marketplace-1"]["refusals"] == {"DEADLINE_EXCEEDED": 1}
    assert cards["broker-1"]["refusals"] == {"PERMISSION_DENIED": 1}
    assert cards["broker-1"]["questions"] == {"asked": 1, "answered": 1, "refused": 1}
    assert cards["carrier-1"]["refusals"] == {}  # December's failure is not November's
    assert [d["day"] for d in cards["carrier-1"]["daily"]] == ["2026-11-02", "2026-11-10"]
    assert cards["carrier-1"]["daily"][1]["timeliness"] == 0.0


def test_tiers_say_what_falls_short(evidence: Evidence) -> None:
    cards = _cards(evidence)
    carrier = cards["carrier-1"]
    assert carrier["supported_tier"] == "silver"
    assert carrier["certificate"]["tier"] == "gold"  # certified above what the evidence shows
    gold = carrier["tiers"][1]
    assert gold["name"] == "gold"
    assert gold["shortfalls"] == ["timeliness 0.667 is below 0.9",
                                  "consistency 0.600 is below 0.9"]
    assert cards["broker-1"]["supported_tier"] == "silver"
    broker_gold = cards["broker-1"]["tiers"][1]["shortfalls"]
    assert "1 question(s) answered, fewer than the 2" in broker_gold[0]


def test_a_failed_verification_or_a_checkpoint_gap_loses_integrity(evidence: Evidence) -> None:
    assert _cards(evidence)["broker-1"]["integrity"]["ok"]
    # a later answer carries a checkpoint naming fewer audit entries: the log was cut
    evidence.answered("broker-1", "2026-11-20T10:00", "2026-11-20T10:00",
                      {"HB8": "2026-11-25"}, [("HB8", True, 6)], checkpoint=4)
    broker = _cards(evidence)["broker-1"]
    assert not broker["integrity"]["ok"]
    assert broker["supported_tier"] is None
    assert any("integrity" in s for s in broker["tiers"][0]["shortfalls"])
    # an altered stored answer of the marketplace
    conn = sqlite3.connect(evidence.fed.root / "data" / "evidence.db")
    with conn:
        (row_id, blob) = conn.execute(
            "SELECT id, response FROM evidence WHERE node_id = 'marketplace-1'").fetchone()
        conn.execute("UPDATE evidence SET response = ? WHERE id = ?",
                     (blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:], row_id))
    conn.close()
    marketplace = _cards(evidence)["marketplace-1"]
    assert marketplace["integrity"]["problem_count"] == 1
    assert marketplace["supported_tier"] is None


def test_signed_scorecard_files_verify_and_detect_edits(evidence: Evidence, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = str(evidence.fed.coordinator_config)
    out = tmp_path / "card"
    assert main(["aeo", "scorecard", "--config", config, "--period", "2026-11", "--out",
                 str(out)]) == 0
    shown = capsys.readouterr().out
    assert "carrier-1" in shown
    assert "timeliness 0.667 is below 0.9" in shown
    key = str(evidence.fed.root / "keys" / f"{COORDINATOR_ID}.pub")
    for path in (tmp_path / "card.json", tmp_path / "card.html"):
        assert main(["aeo", "verify-scorecard", str(path), "--coordinator-key", key]) == 0
        assert "OK" in capsys.readouterr().out
    html = (tmp_path / "card.html").read_text()
    assert html.count("<svg") == 4 * 3  # a chart per measure, per node
    (tmp_path / "card.html").write_text(html.replace("silver", "gold", 1))
    assert main(["aeo", "verify-scorecard", str(tmp_path / "card.html"), "--coordinator-key",
                 key]) == 1
    assert "altered after signing" in capsys.readouterr().err
    data = json.loads((tmp_path / "card.json").read_text())
    data["scorecard"]["nodes"][0]["supported_tier"] = "gold"
    (tmp_path / "card.json").write_text(json.dumps(data))
    assert main(["aeo", "verify-scorecard", str(tmp_path / "card.json"), "--coordinator-key",
                 key]) == 1
    assert "altered after signing" in capsys.readouterr().err


def test_a_scorecard_signed_by_another_key_does_not_verify(evidence: Evidence,
                                                           tmp_path: Path) -> None:
    config = load_coordinator_config(evidence.fed.coordinator_config)
    document = compute_scorecards(config, evidence.store, "2026-11", "carrier-1")
    assert [c["node_id"] for c in document["nodes"]] == ["carrier-1"]
    forged = sign_scorecard(document, SigningKey.generate())
    json_path, html_path = write_scorecard(tmp_path / "forged", document, forged)
    real = SigningKey.from_file(evidence.fed.root / "keys" / f"{COORDINATOR_ID}.key").public_key
    for path in (json_path, html_path):
        with pytest.raises(DataError, match="signature does not verify"):
            verify_scorecard(path, real)
    with pytest.raises(DataError, match="not a month"):
        compute_scorecards(config, evidence.store, "November")
