"""Hostile files where a node's SQLite store is expected: every command that opens
``node.database`` refuses it in one line naming the file and what to do, never reporting
it as a bug in fedtrade and never answering "OK" about a store that is not this node's."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.node.cli import main as node_main
from fedtrade.node.state import checkpoint_file
from fedtrade.node.store import open_store
from fedtrade.sim.federation import Federation, create_federation

CARRIER = "carrier-1"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A carrier store made by this release, with every page written into the main file."""
    path = tmp_path_factory.mktemp("pristine") / "carrier.db"
    open_store(path, "carrier").close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    return create_federation(tmp_path_factory.mktemp("stores") / "fed")


def _store(fed: Federation) -> Path:
    path = fed.root / "data" / f"{CARRIER}.db"
    for old in path.parent.glob(f"{path.name}*"):
        old.unlink()
    return path


def _garbage(path: Path, pristine: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)


def _zero_bytes(path: Path, pristine: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path, pristine: Path) -> None:
    path.write_bytes(pristine.read_bytes()[:5000])


def _schema_not_utf8(path: Path, pristine: Path) -> None:
    """A damaged page 1: the schema's text is no longer UTF-8, and sqlite3 then fails to
    decode its own error message (a UnicodeDecodeError, not a sqlite3.Error)."""
    data = bytearray(pristine.read_bytes())
    at = data.find(b"CREATE TABLE audit_log")
    data[at + 7 : at + 12] = b"\xff\xfe\xff\xfe\xff"
    path.write_bytes(bytes(data))


def _evidence_store(path: Path, pristine: Path) -> None:
    EvidenceStore(path).close()  # the coordinator's: a SQLite file of another kind


def _other_sqlite(path: Path, pristine: Path) -> None:
    with sqlite3.connect(path) as conn:  # tables named like the node's, of another shape
        conn.execute("CREATE TABLE audit_log (x)")
        conn.execute("CREATE TABLE privacy_ledger (y)")
    conn.close()


def _marketplace_store(path: Path, pristine: Path) -> None:
    open_store(path, "marketplace").close()  # another role's store, with an empty log


def _newer(path: Path, pristine: Path) -> None:
    shutil.copyfile(pristine, path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('fedtrade-node', '0099_from_the_future', '2030-01-01')")
    conn.close()


def _older(path: Path, pristine: Path) -> None:
    shutil.copyfile(pristine, path)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?",
                     ["0006_consignee_parcels_several"])
    conn.close()


# case -> (how to make the file, what the error line says)
STORES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "garbage": (_garbage, "file is not a database"),
    "truncated": (_truncated, "malformed"),
    "schema-not-utf8": (_schema_not_utf8, "not UTF-8"),
    "evidence-store": (_evidence_store, "not a fedtrade store (it has tables evidence"),
    "other-sqlite": (_other_sqlite, "not a fedtrade store (it has tables audit_log"),
    "marketplace-store": (_marketplace_store, "created for role 'marketplace', not 'carrier'"),
    "newer-release": (_newer, "upgraded by a newer fedtrade release"),
}
READ_ONLY = {  # what only the read-only commands meet: serve and import create or upgrade
    **STORES,
    "zero-bytes": (_zero_bytes, "the store is empty: this node has not served or imported"),
    "older-release": (_older, "made by an older fedtrade release (pending migrations: "
                      "0006_consignee_parcels_several); start the node once"),
}


