"""Each `fedtrade-node` command imports only what it runs: the parser and --help load no
command module, `attest` neither the server, OpenDP nor the importer, and a SQLite node
serves without ever importing psycopg, OpenDP (until an aggregate question), pyarrow or the
importer (each costs every node process CPU at start). Each command runs for real in a
fresh interpreter, which then reports the heavy modules it holds."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from fedtrade.sim.federation import NODE_IDS, Federation

HEAVY = ("psycopg", "opendp", "pyarrow", "sqlite_utils", "rich", "fedtrade.node.server",
         "fedtrade.node.attest", "fedtrade.node.store.importer")

# argv[1:]: the command line; with serve, a thread reports once the port file appears and
# stops the node with SIGTERM, as an operator would.
SCRIPT = f"""
import json, os, signal, sys, threading, time
from pathlib import Path
from fedtrade.node.cli import main

def report():
    print("LOADED " + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), flush=True)

argv = sys.argv[1:]
if argv[0] == "serve":
    port_file = Path(argv[argv.index("--port-file") + 1])
    def stop_when_listening():
        while not port_file.exists():
            time.sleep(0.05)
        report()
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=stop_when_listening, daemon=True).start()
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
if argv[0] != "serve":
    report()
sys.exit(code)
"""


def loaded_by(*argv: str | Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, argv)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("LOADED "))
    modules: list[str] = json.loads(line.removeprefix("LOADED "))
    return modules


def test_psycopg_is_installed_so_its_absence_means_something() -> None:
    assert importlib.util.find_spec("psycopg") is not None


def test_help_loads_no_command_module() -> None:
    assert loaded_by("--help") == []


def test_attest_loads_only_attest(federation: Federation, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "house_bill,mawb,consignee_name,consignee_address,declared_value,currency,hs6,"
        "arrival_date\nHB0000000001,023-6662 9441,Nancy Shah,4720 Hill Rd,12.50,USD,"
        "847160,2025-01-06\n")
    out = tmp_path / "attested.jsonl"
    config = federation.node_configs[federation.filer_id]
    assert loaded_by("attest", "--config", config, "--manifest", manifest,
                     "--out", out) == ["fedtrade.node.attest", "pyarrow"]
    assert out.read_text().count("\n") == 1  # one signed block: the command really ran


def test_a_sqlite_node_serves_without_psycopg_opendp_pyarrow_or_the_importer(
        federation: Federation, tmp_path: Path) -> None:
    config = federation.node_configs[NODE_IDS["marketplace"]]
    serve = ("serve", "--config", config, "--listen", "127.0.0.1:0")
    # the first start makes the store, building its per-parcel tables (pyarrow); a node
    # serves an existing store
    assert "pyarrow" in loaded_by(*serve, "--port-file", tmp_path / "first")
    loaded = loaded_by(*serve, "--port-file", tmp_path / "port")
    assert loaded == ["fedtrade.node.server", "sqlite_utils"]  # the store is opened
