"""Command-line conventions of both console scripts: --version, --json, untruncated tables when
piped, unknown options named."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from fedtrade import __version__
from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.node.cli import main as node_main
from fedtrade.protocol.attestation import write_attestations
from tests.conftest import LiveFederation
from tests.coordinator.test_evidence import _alter, ask_and_store

ROOT = Path(__file__).resolve().parents[2]
Main = Callable[[Sequence[str]], int]


CONTEXT_ARGS = ["--purpose", "TARGETING", "--case", "CASE-1"]


def json_of(main: Main, args: list[str], capsys: pytest.CaptureFixture[str],
            code: int = 0) -> Any:
    assert main([*args, "--json"]) == code
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.parametrize(("main", "prog"), [(fedtrade_main, "fedtrade"),
                                            (node_main, "fedtrade-node")])
def test_version(main: Main, prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"{prog} {__version__}\n"


@pytest.mark.parametrize(("main", "args", "usage", "hint"), [
    (fedtrade_main, ["query", "--config", "c.yaml", "--node", "n", "describe", "--purpse"],
     "fedtrade query", "did you mean --purpose? "),
    (node_main, ["audit", "verify", "--config", "c.yaml", "--fast"], "fedtrade-node audit verify",
     ""),
])
def test_an_unknown_option_is_named(main: Main, args: list[str], usage: str, hint: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {usage} ")
    assert err.splitlines()[-1] == (
        f"{usage}: error: unknown option {args[-1]} ({hint}see '{usage} --help')"
    )


def test_query_json(live: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(live.federation.coordinator_config)
    base = ["query", "--config", config, "--node", "broker-1", *CONTEXT_ARGS]
    blocks = live.federation.root / "blocks.jsonl"
    write_attestations(blocks, live.attest([{"house_bill": "HB0001"}, {"house_bill": "HB0002"}]))
    answer = json_of(fedtrade_main, [*base, "shipment_known", "--param",
                                     "house_bills=HB0001,HB0002", "--attestations", str(blocks)],
                     capsys)
    assert answer["node"] == "broker-1"
    assert answer["query"] == "shipment_known"
    assert answer["verified"] is True
    assert len(answer["query_id"]) == 32
    assert answer["rows"] == [{"house_bill": "HB0001", "known": False},
                              {"house_bill": "HB0002", "known": False}]

    described = json_of(fedtrade_main, [*base, "describe"], capsys)
    queries = {q["query"]: q for q in described["catalogue"]}
    assert queries["shipment_known"]["parameters"] == [{"name": "house_bills",
                                                        "type": "text_list"}]
    assert queries["shipment_known"]["output_fields"] == ["house_bill", "known"]
    assert described["query_id"] != answer["query_id"]


def test_describe_piped_is_never_truncated(live: LiveFederation,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The table a pipe or file receives holds every cell in full, one row per line."""
    args = ["query", "--config", str(live.federation.coordinator_config), "--node",
            "broker-1", "describe", *CONTEXT_ARGS]
    catalogue = json_of(fedtrade_main, args, capsys)["catalogue"]
    piped = subprocess.run([sys.executable, "-m", "fedtrade.coordinator.cli", *args],
                           capture_output=True, text=True, timeout=60, check=True,
                           env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"})
    assert "…" not in piped.stdout
    rows = {line.split("│")[1].strip(): line for line in piped.stdout.splitlines()
            if line.startswith("│")}
    assert set(rows) == {q["query"] for q in catalogue}
    for query in catalogue:
        assert ", ".join(query["output_fields"]) in rows[query["query"]]
        assert ", ".join(f"{p['name']}:{p['type']}" for p in query["parameters"]) in (
            rows[query["query"]])


def test_config_check_json(live: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    coordinator = json_of(fedtrade_main, ["config", "check",
                                          str(live.federation.coordinator_config)], capsys)
    assert coordinator["kind"] == "coordinator"
    assert coordinator["ok"] is True
    assert coordinator["nodes"] == sorted(live.nodes)
    node_config = live.federation.node_configs["carrier-1"]
    node = json_of(node_main, ["config", "check", str(node_config)], capsys)
    assert (node["kind"], node["node_id"], node["role"], node["version"]) == (
        "node", "carrier-1", "carrier", 1)
    tls = live.nodes["carrier-1"].state.config.tls
    assert tls is not None
    assert node["tls_not_after"] == tls.not_after.isoformat()


def test_evidence_audit_and_health_json(live: LiveFederation,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    ask_and_store(live)
    verify = ["evidence", "verify", "--config", str(live.federation.coordinator_config)]
    assert json_of(fedtrade_main, verify, capsys) == {"ok": True, "checked": 5, "problems": []}
    _alter(live, "response", "signature")
    failed = json_of(fedtrade_main, verify, capsys, code=1)
    assert failed["ok"] is False
    (problem,) = failed["problems"]
    assert problem["node"] == "broker-1"

    node = live.nodes["broker-1"]
    config = str(live.federation.node_configs["broker-1"])
    audit = json_of(node_main, ["audit", "verify", "--config", config], capsys)
    assert audit["ok"] is True
    assert audit["entries"] == node.state.store.audit_entries >= 1
    health = json_of(node_main, ["health", "--address", node.address, "--tls-config", config],
                     capsys)
    assert health == {"address": node.address, "status": "SERVING"}
