"""Hostile input paths of `fedtrade-node import`, `attest` and `audit verify`: a FIFO, a
device, a folder where a file goes, a line with no end, values no node accepts. Each is
refused in one line naming the file (and line) before anything is read whole or written,
and never hangs; what test_import_fuzz.py does with rows is not repeated here."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.node.attest import attest_manifest
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import load_node_config
from fedtrade.node.state import NodeState, checkpoint_file
from fedtrade.node.store import import_path
from fedtrade.sim.federation import Federation, create_federation
from fedtrade.trust.errors import DataError
from fedtrade.trust.lines import MAX_LINE_CHARS
from tests.node.store.samples import SAMPLES, write_csv

CARRIER = "carrier-1"
MANIFEST_HEADER = ("house_bill,mawb,consignee_name,consignee_address,declared_value,currency,"
                   "hs6,arrival_date\n")
MANIFEST_LINE = 'HB0001,29772418732,Megan Garcia,"1 Oak St, Tulsa, OK 74148",13.94,USD,711719,' \
                "2025-01-03\n"
NO_END = 40 * 1024 * 1024  # characters of a line without a line break


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    return create_federation(tmp_path_factory.mktemp("inputs") / "fed")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


def _node(fed: Federation, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A real `fedtrade-node` process: a regression that blocks shows as a timeout, not a
    test run that never ends."""
    return subprocess.run([sys.executable, "-m", "fedtrade.node.cli", *argv], cwd=fed.root,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _one_error(err: str, starts: str, says: str) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: {starts}"), err
    assert says in err, err
    assert "a bug in fedtrade" not in err, err


def _refused_with_peak(action: Callable[[], object]) -> tuple[str, int]:
    """The DataError ``action`` raises, and the most memory Python held while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as refused:
            action()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(refused.value), peak


def _not_a_file(kind: str, fifo: Path) -> tuple[Path, str]:
    """A FIFO made at ``fifo`` or /dev/zero, and what an error calls it."""
    if kind == "fifo":
        os.mkfifo(fifo)
        return fifo, "is a FIFO (named pipe), not a regular file"
    return Path("/dev/zero"), "is a character device, not a regular file"


# import


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_import_refuses_a_fifo_or_a_device_naming_what_it_is(
    fed: Federation, tmp_path: Path, kind: str,
) -> None:
    path, says = _not_a_file(kind, tmp_path / "masters.csv")
    done = _node(fed, "import", "--config", f"{CARRIER}.yaml", "masters", str(path))
    assert done.returncode == 1
    _one_error(done.stderr, f"{path}: ", says)  # was "no such file or folder"


def test_a_folder_import_names_each_entry_it_cannot_read(store: Path, tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    os.mkfifo(folder / "house_bills.csv")  # was skipped in silence (and a FIFO read blocks)
    (folder / "house_bill_items.csv").mkdir()  # was skipped in silence
    (folder / "masters.csv").write_bytes(bytes(range(256)) * 16)
    (folder / "readme.txt").write_text("not an import file\n")
    with pytest.raises(DataError) as refused:
        import_path(store, "carrier", None, folder, progress=False)
    assert str(refused.value).splitlines() == [
        f"{folder}/house_bill_items.csv: is a directory, not a regular file; give a file or a "
        "folder of files",
        f"{folder}/house_bills.csv: is a FIFO (named pipe), not a regular file; give a file or "
        "a folder of files",
    ]
    assert not store.exists()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("where", ["header", "row"])
def test_import_reads_no_further_than_a_line_cap(
    store: Path, tmp_path: Path, suffix: str, where: str,
) -> None:
    path = tmp_path / f"sellers{suffix}"
    with path.open("w") as out:
        if where == "row":  # a good header, or a blank first line
            out.write(",".join(SAMPLES["sellers"][0]) + "\n" if suffix == ".csv" else "\n")
        out.write("x" * NO_END)  # no line break: was read into memory whole
    line = 2 if where == "row" else 1
    refused, peak = _refused_with_peak(
        lambda: import_path(store, "marketplace", "sellers", path, progress=False))
    assert f"{path}:{line}: is longer than {MAX_LINE_CHARS:,} characters" in refused
    assert peak < NO_END // 4, f"{peak:,} bytes at peak for a {NO_END:,}-character line"


def test_import_finds_the_line_that_is_not_utf8_without_reading_the_file_as_one_line(
    store: Path, tmp_path: Path,
) -> None:
    path = tmp_path / "sellers.csv"
    header = ",".join(SAMPLES["sellers"][0])
    path.write_bytes(f"{header}\n\n\n".encode() + b"\xff" * (8 * 1024 * 1024))
    refused, peak = _refused_with_peak(
        lambda: import_path(store, "marketplace", "sellers", path, progress=False))
    assert f"{path}:4: is not UTF-8 text (invalid start byte)" in refused
    assert peak < 4 * 1024 * 1024, f"{peak:,} bytes at peak"


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_rejects_path_that_cannot_take_the_file_is_refused_before_the_import(
    fed: Federation, tmp_path: Path, kind: str,
) -> None:
    """Was: the import committed, then renaming the rejects onto a folder failed, naming the
    temporary file and leaving it behind (and the refused rows only in it)."""
    rows = [dict(row) for row in SAMPLES["sellers"]]
    rows[1]["country"] = "not a country"
    data = write_csv(tmp_path / "sellers.csv", "sellers", rows)
    rejects = tmp_path / "rejects.csv"
    if kind == "folder":
        rejects.mkdir()
    else:
        os.mkfifo(rejects)
    config = fed.root / "marketplace-1.yaml"
    database = fed.root / "data" / "marketplace-1.db"
    done = _node(fed, "import", "--config", str(config), "sellers", str(data),
                 "--quarantine", str(rejects))
    assert done.returncode == 1
    what = "a directory" if kind == "folder" else "a FIFO (named pipe)"
    _one_error(done.stderr, f"--quarantine {rejects}: is {what}, not a regular file", "")
    assert not database.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejects.csv", "sellers.csv"]


def test_a_folder_import_refuses_a_rejects_path_that_is_a_file(
    store: Path, tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "sellers.csv", "sellers", SAMPLES["sellers"])
    rejects = tmp_path / "rejects.csv"
    rejects.write_text("mine\n")
    with pytest.raises(DataError, match="is a file; a folder import writes one rejects file"):
        import_path(store, "marketplace", None, folder, progress=False, quarantine=rejects)
    assert rejects.read_text() == "mine\n"
    assert not store.exists()


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_report_path_that_cannot_take_the_report_is_refused_before_the_import(
    fed: Federation, tmp_path: Path, kind: str,
) -> None:
    """Was: with a FIFO, the import committed and then writing the report blocked for ever."""
    data = write_csv(tmp_path / "sellers.csv", "sellers", SAMPLES["sellers"])
    report = tmp_path / "report.json"
    if kind == "folder":
        report.mkdir()
    else:
        os.mkfifo(report)
    done = _node(fed, "import", "--config", "marketplace-1.yaml", "sellers", str(data),
                 "--report", str(report), timeout=60)
    assert done.returncode == 1
    _one_error(done.stderr, f"--report {report}: is ", "not a regular file; give a file path")
    assert not (fed.root / "data" / "marketplace-1.db").exists()


# attest


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_attest_refuses_a_fifo_or_a_device_as_the_manifest(
    fed: Federation, tmp_path: Path, kind: str,
) -> None:
    """Was: a FIFO blocked for ever; /dev/zero was read into memory until killed."""
    manifest, says = _not_a_file(kind, tmp_path / "manifest.csv")
    out = tmp_path / "attested.jsonl"
    done = _node(fed, "attest", "--config", f"{CARRIER}.yaml", "--manifest", str(manifest),
                 "--out", str(out), timeout=60)
    assert done.returncode == 1
    _one_error(done.stderr, f"{manifest}: ", f"{says}; give the manifest file")
    assert not out.exists()


@pytest.mark.parametrize("where", ["header", "line"])
def test_attest_reads_no_further_than_a_line_cap(
    fed: Federation, tmp_path: Path, where: str,
) -> None:
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w") as out:
        if where == "line":
            out.write(MANIFEST_HEADER + MANIFEST_LINE)
        out.write("x" * NO_END)
    out_path = tmp_path / "attested.jsonl"
    refused, peak = _refused_with_peak(
        lambda: attest_manifest(manifest, out_path, fed.filer_key(), CARRIER,
                                block_lines=1000, valid_hours=1))
    line = 3 if where == "line" else 1
    assert refused.startswith(f"{manifest}:{line}: is longer than {MAX_LINE_CHARS:,} characters")
    assert peak < NO_END // 4, f"{peak:,} bytes at peak for a {NO_END:,}-character line"
    assert not out_path.exists()


@pytest.mark.parametrize("value", ["inf", "1e999", "Infinity", "-inf", "nan"])
def test_attest_refuses_a_declared_value_no_node_accepts(
    fed: Federation, tmp_path: Path, value: str,
) -> None:
    """Was: inf and 1e999 were signed, and every node then refused the block ("declared_value
    is not an amount >= 0; the filer must re-attest")."""
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as out:
        out.write(MANIFEST_HEADER + MANIFEST_LINE)
        row = next(csv.reader([MANIFEST_LINE]))
        row[0], row[4] = "HB0002", value
        csv.writer(out).writerow(row)
    with pytest.raises(DataError, match=rf":3: declared_value '{value}' is not an amount >= 0"):
        attest_manifest(manifest, tmp_path / "out.jsonl", fed.filer_key(), CARRIER,
                        block_lines=1000, valid_hours=1)


def test_attest_quotes_a_long_bad_value_short(fed: Federation, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    row = next(csv.reader([MANIFEST_LINE]))
    row[4] = row[7] = "9" * 5000
    with manifest.open("w", newline="") as out:
        out.write(MANIFEST_HEADER)
        csv.writer(out).writerow(row)
    with pytest.raises(DataError) as refused:
        attest_manifest(manifest, tmp_path / "out.jsonl", fed.filer_key(), CARRIER,
                        block_lines=1000, valid_hours=1)
    message = str(refused.value)
    assert message.startswith(f"{manifest}:2: declared_value '999")
    assert len(message) < 400, message  # was over 10,000 characters: both values whole


# audit verify --checkpoint


def test_a_checkpoint_that_does_not_verify_names_its_file(
    fed: Federation, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Was: the signature error alone, without the file it came from."""
    monkeypatch.chdir(fed.root)
    for node_id in (CARRIER, "broker-1"):  # each signs a checkpoint at start and at stop
        NodeState.open(load_node_config(fed.node_configs[node_id])).close()
    foreign = checkpoint_file(fed.root / "data" / "broker-1.db")
    assert node_main(["audit", "verify", "--config", f"{CARRIER}.yaml",
                      "--checkpoint", str(foreign)]) == 1
    _one_error(capsys.readouterr().err, f"{foreign}: checkpoint 1: ",
               "is not signed by any trusted key")


# the AEO register named by the node config


@pytest.mark.parametrize("register", ["fifo", "dev-zero"])
def test_an_aeo_register_that_is_not_a_file_is_not_an_empty_register(
    fed: Federation, tmp_path: Path, register: str, capsys: pytest.CaptureFixture[str],
) -> None:
    """Was: a FIFO or /dev/zero has size 0, so it passed as a register with nothing in it:
    `config check` said OK and a revoked certificate would still have been presented."""
    keys = tmp_path / "keys"
    assert fedtrade_main(["keygen", "--out", str(keys), "--name", "cbp-aeo"]) == 0
    certificate = tmp_path / "carrier-1.cert.jsonl"
    assert fedtrade_main([
        "aeo", "issue", "--key", str(keys / "cbp-aeo.key"), "--register",
        str(tmp_path / "register.jsonl"), "--node", CARRIER, "--role", "carrier",
        "--legal-name", "Carrier One", "--tier", "tier1", "--valid-from", "2026-01-01",
        "--valid-until", "2099-12-31", "--out", str(certificate)]) == 0
    path, _ = _not_a_file(register, tmp_path / "fifo-register.jsonl")
    config = tmp_path / "node.yaml"
    config.write_text(fed.node_configs[CARRIER].read_text().replace(
        "keys/", f"{fed.root}/keys/").replace("data/", f"{fed.root}/data/").replace(
        "ca/ca.crt", f"{fed.root}/ca/ca.crt") + (
        f"aeo:\n  authority:\n    id: cbp-aeo\n    public_key: {keys / 'cbp-aeo.pub'}\n"
        f"  certificate: {certificate}\n  register: {path}\n"))
    capsys.readouterr()
    assert node_main(["config", "check", str(config)]) == 1
    err = capsys.readouterr().err
    _one_error(err, f"{config}:", f"aeo.register: {path}: cannot read the AEO register file: is")


# very wide headers


def test_import_names_a_few_of_many_unknown_columns(store: Path, tmp_path: Path) -> None:
    """Was: a header of 20,000 names took minutes to check (each name counted against all)
    and the error listed every one of them."""
    path = tmp_path / "sellers.csv"
    path.write_text(",".join(["seller_id", *(f"c{i}" for i in range(20_000)), "c0"]) + "\n")
    with pytest.raises(DataError) as refused:
        import_path(store, "marketplace", "sellers", path, progress=False)
    message = str(refused.value)
    assert f"{path}:1: header: duplicate column(s) 'c0'; unknown column(s) 'c0', 'c1'" in message
    assert "'c9', and 19,990 more; missing column(s) legal_name" in message
    assert len(message) < 2000, len(message)


def test_attest_refuses_a_header_wider_than_any_manifest(
    fed: Federation, tmp_path: Path,
) -> None:
    """Was: signed, with pyarrow holding an array per column (100,000 columns: 1 GiB)."""
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(MANIFEST_HEADER.rstrip("\n") + "".join(f",c{i}" for i in range(2000))
                        + "\n" + MANIFEST_LINE.rstrip("\n") + "," * 2000 + "\n")
    with pytest.raises(DataError, match=r":1: the header has 2,008 columns, more than 1,000"):
        attest_manifest(manifest, tmp_path / "out.jsonl", fed.filer_key(), CARRIER,
                        block_lines=1000, valid_hours=1)
