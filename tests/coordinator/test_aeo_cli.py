"""`fedtrade aeo issue|revoke|list`: the authority's register, as operators use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main
from fedtrade.protocol.aeo import AeoAuthority, read_register
from fedtrade.sim.aeo import AUTHORITY_ID, REGISTER, add_coordinator_aeo
from fedtrade.sim.federation import Federation, create_federation
from fedtrade.trust.keys import SigningKey, generate_keypair


@pytest.fixture
def fed(tmp_path: Path) -> Federation:
    federation = create_federation(tmp_path / "fed")
    federation.write_coordinator_config({n: "127.0.0.1:1" for n in federation.node_configs})
    add_coordinator_aeo(federation)
    return federation


def _issue(fed: Federation, node: str, role: str, *extra: str) -> list[str]:
    return ["aeo", "issue", "--key", str(fed.root / "keys" / f"{AUTHORITY_ID}.key"),
            "--register", str(fed.root / REGISTER), "--node", node, "--role", role,
            "--legal-name", f"{node} Ltd", "--tier", "gold", "--valid-from", "2026-01-01",
            "--valid-until", "2036-01-01", "--out", str(fed.root / f"{node}.cert.jsonl"), *extra]


def test_issue_revoke_list(fed: Federation, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_issue(fed, "carrier-1", "carrier", "--condition", "answers within 10 s",
                         "--json")]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["node_id"] == "carrier-1"
    assert issued["conditions"] == ["answers within 10 s"]
    assert main(_issue(fed, "broker-1", "broker")) == 0
    assert "issued AEO certificate" in capsys.readouterr().out
    assert main(["aeo", "revoke", "--key", str(fed.root / "keys" / f"{AUTHORITY_ID}.key"),
                 "--register", str(fed.root / REGISTER), "--certificate",
                 issued["certificate_id"][:12], "--reason", "data withheld"]) == 0
    assert "revoked AEO certificate" in capsys.readouterr().out

    config = str(fed.coordinator_config)
    assert main(["aeo", "list", "--config", config, "--at", "2026-06-01", "--json"]) == 0
    listed = {c["node_id"]: c["status"] for c in
              json.loads(capsys.readouterr().out)["certificates"]}
    # a revocation counts from its moment on: before it, the certificate was valid
    assert listed == {"broker-1": "valid", "carrier-1": "valid"}
    assert main(["aeo", "list", "--config", config, "--json"]) == 0
    now = {c["node_id"]: c["status"] for c in json.loads(capsys.readouterr().out)["certificates"]}
    assert now["broker-1"] == "valid"
    assert "revoked on" in now["carrier-1"]
    assert "data withheld" in now["carrier-1"]
    assert main(["aeo", "list", "--config", config, "--at", "2036-02-01", "--json"]) == 0
    later = json.loads(capsys.readouterr().out)["certificates"]
    assert all("expired on 2036-01-01" in c["status"] or "revoked" in c["status"]
               for c in later)
    assert main(["aeo", "list", "--config", config]) == 0
    assert "broker-1" in capsys.readouterr().out


def test_the_register_only_takes_documents_of_its_authority(
    fed: Federation, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(_issue(fed, "carrier-1", "carrier")) == 0
    generate_keypair(fed.root / "keys", "intruder")
    intruder = _issue(fed, "broker-1", "broker")
    intruder[intruder.index("--key") + 1] = str(fed.root / "keys" / "intruder.key")
    assert main(intruder) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "line 1" in err
    assert err.count("\n") == 1
    key = SigningKey.from_file(fed.root / "keys" / f"{AUTHORITY_ID}.key")
    register = read_register(fed.root / REGISTER, AeoAuthority(AUTHORITY_ID, key.public_key))
    assert [c.node_id for c in register.certificates] == ["carrier-1"]


def test_cli_errors_are_one_line(fed: Federation, capsys: pytest.CaptureFixture[str]) -> None:
    key = str(fed.root / "keys" / f"{AUTHORITY_ID}.key")
    assert main(["aeo", "revoke", "--key", key, "--register", str(fed.root / REGISTER),
                 "--certificate", "ab", "--reason", "x"]) == 1
    assert "0 certificates" in capsys.readouterr().err
    assert main(_issue(fed, "carrier-1", "carrier", "--valid-until", "2025-01-01")) == 1
    assert "must end after it starts" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(_issue(fed, "carrier-1", "carrier", "--valid-from", "next week"))
    assert exit_info.value.code == 2
    assert "not a date" in capsys.readouterr().err
    broken = fed.root / "broken.yaml"
    broken.write_text(fed.coordinator_config.read_text().replace("score_below", "scor_below")
                      .replace("register: aeo/register.jsonl", "register: aeo/missing.jsonl"))
    assert main(["aeo", "list", "--config", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "aeo.register" in err
    assert "missing.jsonl" in err
