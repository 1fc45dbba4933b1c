"""Deleting the newest audit rows (triggers dropped) is detected against signed checkpoints.

The hash chain alone cannot see it: the trimmed log is a valid chain and the
node continues it. The checkpoints the node signed, which travelled with its
answers into the coordinator's evidence, can.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main as coordinator_main
from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.node.cli import main as node_main
from fedtrade.node.state import checkpoint_file
from fedtrade.sim.federation import Federation
from tests.conftest import CONTEXT, RunningNode, attest, start_node
from tests.node.test_audit_verify import tamper

NODE = "carrier-1"


def ask(federation: Federation, node: RunningNode, count: int) -> None:
    """``count`` queries from a coordinator that keeps its evidence."""
    federation.write_coordinator_config({NODE: node.address})
    config = load_coordinator_config(federation.coordinator_config)
    evidence = EvidenceStore(config.evidence_db)
    coordinator = Coordinator(config, evidence=evidence)
    try:
        for i in range(count):
            bill = f"HB{i:04d}"
            blocks = attest(federation.filer_key(), federation.filer_id, [{"house_bill": bill}])
            answer = coordinator.ask(NODE, "shipment_known", {"house_bills": [bill]}, CONTEXT,
                                     attestations=blocks)
            assert answer is not None
    finally:
        coordinator.close()
        evidence.close()


def verify_audit(federation: Federation, *checkpoints: Path) -> int:
    args = ["audit", "verify", "--config", str(federation.node_configs[NODE])]
    for path in checkpoints:
        args += ["--checkpoint", str(path)]
    return node_main(args)


def test_deleting_the_newest_audit_rows_is_detected_against_checkpoints(
    federation: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = start_node(federation.node_configs[NODE])
    ask(federation, node, 4)
    node.state.sign_checkpoint()  # what the node does every CHECKPOINT_SECONDS
    ask(federation, node, 2)  # these answers carry the checkpoint at entry 4
    node.stop()  # and at shutdown it signs one at entry 6
    coordinator_config = str(federation.coordinator_config)
    exported = tmp_path / "carrier-1.checkpoints.jsonl"
    assert coordinator_main(["evidence", "checkpoints", "--config", coordinator_config,
                             "--node", NODE, "--out", str(exported)]) == 0
    assert verify_audit(federation, exported) == 0
    assert coordinator_main(["evidence", "verify", "--config", coordinator_config]) == 0
    capsys.readouterr()

    database = node.state.config.database
    tamper(database, "DELETE FROM audit_log WHERE seq >= 4")  # the newest three rows
    assert verify_audit(federation) == 0  # the chain alone still looks intact

    assert verify_audit(federation, exported) == 1
    assert "ends before entry 4" in capsys.readouterr().err
    # the node's own checkpoint file (kept off the machine) shows it too
    assert verify_audit(federation, checkpoint_file(database)) == 1
    assert "ends before entry 6" in capsys.readouterr().err

    # The node restarts on the trimmed log and continues the chain: its next answers carry
    # checkpoints that contradict the ones already in the coordinator's evidence.
    node = start_node(federation.node_configs[NODE])
    ask(federation, node, 1)
    node.stop()
    capsys.readouterr()
    assert coordinator_main(["evidence", "verify", "--config", coordinator_config,
                             "--json"]) == 1
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert problem["node"] == NODE
    assert "names fewer entries than the earlier checkpoint" in problem["problem"]
    assert coordinator_main(["evidence", "checkpoints", "--config", coordinator_config,
                             "--node", NODE, "--out", str(exported)]) == 0
    assert verify_audit(federation, exported) == 1
    with sqlite3.connect(database) as conn:
        (entries,) = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    assert entries == 4  # 3 kept + 1 new, a valid chain by itself
    assert verify_audit(federation) == 0


def test_a_forged_checkpoint_file_is_refused(
    federation: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = start_node(federation.node_configs[NODE])
    node.stop()
    forged = tmp_path / "forged.jsonl"
    line = checkpoint_file(node.state.config.database).read_text().splitlines()[0]
    forged.write_text(line.replace('"sig":"', '"sig":"AAAA'))
    assert verify_audit(federation, forged) == 1
    assert "signature" in capsys.readouterr().err
    forged.write_text("{not json\n")
    assert verify_audit(federation, forged) == 1
    assert "line 1: not a checkpoint envelope" in capsys.readouterr().err
