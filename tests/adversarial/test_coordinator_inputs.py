"""Hostile files on the coordinator's side: what `fedtrade screen` reads (the manifest, a
rate file, the filer's blocks) and the evidence store every `fedtrade evidence` and
`fedtrade aeo scorecard` command opens. Each is refused in one line naming the file (and
the line, row or table) and what to do, or reported as evidence that does not verify;
never a hang, an unbounded read, a traceback or "a bug in fedtrade"."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fedtrade.coordinator.cli import main
from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.manifest import MANIFEST_COLUMNS
from fedtrade.sim.aeo import add_coordinator_aeo
from fedtrade.sim.federation import Federation, create_federation
from fedtrade.trust.errors import RemoteError
from tests.conftest import CONTEXT, live_federation
from tests.coordinator.test_evidence import ask_and_store

BUG = "a bug in fedtrade"


def _one_error_line(err: str, path: Path | str) -> str:
    assert BUG not in err, err
    assert "Traceback" not in err, err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {path}"), err
    return err


# --- fedtrade screen: the manifest, --rates and --attestations --------------------------

@pytest.fixture(scope="module")
def screening(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    """A federation whose nodes are never reached: every file here is refused before."""
    federation = create_federation(tmp_path_factory.mktemp("screen") / "fed")
    federation.write_coordinator_config({n: "127.0.0.1:9" for n in federation.node_configs})
    with (federation.root / "manifest.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerow({"house_bill": "HB0001", "mawb": "02012345675",
                         "consignee_name": "Jane Roe", "consignee_address": "1 Main St",
                         "shipper_name": "Acme", "shipper_country": "CN",
                         "origin_country": "CN", "declared_value": "12.50", "currency": "USD",
                         "hs6": "851830", "arrival_date": "2026-11-02"})
    (federation.root / "none.jsonl").touch()  # never read: the manifest or rates fail first
    return federation


def _screen(federation: Federation, manifest: Path | str, *options: str,
            attestations: Path | str = "none.jsonl") -> tuple[int, str]:
    """`fedtrade screen` in its own process: a hang fails the test, it does not stall it."""
    done = subprocess.run(
        [sys.executable, "-m", "fedtrade.coordinator.cli", "screen", "--config",
         "coordinator.yaml", "--purpose", "TARGETING", "--case", "C-1", "--out", "out.csv",
         "--attestations", str(attestations), str(manifest), *options],
        cwd=federation.root, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stderr


def _no_line_breaks(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for _ in range(size // (1 << 20)):
            out.write(b"x" * (1 << 20))
    return path


def _special(root: Path, kind: str) -> Path:
    """A path that is not a regular file: a FIFO nobody writes to, a device, a folder."""
    if kind == "dev-zero":
        return Path("/dev/zero")
    path = root / f"{kind}.special"
    if path.exists():
        return path
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
@pytest.mark.parametrize("role", ["manifest", "rates", "attestations"])
def test_a_path_that_is_not_a_file_is_refused_at_once(
    screening: Federation, role: str, kind: str
) -> None:
    special = _special(screening.root, kind)
    what = {"manifest": "manifest", "rates": "rate", "attestations": "attestations"}[role]
    if role == "manifest":
        code, err = _screen(screening, special)
    elif role == "rates":
        code, err = _screen(screening, "manifest.csv", "--rates", str(special))
    else:
        code, err = _screen(screening, "manifest.csv", attestations=special)
    assert code == 1
    assert f"cannot read the {what} file: it is a " in _one_error_line(err, special)
    assert "not a regular file; give the path of a file" in err


@pytest.mark.parametrize(("option", "kind"), [("--report", "fifo"), ("--worklist", "folder")])
def test_an_output_written_after_the_run_is_refused_before_it(
    screening: Federation, option: str, kind: str
) -> None:
    """--report and --worklist are written once every node has answered: a path that cannot
    take the file is refused before the manifest is read, not after the whole run."""
    special = _special(screening.root, kind)
    code, err = _screen(screening, "manifest.csv", option, str(special))
    assert code == 1
    expected = "is a folder; give the path" if kind == "folder" else "not a regular file"
    assert expected in _one_error_line(err, special)


@pytest.mark.parametrize("role", ["manifest", "attestations"])
def test_a_file_without_line_breaks_is_refused_at_the_line_cap(
    screening: Federation, role: str
) -> None:
    if role == "manifest":  # 1 MiB a line; the csv module alone would read it all first
        path = _no_line_breaks(screening.root / "one-line.csv", 8 << 20)
        code, err = _screen(screening, path)
        cap = "1,048,576"
    else:  # the largest message a node accepts, as base64: 85 MiB
        path = _no_line_breaks(screening.root / "one-line.jsonl", 96 << 20)
        code, err = _screen(screening, "manifest.csv", attestations=path)
        cap = "89,482,581"
    path_text = str(path)
    path.unlink()
    assert code == 1
    assert f"{path_text}:1: a line longer than {cap} characters; check that this is the " \
        in _one_error_line(err, path)


@pytest.mark.parametrize(("content", "expected"), [
    (b"\xd2\x81\xff garbage\n", r"rates.csv:1: not valid CSV ('utf-8' codec can't decode"),
    (b"date,currency,per_usd\n2026-11-01,EUR,1e-320\n",
     "rates.csv:2: per_usd: '1e-320' is not a number from 1e-06 to 1e+12"),
    (b"date,currency,per_usd\n2026-11-01,EUR,1e13\n", "rates.csv:2: per_usd: '1e13' is not"),
])
def test_a_bad_rate_file_names_the_line(
    screening: Federation, content: bytes, expected: str
) -> None:
    """Binary garbage was "a bug in fedtrade"; a rate of 1e-320 turned declared values
    into infinity, screened with warnings and exit 0."""
    rates = screening.root / "rates.csv"
    rates.write_bytes(content)
    code, err = _screen(screening, "manifest.csv", "--rates", "rates.csv")
    assert code == 1
    assert expected in _one_error_line(err, "rates.csv")


# --- the evidence store: fedtrade evidence verify / checkpoints, fedtrade aeo scorecard ---

@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A federation folder whose evidence store holds real answers of live nodes: single
    answers, a chunk stream, attested blocks kept once, and a refusal (unanswered)."""
    federation = create_federation(tmp_path_factory.mktemp("evidence") / "fed")
    for live in live_federation(federation):
        blocks = ask_and_store(live)
        store = EvidenceStore(live.coordinator.config.evidence_db)
        coordinator = Coordinator(live.coordinator.config, evidence=store)
        with pytest.raises(RemoteError, match="PERMISSION_DENIED"):
            coordinator.ask("broker-1", "shipment_known", {"house_bills": ["NOTATTESTED1"]},
                            CONTEXT, attestations=blocks[:1])
        coordinator.close()
        store.close()
    add_coordinator_aeo(federation)
    return federation.root


