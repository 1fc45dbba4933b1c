"""Four eyes: a node can require k of n approvers to co-sign a query, through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fedtrade.coordinator.cli import main as fedtrade
from fedtrade.node.config import load_node_config
from fedtrade.protocol.attestation import write_attestations
from fedtrade.sim.federation import COORDINATOR_ID, Federation
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.keys import generate_keypair
from tests.conftest import RunningNode, attest, start_node

NODE = "carrier-1"
APPROVERS = ("supervisor-a", "supervisor-b", "supervisor-c")
PARAMS = {"security_profile": "shipments=HB0001", "shipment_known": "house_bills=HB0001"}


def require_approval(federation: Federation, approval: dict[str, object]) -> Path:
    path = federation.node_configs[NODE]
    config = yaml.safe_load(path.read_text())
    config["requesters"][COORDINATOR_ID]["approval"] = approval
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def carrier(federation: Federation) -> Iterator[RunningNode]:
    for name in APPROVERS:
        generate_keypair(federation.root / "keys", name)
    require_approval(federation, {
        "queries": ["security_profile"],
        "required": 2,
        "approvers": [{"file": f"keys/{name}.pub"} for name in APPROVERS],
    })
    node = start_node(federation.node_configs[NODE])
    federation.write_coordinator_config({NODE: node.address})
    yield node
    node.stop()


def sign_only(federation: Federation, query: str, out: Path) -> int:
    blocks = out.with_suffix(".attest.jsonl")  # the filer's signed line for HB0001
    write_attestations(blocks, attest(federation.filer_key(), federation.filer_id,
                                      [{"house_bill": "HB0001"}]))
    return fedtrade(["query", "--config", str(federation.coordinator_config), "--node", NODE,
                     query, "--param", PARAMS[query], "--purpose", "TARGETING",
                     "--case", "CASE-9", "--officer", "officer-1", "--sign-only", str(out),
                     "--attestations", str(blocks)])


def send(federation: Federation, file: Path) -> int:
    return fedtrade(["send", str(file), "--config", str(federation.coordinator_config)])


def approve(federation: Federation, file: Path, approver: str) -> int:
    return fedtrade(["approve", str(file), "--key",
                     str(federation.root / "keys" / f"{approver}.key")])


def test_a_query_needs_two_distinct_approvers(
    federation: Federation, carrier: RunningNode, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pending = tmp_path / "query.jsonl"
    assert sign_only(federation, "security_profile", pending) == 0
    assert "not sent" in capsys.readouterr().out

    assert send(federation, pending) == 1
    assert "needs 2 of 3 approvers" in (err := capsys.readouterr().err)
    assert "0 of 3 signed" in err
    assert "PERMISSION_DENIED" in err

    assert approve(federation, pending, "supervisor-a") == 0
    assert "security_profile for carrier-1, purpose TARGETING" in capsys.readouterr().out
    assert approve(federation, pending, "supervisor-a") == 1  # one key counts once
    assert "already signed by key" in capsys.readouterr().err
    assert send(federation, pending) == 1
    assert "1 of 3 signed" in capsys.readouterr().err

    assert approve(federation, pending, "supervisor-c") == 0
    assert send(federation, pending) == 0
    assert "verified" in capsys.readouterr().out
    assert send(federation, pending) == 1  # answered once: the query id is now used
    assert "was already used" in capsys.readouterr().err


def test_queries_without_a_rule_need_no_approval(
    federation: Federation, carrier: RunningNode, tmp_path: Path
) -> None:
    pending = tmp_path / "query.jsonl"
    assert sign_only(federation, "shipment_known", pending) == 0
    assert send(federation, pending) == 0


def test_an_approval_rule_is_checked_strictly(federation: Federation) -> None:
    generate_keypair(federation.root / "keys", "supervisor-a")
    path = require_approval(federation, {
        "purposes": ["INVESTIGATION"], "required": 2,
        "approvers": [{"file": "keys/supervisor-a.pub"}],
    })
    with pytest.raises(ConfigError, match="required"):
        load_node_config(path)
    require_approval(federation, {
        "purposes": ["INVESTIGATION"], "required": 1,
        "approvers": [{"file": f"keys/{COORDINATOR_ID}.pub"}],
    })
    with pytest.raises(ConfigError, match="approver signs with a key of its own"):
        load_node_config(path)
