"""Config checks: strict loading through the real CLIs, and the shipped examples."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.coordinator.risk import DEFAULT_RISK
from fedtrade.node.cli import main as node_main
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.sim.federation import Federation
from fedtrade.trust.keys import generate_keypair
from fedtrade.trust.linkage import generate_linkage_secret
from fedtrade.trust.pki import init_ca, issue_certificate

ROOT = Path(__file__).resolve().parents[2]


def check(path: Path) -> int:
    return node_main(["config", "check", str(path)])


def test_generated_config_passes(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(federation.node_configs["carrier-1"]) == 0
    assert "OK" in capsys.readouterr().out


def test_duplicate_key_is_rejected_with_its_line(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    path = federation.node_configs["carrier-1"]
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("role:"))
    lines.insert(index + 1, "  role: broker")
    path.write_text("\n".join(lines) + "\n")
    assert check(path) == 1
    err = capsys.readouterr().err
    assert f"{path}:{index + 2}:" in err
    assert "duplicate key 'role'" in err


def test_unknown_field_is_rejected_with_its_line(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    path = federation.node_configs["broker-1"]
    text = path.read_text().replace(
        "  clock_skew_seconds: 30", "  clock_skew_seconds: 30\n  clock_skw: 5"
    )
    path.write_text(text)
    line = text.splitlines().index("  clock_skw: 5") + 1
    assert check(path) == 1
    err = capsys.readouterr().err
    assert f"{path}:{line}: freshness.clock_skw: unknown key 'clock_skw'" in err


def test_query_not_answered_by_role_is_rejected(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    path = federation.node_configs["broker-1"]
    path.write_text(path.read_text().replace("shipment_known:", "no_such_query:"))
    assert check(path) == 1
    assert "unknown query 'no_such_query'" in capsys.readouterr().err


def test_world_readable_signing_key_is_refused(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    (federation.root / "keys" / "carrier-1.key").chmod(0o644)
    assert check(federation.node_configs["carrier-1"]) == 1
    assert "chmod 600" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["marketplace", "carrier", "broker", "coordinator"])
def test_shipped_example_configs_are_valid(tmp_path: Path, name: str) -> None:
    """configs/*.yaml stay loadable: every key they use exists and has the right type."""
    for example in (ROOT / "configs").glob("*.yaml"):
        shutil.copy(example, tmp_path / example.name)
    init_ca(tmp_path / "ca")
    for key in ("cbp-coordinator", "marketplace-1", "carrier-1", "broker-1"):
        generate_keypair(tmp_path / "keys", key)
        issue_certificate(tmp_path / "ca", key, tmp_path / "keys")
    generate_linkage_secret(tmp_path / "keys" / "linkage.secret")
    generate_keypair(tmp_path / "keys", "cbp-aeo")  # the AEO authority, with an empty register
    (tmp_path / "aeo").mkdir()
    (tmp_path / "aeo" / "register.jsonl").write_text("")
    main = fedtrade_main if name == "coordinator" else node_main
    assert main(["config", "check", str(tmp_path / f"{name}.yaml")]) == 0


def test_every_example_key_is_commented() -> None:
    """The first occurrence of every config key in configs/*.yaml has a comment line above it.

    Names that are data rather than config keys (query names, currency codes) are
    explained once, at the first of their kind.
    """
    for example in sorted((ROOT / "configs").glob("*.yaml")):
        lines = example.read_text().splitlines()
        seen: set[str] = set()
        for number, line in enumerate(lines):
            match = re.match(r"^\s*(?:- )?([A-Za-z0-9_.-]+):", line)
            if match is None or match.group(1) in seen:
                continue
            key = match.group(1)
            kind = ("query" if key in CATALOGUE else "currency" if re.fullmatch("[A-Z]{3}", key)
                    else key)
            seen.add(key)
            if kind in seen:
                continue
            seen.add(kind)
            assert lines[number - 1].strip().startswith("#"), (
                f"{example.name}:{number + 1}: key {match.group(1)!r} has no comment above it"
            )


def test_example_coordinator_risk_rules_are_the_defaults() -> None:
    example = yaml.safe_load((ROOT / "configs" / "coordinator.yaml").read_text())
    assert example["risk"] == DEFAULT_RISK
