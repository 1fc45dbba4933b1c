"""A non-Python client talks to a real node: tests/interop/client.mjs (Node.js).

The client is written from the .proto files and docs/PROTOCOL.md alone. It
checks the test vectors, then signs queries with Node's own Ed25519, calls a
node served by this repository over mutual TLS, verifies the signed answer and
the chunk chain of a Screen stream, and sees a forged query refused.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from fedtrade.node.pipeline import CHUNK_ROWS
from fedtrade.protocol.attestation import write_attestations
from fedtrade.sim.federation import COORDINATOR_ID
from tests.conftest import LiveFederation

INTEROP = Path(__file__).resolve().parent / "interop"
NODE_ID = "carrier-1"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="the Node.js interop client needs `node` and `npm` on PATH (Node.js 18 or newer)",
)


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=INTEROP, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def interop_client() -> Path:
    """The client with its packages installed from the committed lockfile."""
    if not (INTEROP / "node_modules" / ".package-lock.json").exists():
        done = _run(["npm", "ci", "--no-audit", "--no-fund"], timeout=600)
        assert done.returncode == 0, f"npm ci in tests/interop failed:\n{done.stderr}"
    return INTEROP / "client.mjs"


def test_node_client_checks_the_test_vectors(interop_client: Path) -> None:
    done = _run(["node", str(interop_client)], timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["vectors"] == {"keys": 2, "params": 9, "chunks": 3}


def test_node_client_queries_a_live_node_over_mutual_tls(
    interop_client: Path, live: LiveFederation, tmp_path: Path
) -> None:
    root = live.federation.root
    keys = root / "keys"
    bills = 2 * CHUNK_ROWS + 5  # three chunks
    config = {
        "address": live.nodes[NODE_ID].address,
        "node_id": NODE_ID,
        "requester_id": COORDINATOR_ID,
        "ca": str(root / "ca" / "ca.crt"),
        "cert": str(keys / f"{COORDINATOR_ID}.tls.crt"),
        "key": str(keys / f"{COORDINATOR_ID}.tls.key"),
        "signing_key": str(keys / f"{COORDINATOR_ID}.key"),
        "node_public_key": str(keys / f"{NODE_ID}.pub"),
        "house_bills": bills,
        "attestations": str(tmp_path / "blocks.jsonl"),
    }
    write_attestations(tmp_path / "blocks.jsonl",
                       live.attest([{"house_bill": f"HB{i:06d}"} for i in range(bills)]))
    config_file = tmp_path / "interop.json"
    config_file.write_text(json.dumps(config))
    done = _run(["node", str(interop_client), str(config_file)], timeout=180)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["live"]
    assert summary["screen_chunks"] == 3
    assert summary["screen_rows"] == bills
    assert summary["refusal"] == 16  # UNAUTHENTICATED
    # the node audited the client's queries as answered, and the forged one (refused before
    # authentication) in its aggregated per-peer form
    live.nodes[NODE_ID].state.flush_refusals()
    with closing(sqlite3.connect(live.nodes[NODE_ID].state.store.path)) as conn:
        decisions = dict(conn.execute("SELECT query_id, decision FROM audit_log").fetchall())
    assert decisions[summary["query_id"]] == "answered"
    assert decisions[summary["screen_query_id"]] == "answered"
    assert sorted(decisions.values()).count("refused") == 1
