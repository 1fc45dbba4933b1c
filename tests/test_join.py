"""The README's "Join a federation" procedure, run line by line as written.

A federation of marketplace-1, carrier-1 (holding no parcels) and broker-1 runs; a
second carrier, carrier-2, joins with the world's carrier data by the README's
commands, and the coordinator's screening then gets carrier-2's answers.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from fedtrade.node.config import load_node_config
from fedtrade.node.health import probe
from fedtrade.sim.federation import create_federation
from fedtrade.trust.errors import FedtradeError
from tests.conftest import World, live_federation

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_spec = importlib.util.spec_from_file_location("readme_block", ROOT / "scripts" / "readme_block.py")
assert _spec is not None
assert _spec.loader is not None
readme_block = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_block)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(line: str, cwd: Path) -> str:
    argv = shlex.split(line)
    argv[0] = str(BIN / argv[0]) if (BIN / argv[0]).exists() else argv[0]
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_join_a_federation_as_the_readme_says(tmp_path: Path, world: World) -> None:
    lines = readme_block.commands((ROOT / "README.md").read_text(), "join")
    port = _free_port()
    lines = [line.replace("127.0.0.1:50054", f"127.0.0.1:{port}") for line in lines]
    federation = create_federation(tmp_path / "fed")
    root = federation.root
    for node_id in ("marketplace-1", "broker-1"):  # carrier-1 runs with an empty store
        shutil.copyfile(world.stores[node_id], root / "data" / f"{node_id}.db")
    shutil.copytree(world.folder / "carrier", root / "carrier-2-exports")
    shutil.copyfile(world.folder / "manifest.csv", root / "manifest.csv")
    live = live_federation(federation)
    next(live)
    serving: subprocess.Popen[str] | None = None
    try:
        for line in lines:
            if line.endswith("&"):
                argv = shlex.split(line.removesuffix("&"))
                serving = subprocess.Popen([str(BIN / argv[0]), *argv[1:]], cwd=root,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
                tls = load_node_config(root / "carrier-2" / "config" / "node.yaml").tls
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    with contextlib.suppress(FedtradeError):  # not listening yet
                        if probe(f"127.0.0.1:{port}", tls, 1.0) == "SERVING":
                            break
                    time.sleep(0.2)
                else:
                    serving.kill()
                    raise AssertionError(f"carrier-2 never served: {serving.communicate()[0]}")
                continue
            output = _run(line, root)
            if line.startswith("fedtrade-node init"):
                assert "next steps" in output
                assert "carrier-2.tls.csr" in output
            if line.startswith("fedtrade query"):
                assert "verified" in output
    finally:
        if serving is not None:
            serving.terminate()
            serving.communicate(timeout=30)
        next(live, None)

    with (root / "results.csv").open(newline="") as f:
        results = {row["house_bill"]: row for row in csv.DictReader(f)}
    truth = world.truth()
    assert not any(row["no_answer"] for row in results.values())
    answered = [row for row in results.values() if "carrier-2" in row["answered_by"]]
    assert len(answered) > len(results) // 2  # the world's carriers hold most parcels
    # carrier-only evidence now comes from the new node: every planted unscreened parcel
    unscreened = {bill for bill, row in results.items() if "unscreened" in row["patterns"]}
    assert truth["unscreened"] <= unscreened
    assert all("carrier-2" in results[bill]["reasons"] for bill in truth["unscreened"])
    # the added entry kept the config's comments
    text = (root / "coordinator.yaml").read_text()
    assert "carrier-2:" in text
    assert "added by `fedtrade nodes add`" in text