@pytest.fixture
def fed(stored: Path, tmp_path: Path) -> Path:
    root = tmp_path / "fed"
    shutil.copytree(stored, root)
    return root


def _commands(root: Path) -> dict[str, list[str]]:
    config = str(root / "coordinator.yaml")
    return {
        "verify": ["evidence", "verify", "--config", config],
        "checkpoints": ["evidence", "checkpoints", "--config", config, "--node", "carrier-1",
                        "--out", str(root / "checkpoints.jsonl")],
        "scorecard": ["aeo", "scorecard", "--config", config, "--out", str(root / "card"),
                      "--period", datetime.now(UTC).strftime("%Y-%m")],
    }


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _sql(root: Path, *statements: str) -> None:
    conn = sqlite3.connect(root / "data" / "evidence.db")
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


def _overwrite_pages(root: Path) -> None:
    """Pages past the schema overwritten: opening it works, reading its rows does not."""
    path = root / "data" / "evidence.db"
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    for page in range(2, len(data) // size):
        data[page * size:(page + 1) * size] = bytes([0x5A]) * size
    path.write_bytes(bytes(data))


def _replace(root: Path, make: Callable[[Path], object]) -> None:
    path = root / "data" / "evidence.db"
    path.unlink()
    make(path)


STORES: dict[str, tuple[Callable[[Path], object], str]] = {
    "garbage": (lambda root: _replace(root, lambda p: p.write_bytes(os.urandom(8192))),
                "not an evidence store, or a damaged one (file is not a database)"),
    "cut short": (lambda root: (root / "data" / "evidence.db").write_bytes(
        (root / "data" / "evidence.db").read_bytes()[:8192]),
        "not an evidence store, or a damaged one (database disk image is malformed)"),
    "pages overwritten": (_overwrite_pages,
                          "the evidence store is damaged (database disk image is malformed); "
                          "restore it from a backup"),
    "folder": (lambda root: _replace(root, Path.mkdir),
               "cannot open the evidence store: it is a directory, not a regular file"),
    "fifo": (lambda root: _replace(root, os.mkfifo),
             "cannot open the evidence store: it is a FIFO (named pipe), not a regular file"),
    "a node's store": (lambda root: shutil.copyfile(root / "data" / "carrier-1.db",
                                                    root / "data" / "evidence.db"),
                       "not an evidence store: it has no evidence table but _sqlite_migrations"),
    "another schema": (lambda root: _sql(root, "ALTER TABLE evidence DROP COLUMN kind"),
                       "table evidence lacks the column(s) kind: written by another program"),
}


@pytest.mark.parametrize("command", ["verify", "checkpoints", "scorecard"])
@pytest.mark.parametrize("case", list(STORES))
def test_a_store_that_is_not_an_evidence_store_is_refused_in_one_line(
    fed: Path, case: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = STORES[case]
    make(fed)
    store = fed / "data" / "evidence.db"
    tables = _tables(store) if case == "a node's store" else None
    code, err = _run(_commands(fed)[command], capsys)
    assert code == 1
    assert expected in _one_error_line(err, store)
    if tables is not None:  # nothing was written into the node's store
        assert _tables(store) == tables


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    names = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    return names


# Rows altered in place. SQLite keeps what it is given in a BLOB column whatever its type;
# a blob in a TEXT column stays a blob; text that is not UTF-8 could not even be read.
ALTERED = {
    "response random bytes": "UPDATE evidence SET response = randomblob(300) "
                             "WHERE id = (SELECT min(id) FROM evidence WHERE kind = 'answer')",
    "response as text": "UPDATE evidence SET response = 'not an envelope' "
                        "WHERE id = (SELECT min(id) FROM evidence WHERE kind = 'answer')",
    "response as a number": "UPDATE evidence SET response = 42 "
                            "WHERE id = (SELECT max(id) FROM evidence WHERE kind = 'chunk')",
    "response as text not UTF-8": "UPDATE evidence SET response = CAST(x'0aff01fe' AS TEXT) "
                                  "WHERE id = (SELECT min(id) FROM evidence)",
    "block position as text": "UPDATE request_blocks SET position = 'x'",
    "block position negative": "UPDATE request_blocks SET position = -5",
    "block entry random bytes": "UPDATE attested_blocks SET entry = randomblob(64)",
    "block entry as text": "UPDATE attested_blocks SET entry = 'x'",
}


@pytest.mark.parametrize("case", list(ALTERED))
def test_altered_rows_are_evidence_that_does_not_verify(
    fed: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each was "unexpected DecodeError / TypeError / OperationalError ... a bug in
    fedtrade" from every command reading the store."""
    _sql(fed, ALTERED[case])
    commands = _commands(fed)
    code, err = _run(commands["verify"], capsys)
    assert (code, BUG in err) == (1, False)
    assert "evidence that does NOT verify" in err
    assert "stored responses fail verification" in err
    code, err = _run(commands["checkpoints"], capsys)  # what verifies is still written
    assert (code, err) == (0, "")
    code, err = _run(commands["scorecard"], capsys)
    assert (code, BUG in err) == (0, False)
    assert not all(card["integrity"]["ok"] for card in _cards(fed).values())


def test_a_row_of_a_node_id_no_config_names_does_not_verify(
    fed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A blob where the node id goes: reported (its node is unknown), not a crash."""
    _sql(fed, "UPDATE evidence SET node_id = x'ff00' WHERE id = (SELECT min(id) FROM evidence)")
    code, err = _run(_commands(fed)["verify"], capsys)
    assert (code, BUG in err) == (1, False)
    assert "node is not in the config" in err


def _cards(root: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((root / "card.json").read_text())["scorecard"]
    return {card["node_id"]: card for card in document["nodes"]}


def test_a_damaged_answer_is_not_counted_but_fails_integrity(
    fed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = _commands(fed)
    assert main(commands["scorecard"]) == 0
    before = _cards(fed)["broker-1"]
    _sql(fed, "UPDATE evidence SET response = randomblob(300) WHERE node_id = 'broker-1'")
    assert main(commands["scorecard"]) == 0
    capsys.readouterr()
    after = _cards(fed)["broker-1"]
    assert (before["questions"]["answered"], before["integrity"]["ok"]) == (1, True)
    assert (after["questions"]["answered"], after["integrity"]["ok"]) == (0, False)


def test_a_damaged_unanswered_question_is_refused_naming_it(
    fed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sql(fed, "UPDATE unanswered SET request = randomblob(40)")
    code, err = _run(_commands(fed)["scorecard"], capsys)
    assert code == 1
    assert "unanswered question 1 (broker-1): its stored request or answer is not a " \
        "serialized signed envelope" in _one_error_line(err, fed / "data" / "evidence.db")


# --- fedtrade evaluate: results, ground truth, confounders, dispositions ------------------

EVALUATED = {
    "results.csv": "house_bill,risk_level,score,patterns,reasons,manifest_only_patterns,"
                   "answered_by,no_answer\nHB0001,low,0,,,,carrier-1,\n",
    "truth.csv": "house_bill,pattern\nHB0001,undervaluation\n",
    "confounders.csv": "house_bill,confounder\nHB0001,coupon\n",
    "lane.csv": "house_bill,disposition,score,chain\nHB0001,facilitated,0,carrier-1\n",
}
# which argument each file is, and what the command calls it
ROLES = {"results.csv": "results", "truth.csv": "ground truth", "confounders.csv": "confounders",
         "lane.csv": "dispositions"}


def _evaluate(root: Path, replaced: str, by: Path) -> tuple[int, str]:
    for name, text in EVALUATED.items():
        (root / name).write_text(text)
    files = {name: str(by) if name == replaced else name for name in EVALUATED}
    done = subprocess.run(
        [sys.executable, "-m", "fedtrade.coordinator.cli", "evaluate", files["results.csv"],
         files["truth.csv"], "--confounders", files["confounders.csv"], "--dispositions",
         files["lane.csv"]],
        cwd=root, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("name", list(EVALUATED))
def test_evaluate_refuses_a_path_that_is_not_a_file(
    tmp_path: Path, name: str, kind: str
) -> None:
    """Every one of the four waited for ever on a FIFO."""
    special = _special(tmp_path, kind)
    code, err = _evaluate(tmp_path, name, special)
    assert code == 1
    assert f"cannot read the {ROLES[name]} file: it is a " in _one_error_line(err, special)


def test_evaluate_files_good_and_bad(tmp_path: Path) -> None:
    code, err = _evaluate(tmp_path, "", tmp_path)
    assert (code, err) == (0, "")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\xd2\x81\xff\xfe garbage\n")
    code, err = _evaluate(tmp_path, "lane.csv", garbage)  # was "a bug in fedtrade"
    assert code == 1
    assert "not a UTF-8 CSV file ('utf-8' codec can't decode" in _one_error_line(err, garbage)
    long = _no_line_breaks(tmp_path / "long.csv", 2 << 20)
    code, err = _evaluate(tmp_path, "truth.csv", long)
    assert code == 1
    assert "long.csv:1: a line longer than 1,048,576 characters; check that this is the " \
        "ground truth file" in _one_error_line(err, long)
