"""Two node processes on one PostgreSQL store: the replay guard, the audit chain and the
rate limits hold across them, and a process killed mid-append leaves no trace."""

from __future__ import annotations

import concurrent.futures
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from fedtrade.node.audit import verify_chain
from fedtrade.node.config import RateLimit
from fedtrade.node.privacy_ledger import BudgetExhaustedError
from fedtrade.node.statestore import PostgresStateStore, StoreError
from fedtrade.trust.errors import RateLimitError
from tests.node.statestore.backends import Backend, entry
from tests.node.statestore.test_state_store import _audit, _charge, _release, _table

ROOT = Path(__file__).resolve().parents[3]
WORKER = [sys.executable, "-m", "tests.node.statestore.worker"]


@pytest.fixture
def pg(pg_dsn: str, tmp_path: Path) -> Backend:
    backend = Backend("postgresql", tmp_path / "node.db", pg_dsn)
    backend.open().close()  # migrate once, before the processes race
    return backend


def test_concurrent_duplicates_are_accepted_exactly_once(pg: Backend, tmp_path: Path) -> None:
    ids = [secrets.token_hex(16) for _ in range(300)]
    go = tmp_path / "go"
    workers = []
    for n in range(2):  # the same ids, in a different order in each process
        order = ids if n == 0 else random.Random(7).sample(ids, len(ids))
        ids_file = tmp_path / f"ids-{n}"
        ids_file.write_text("\n".join(order))
        workers.append(subprocess.Popen(
            [*WORKER, "claim", pg.dsn, str(pg.database), str(ids_file), str(go)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    time.sleep(1.0)  # both have connected and wait
    go.touch()
    won = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        won.append(out.split())
    assert sorted(won[0] + won[1]) == sorted(ids)  # every id accepted once, by one process
    assert not set(won[0]) & set(won[1])
    with pg.read() as conn:
        assert verify_chain(conn) == 600  # 300 answered + 300 refused, one chain
        decisions = dict(conn.execute(
            "SELECT decision, count(*) FROM audit_log GROUP BY decision").fetchall())
    assert decisions == {"answered": 300, "refused": 300}


def test_a_process_killed_mid_append_leaves_no_half_written_entry(pg: Backend) -> None:
    store = pg.open()
    try:
        store.record(entry(1))
        before = store.audit_head()
        worker = subprocess.Popen([*WORKER, "hold", pg.dsn, str(pg.database)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.strip() == "inserted", worker.communicate()[1]
        worker.kill()  # holding the audit lock, its entry inserted but not committed
        worker.wait(timeout=30)
        started = time.monotonic()
        store.record(entry(2))  # waits only until the server notices the dead session
        waited = time.monotonic() - started
        assert store.audit_head()[0] == before[0] + 1
    finally:
        store.close()
    assert waited < 30
    with pg.read() as conn:
        assert verify_chain(conn) == 2
        assert [r[0] for r in conn.execute("SELECT query_id FROM audit_log ORDER BY seq")] == [
            entry(1).query_id, entry(2).query_id]


def test_replicas_share_one_rate_limit(pg: Backend) -> None:
    limit = RateLimit(queries_per_minute=4, shipments_per_minute=100)
    first, second = pg.open(), pg.open()
    try:
        a, b = first.rate_limiter(), second.rate_limiter()
        for limiter in (a, b, a, b):
            limiter.charge_query("cbp", limit)
        for limiter in (a, b):
            with pytest.raises(RateLimitError, match="4 queries per minute"):
                limiter.charge_query("cbp", limit)
        a.throttle("cbp-2", until=time.time() + 600)
        with pytest.raises(RateLimitError, match="throttled"):
            b.charge_query("cbp-2", limit)
    finally:
        first.close()
        second.close()


def test_migrations_are_named_and_applied_once(pg: Backend) -> None:
    pg.open().close()  # again: nothing to apply
    with pg.read() as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM fedtrade_migrations")]
        jit = conn.execute("SHOW jit").fetchone()[0]
    assert names == ["0001_request_state"]
    assert jit == "off"


def test_replicas_cannot_overspend_a_privacy_budget_together(pg: Backend) -> None:
    """Six debits of 0.4 against a budget of 1.0 from two stores at once: two succeed."""
    stores = [pg.open(), pg.open()]

    def debit(n: int) -> str:
        try:
            stores[n % 2].record_release(_audit(n), None,
                                         _release(_charge(f"key-{n}"), _table(0.4)))
        except BudgetExhaustedError:
            return "refused"
        return "spent"

    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            outcomes = sorted(pool.map(debit, range(6)))
    finally:
        for store in stores:
            store.close()
    assert outcomes == ["refused"] * 4 + ["spent"] * 2
    with pg.read() as conn:
        assert verify_chain(conn) == 2


def test_a_user_without_rights_fails_at_start_with_a_clear_reason(
    pg_dsn: str, tmp_path: Path
) -> None:
    role = f"r_{secrets.token_hex(4)}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")  # PostgreSQL 15: no CREATE on public
    try:
        with pytest.raises(StoreError, match="permission denied for schema public") as caught:
            PostgresStateStore(tmp_path / "node.db", "marketplace",
                               make_conninfo(pg_dsn, user=role))
        assert "needs the right to create tables" in str(caught.value)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")
