"""Hostile files the coordinator's operators pass around: signed queries waiting for
approvers (`fedtrade query --sign-only`, `approve`, `send`), the AEO register, and every
path a command writes to. Refused in one line naming the file; a FIFO or a device is never
waited on and never replaced by a regular file."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main
from fedtrade.protocol.json_text import parse_json
from fedtrade.sim.aeo import add_coordinator_aeo
from fedtrade.sim.federation import Federation, create_federation
from tests.adversarial.test_coordinator_inputs import (
    BUG,
    _one_error_line,
    _screen,
    screening,  # noqa: F401 (a fixture)
)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    federation = create_federation(tmp_path_factory.mktemp("files") / "fed")
    federation.write_coordinator_config({n: "127.0.0.1:9" for n in federation.node_configs})
    add_coordinator_aeo(federation)
    return federation


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _sign_only(fed: Federation, out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, _ = _run(["query", "--config", str(fed.coordinator_config), "--node", "carrier-1",
                    "describe", "--purpose", "TARGETING", "--case", "C-1", "--sign-only",
                    str(out)], capsys)
    assert code == 0
    record: dict[str, object] = json.loads(out.read_text())
    return record


def _approve(fed: Federation, path: Path) -> list[str]:
    return ["approve", str(path), "--key", str(fed.root / "keys" / "cbp-aeo.key")]


def _send(fed: Federation, path: Path) -> list[str]:
    return ["send", str(path), "--config", str(fed.coordinator_config)]


def test_a_query_file_altered_after_signing_is_not_sent(
    fed: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was sent, and only the node's refusal (or, here, its absence) told."""
    pending = tmp_path / "q.jsonl"
    record = _sign_only(fed, pending, capsys)
    payload = bytearray(base64.b64decode(str(record["payload"])))
    payload[-1] ^= 0x01  # still a Query: the case id's last character
    pending.write_text(json.dumps({**record, "payload": base64.b64encode(payload).decode()}))
    code, err = _run(_send(fed, pending), capsys)
    assert code == 1
    assert "not signed by this coordinator's key, or altered since" in \
        _one_error_line(err, pending)


@pytest.mark.parametrize("case", ["not a query", "two queries", "a key twice", "NaN"])
def test_a_malformed_query_file_names_the_file(
    fed: Federation, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = tmp_path / "q.jsonl"
    record = _sign_only(fed, pending, capsys)
    line = json.dumps(record)
    if case == "not a query":  # was "the signed payload is not a valid Query" naming no file
        bad = {**record, "payload": base64.b64encode(b"\xff" * 40).decode()}
        pending.write_text(json.dumps(bad) + "\n")
        expected = f"{pending}: the signed payload is not a valid Query message"
    elif case == "two queries":  # approve wrote back the first and dropped the second
        pending.write_text(f"{line}\n{line}\n")
        expected = f"{pending}: holds 2 envelopes, not one signed query"
    elif case == "a key twice":  # json.loads kept the last payload given
        pending.write_text(line[:-1] + ', "payload": "AAAA"}\n')
        expected = f"{pending}, line 1: not a signed query envelope (ValueError)"
    else:
        pending.write_text(line.replace('"signatures": [', '"signatures": [NaN, ', 1) + "\n")
        expected = f"{pending}, line 1: not a signed query envelope (ValueError)"
    before = pending.read_bytes()
    for argv in (_approve(fed, pending), _send(fed, pending)):
        code, err = _run(argv, capsys)
        assert code == 1
        assert expected in _one_error_line(err, pending)
    assert pending.read_bytes() == before


def test_json_others_write_refuses_repeated_keys_and_non_numbers() -> None:
    assert parse_json('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    for text, reason in [('{"a": 1, "a": 2}', "key 'a' given twice"),
                         ('[{"b": {"c": 1, "c": 1}}]', "key 'c' given twice"),
                         ("[NaN]", "NaN is not a JSON number"),
                         ('{"x": -Infinity}', "-Infinity is not a JSON number")]:
        with pytest.raises(ValueError, match=reason):
            parse_json(text)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _still_a_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(path.stat().st_mode)


def test_aeo_issue_does_not_replace_a_fifo_register(
    fed: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO (or /dev/zero, as root) has size 0: it was taken for an empty register, and
    the new register renamed over it."""
    register = _fifo(tmp_path / "register.jsonl")
    code, err = _run(["aeo", "issue", "--key", str(fed.root / "keys" / "cbp-aeo.key"),
                      "--register", str(register), "--node", "broker-1", "--role", "broker",
                      "--legal-name", "Broker Ltd", "--tier", "silver", "--valid-from",
                      "2026-01-01", "--valid-until", "2027-01-01", "--out",
                      str(tmp_path / "cert.jsonl")], capsys)
    assert code == 1
    assert "cannot read the AEO register file: is a FIFO" in _one_error_line(err, register)
    assert _still_a_fifo(register)
    assert not (tmp_path / "cert.jsonl").exists()


@pytest.mark.parametrize("command", ["sign-only", "scorecard"])
def test_an_output_path_that_is_a_fifo_is_refused_not_replaced(
    fed: Federation, tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(fed.coordinator_config)
    out = _fifo(tmp_path / ("card.json" if command == "scorecard" else "out.jsonl"))
    if command == "sign-only":
        argv = ["query", "--config", config, "--node", "carrier-1", "describe", "--purpose",
                "TARGETING", "--case", "C-1", "--sign-only", str(out)]
        expected = f"{out}: cannot write: it is a FIFO (named pipe), not a regular file"
    else:
        argv = ["aeo", "scorecard", "--config", config, "--period", "2026-11", "--out",
                str(tmp_path / "card")]
        (fed.root / "data" / "evidence.db").touch()
        expected = f"{out} is a FIFO (named pipe), not a regular file; give the path of a file"
    code, err = _run(argv, capsys)
    assert code == 1
    assert BUG not in err
    assert expected in err
    assert _still_a_fifo(out)


@pytest.mark.parametrize("option", ["--out", "--json", "--quarantine"])
def test_screen_refuses_a_fifo_to_write_to(
    screening: Federation, tmp_path: Path, option: str  # noqa: F811
) -> None:
    """--quarantine opened the FIFO for writing and waited for a reader for ever."""
    (screening.root / "bad.csv").write_text(
        (screening.root / "manifest.csv").read_text().replace("851830", "85"))
    out = _fifo(tmp_path / "out.fifo")
    code, err = _screen(screening, "bad.csv", option, str(out))
    assert code == 1
    assert "is a FIFO (named pipe), not a regular file; give the path of a file to write" in \
        _one_error_line(err, out)
    assert _still_a_fifo(out)


def test_config_check_names_an_evidence_db_that_is_not_a_file(
    fed: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said OK; each command using the store then failed on it."""
    store = _fifo(tmp_path / "evidence.db")
    config = tmp_path / "coordinator.yaml"
    config.write_text(fed.coordinator_config.read_text()
                      .replace("keys/", f"{fed.root}/keys/").replace("ca/", f"{fed.root}/ca/")
                      .replace("aeo/", f"{fed.root}/aeo/")
                      .replace("evidence_db: data/evidence.db", f"evidence_db: {store}"))
    code, err = _run(["config", "check", str(config)], capsys)
    assert code == 1
    assert f"coordinator.evidence_db: {store} is a FIFO (named pipe), not the evidence " \
        "store's file" in _one_error_line(err, config)
