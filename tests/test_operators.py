"""Operator commands: `fedtrade-node init`, `fedtrade pki issue --csr`, `fedtrade nodes add`,
expiry warnings of `config check`, and JSON start/stop lines."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main as fedtrade
from fedtrade.node.cli import main as fedtrade_node
from fedtrade.node.config import load_node_config
from fedtrade.sim.federation import create_federation
from fedtrade.trust.expiry import expiry_warnings
from fedtrade.trust.pki import init_ca, issue_certificate


def test_init_with_ca_gives_a_config_that_checks_once_the_shared_files_are_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fed = create_federation(tmp_path / "fed")
    out = tmp_path / "broker-2"
    assert fedtrade_node(["init", "--role", "broker", "--id", "broker-2", "--out", str(out),
                          "--ca", str(fed.root / "ca"), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert sorted(Path(p).name for p in made["missing"]) == ["cbp-coordinator.pub",
                                                             "linkage.secret"]
    assert stat.S_IMODE((out / "keys" / "broker-2.key").stat().st_mode) == 0o600
    assert fedtrade_node(["config", "check", str(out / "config" / "node.yaml")]) == 1
    (problem,) = capsys.readouterr().err.splitlines()  # one line naming a missing shared file
    assert "cbp-coordinator.pub" in problem or "linkage.secret" in problem
    (out / "config" / "cbp-coordinator.pub").write_bytes(
        (fed.root / "keys" / "cbp-coordinator.pub").read_bytes())
    secret = out / "keys" / "linkage.secret"
    secret.write_bytes((fed.root / "keys" / "linkage.secret").read_bytes())
    secret.chmod(0o600)
    config = load_node_config(out / "config" / "node.yaml")
    grants = config.requesters["cbp-coordinator"].grants
    assert set(grants) == {"shipment_indicators", "consignee_daily_totals"}
    assert "entry_declared_ratio_band" in grants["shipment_indicators"].fields
    # never overwrites
    assert fedtrade_node(["init", "--role", "broker", "--id", "broker-2", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_csr_is_issued_for_the_id_it_names_and_the_key_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init_ca(tmp_path / "ca")
    out = tmp_path / "carrier-2"
    assert fedtrade_node(["init", "--role", "carrier", "--id", "carrier-2", "--out", str(out)]) == 0
    assert "carrier-2.tls.csr" in capsys.readouterr().out
    csr = out / "keys" / "carrier-2.tls.csr"
    assert fedtrade(["pki", "issue", "--ca", str(tmp_path / "ca"), "--csr", str(csr),
                     "--out", str(tmp_path / "issued")]) == 0
    assert (tmp_path / "issued" / "carrier-2.tls.crt").exists()
    assert not (tmp_path / "issued" / "carrier-2.tls.key").exists()
    damaged = tmp_path / "bad.csr"
    damaged.write_text("not a request")
    assert fedtrade(["pki", "issue", "--ca", str(tmp_path / "ca"), "--csr", str(damaged),
                     "--out", str(tmp_path / "issued")]) == 1
    assert "not a PEM certificate request" in capsys.readouterr().err


def test_nodes_add_checks_then_writes_keeping_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fed = create_federation(tmp_path / "fed")
    config = fed.write_coordinator_config({"carrier-1": "127.0.0.1:50052"})
    config.write_text("# operator's note\n" + config.read_text())
    before = config.read_text()
    args = ["nodes", "add", "--config", str(config), "--id", "broker-1", "--role", "broker",
            "--address", "127.0.0.1:50053", "--public-key", str(fed.root / "keys" / "broker-1.pub")]
    assert fedtrade(args) == 0
    assert "public_key: keys/broker-1.pub" in capsys.readouterr().out
    assert config.read_text() == before  # printed and checked, not written
    bad = [*args[:-1], str(fed.root / "keys" / "nope.pub")]
    assert fedtrade(bad) == 1
    assert "not added" in capsys.readouterr().err
    assert fedtrade([*args, "--apply"]) == 0
    assert "added to" in capsys.readouterr().out
    text = config.read_text()
    assert text.startswith("# operator's note\n")
    assert "broker-1:" in text
    assert fedtrade(["config", "check", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nodes"] == ["broker-1", "carrier-1"]
    assert fedtrade([*args, "--apply"]) == 1
    assert "already configured" in capsys.readouterr().err


def test_expiry_warnings_within_30_days_only() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    warnings = expiry_warnings([("soon", now + timedelta(days=29)), ("later", now +
                                timedelta(days=31)), ("gone", now - timedelta(days=1)),
                                ("none", None)], now=now)
    assert [w.split()[0] for w in warnings] == ["soon", "gone"]
    assert "expired" in warnings[1]


def test_config_check_warns_about_a_certificate_that_expires_soon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fed = create_federation(tmp_path / "fed")
    keys = fed.root / "keys"
    for suffix in (".tls.crt", ".tls.key"):
        (keys / f"carrier-1{suffix}").unlink()
    issue_certificate(fed.root / "ca", "carrier-1", keys, days=10)
    path = fed.node_configs["carrier-1"]
    assert fedtrade_node(["config", "check", str(path)]) == 0
    assert "warning:" in capsys.readouterr().err
    assert fedtrade_node(["config", "check", str(path), "--json"]) == 0
    (warning,) = json.loads(capsys.readouterr().out)["warnings"]
    assert warning.startswith("TLS certificate expires")
