"""`fedtrade-node audit verify` detects edits, deletions and reordering of the audit log."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from fedtrade.node.cli import main as node_main
from tests.conftest import CONTEXT, LiveFederation

NODE = "carrier-1"


def fill_log(live: LiveFederation, answered: int = 4) -> Path:
    for i in range(answered):
        bill = f"HB{i:04d}"
        live.coordinator.ask(NODE, "shipment_known", {"house_bills": [bill]}, CONTEXT,
                             attestations=live.attest([{"house_bill": bill}]))
    return live.nodes[NODE].state.store.path


def tamper(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        # an attacker with file access can drop the append-only triggers first
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            conn.execute(statement)
    conn.close()


def test_intact_log_verifies(live: LiveFederation, capsys: pytest.CaptureFixture[str]) -> None:
    fill_log(live)
    assert node_main(["audit", "verify", "--config", str(live.federation.node_configs[NODE])]) == 0
    assert "4 entries" in capsys.readouterr().out


def test_triggers_block_updates_and_deletes(live: LiveFederation) -> None:
    db = fill_log(live)
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("UPDATE audit_log SET decision='refused' WHERE seq=1")
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("DELETE FROM audit_log WHERE seq=1")
    conn.close()


_REST = (
    "recorded_at, query_id, requester, purpose, case_id, query_name, param_digest, "
    "answer_digest, decision, reason, prev_hash, entry_hash"
)

TAMPERING: dict[str, Callable[[], tuple[str, ...]]] = {
    "edit": lambda: ("UPDATE audit_log SET requester='nobody' WHERE seq=2",),
    "delete": lambda: ("DELETE FROM audit_log WHERE seq=2",),
    # entries 2 and 3 swap places, each keeping its own content and hash
    "reorder": lambda: (
        "CREATE TEMP TABLE t AS SELECT * FROM audit_log",
        "DELETE FROM audit_log WHERE seq IN (2, 3)",
        f"INSERT INTO audit_log SELECT 2, {_REST} FROM t WHERE seq=3",
        f"INSERT INTO audit_log SELECT 3, {_REST} FROM t WHERE seq=2",
    ),
    "rehash-one": lambda: (
        "UPDATE audit_log SET decision='refused', entry_hash="
        "'0000000000000000000000000000000000000000000000000000000000000000'"
        " WHERE seq=3",
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_detected(
    live: LiveFederation, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = fill_log(live)
    live.nodes[NODE].state.close()
    tamper(db, *TAMPERING[kind]())
    assert node_main(["audit", "verify", "--config", str(live.federation.node_configs[NODE])]) == 1
    err = capsys.readouterr().err
    assert "audit log broken at entry" in err