def _one_error_line(err: str, store: Path, expected: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {store.relative_to(store.parents[1])}: "), err
    assert expected in err, err
    assert "a bug in fedtrade" not in err, err


@pytest.mark.parametrize("case", sorted(READ_ONLY))
@pytest.mark.parametrize("command", ["audit verify", "budget"])
def test_read_only_commands_refuse_a_store_that_is_not_this_nodes(
    fed: Federation, pristine: Path, case: str, command: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    make, expected = READ_ONLY[case]
    store = _store(fed)
    make(store, pristine)
    monkeypatch.chdir(fed.root)  # the config names data/carrier-1.db relative to itself
    assert node_main([*command.split(), "--config", f"{CARRIER}.yaml"]) == 1
    _one_error_line(capsys.readouterr().err, store, expected)


@pytest.mark.parametrize("case", sorted(STORES))
def test_import_refuses_a_store_that_is_not_this_nodes(
    fed: Federation, pristine: Path, case: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    make, expected = STORES[case]
    store = _store(fed)
    make(store, pristine)
    before = store.read_bytes()
    rows = tmp_path / "masters.csv"
    rows.write_text("mawb,airline_prefix\n")
    monkeypatch.chdir(fed.root)
    assert node_main(["import", "--config", f"{CARRIER}.yaml", str(rows)]) == 1
    _one_error_line(capsys.readouterr().err, store, expected)
    assert store.read_bytes() == before


@pytest.mark.parametrize("case", ["schema-not-utf8", "marketplace-store", "audit-text-not-utf8"])
def test_serve_refuses_a_damaged_or_foreign_store_at_start(
    fed: Federation, pristine: Path, case: str,
) -> None:
    store = _store(fed)
    if case == "audit-text-not-utf8":  # a damaged row in the audit log, read at start
        expected = "cannot read the audit log (Could not decode to UTF-8"
        shutil.copyfile(pristine, store)
        with sqlite3.connect(store) as conn:
            conn.execute("INSERT INTO audit_log VALUES (1, 'now', 'q', 'r', 'p', 'c', 'n', "
                         "'d', 'd', 'answered', '', 'x', CAST(X'FFFE' AS TEXT))")
        conn.close()
    else:
        make, expected = STORES[case]
        make(store, pristine)
    done = subprocess.run(
        [sys.executable, "-m", "fedtrade.node.cli", "serve", "--config", f"{CARRIER}.yaml"],
        cwd=fed.root, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    _one_error_line(done.stderr, store, expected)


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
@pytest.mark.parametrize("command", ["audit verify", "import", "serve"])
def test_a_database_path_that_is_not_a_file_is_refused_without_waiting(
    fed: Federation, kind: str, command: str,
) -> None:
    """Was: a FIFO blocked every command for ever (SQLite opens it and waits for a writer);
    /dev/zero was 'the store is empty' or 'disk I/O error'."""
    database = {"fifo": fed.root / "data" / "fifo.db", "folder": fed.root / "data",
                "device": Path("/dev/zero")}[kind]
    if kind == "fifo" and not database.exists():
        os.mkfifo(database)
    config = fed.root / f"{kind}.yaml"
    config.write_text(fed.node_configs[CARRIER].read_text().replace(
        f"database: data/{CARRIER}.db", f"database: {database}"))
    what = {"fifo": "a FIFO (named pipe)", "folder": "a directory",
            "device": "a character device"}[kind]
    (fed.root / "masters.csv").write_text("mawb\n")  # the store is opened after the plan
    extra = {"audit verify": [], "import": ["masters", "masters.csv"], "serve": []}[command]
    done = subprocess.run(
        [sys.executable, "-m", "fedtrade.node.cli", *command.split(), "--config", str(config),
         *extra], cwd=fed.root, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == f"error: {database}: is {what}, not a regular file; point the " \
        "node's database setting at its SQLite file\n"


def test_serve_refuses_a_checkpoint_file_that_is_a_fifo(fed: Federation, pristine: Path) -> None:
    """Was: the node waited for ever at start, opening the FIFO to append its checkpoint."""
    store = _store(fed)
    shutil.copyfile(pristine, store)
    checkpoints = checkpoint_file(store)
    checkpoints.unlink(missing_ok=True)
    os.mkfifo(checkpoints)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "fedtrade.node.cli", "serve", "--config", f"{CARRIER}.yaml"],
            cwd=fed.root, capture_output=True, text=True, timeout=60, check=False)
    finally:
        checkpoints.unlink()
    assert done.returncode == 1, done.stdout + done.stderr
    _one_error_line(done.stderr, checkpoints, "is a FIFO (named pipe), not a regular file; "
                    "the node appends its signed audit checkpoints there")
