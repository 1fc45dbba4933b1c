"""One suite, two backends: the node's request state behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from fedtrade.node import privacy_ledger
from fedtrade.node.audit import AuditBreakError, AuditEntry, verify_chain
from fedtrade.node.config import RateLimit
from fedtrade.node.privacy_ledger import Budget, BudgetExhaustedError, Charge
from fedtrade.node.queries.spec import ResultTable
from fedtrade.node.sqlconn import SqlConn
from fedtrade.trust.errors import RateLimitError, ReplayError
from tests.node.statestore.backends import Backend, entry

NOW = 1_790_000_000.0


def test_a_query_id_is_claimed_once_even_after_a_restart(backend: Backend) -> None:
    query_id = secrets.token_hex(16)
    store = backend.open()
    try:
        store.reserve_query_id(query_id)
        with pytest.raises(ReplayError, match="already used"):
            store.reserve_query_id(query_id)  # while the first request is being answered
        store.record(entry(1), seen=query_id)
        with pytest.raises(ReplayError, match="already used"):
            store.reserve_query_id(query_id)
        store.reserve_query_id(secrets.token_hex(16))  # another id is fine
    finally:
        store.close()
    store = backend.open()
    try:
        with pytest.raises(ReplayError, match="already used"):
            store.reserve_query_id(query_id)
    finally:
        store.close()


def test_the_audit_chain_verifies_and_its_head_survives_a_restart(backend: Backend) -> None:
    store = backend.open()
    try:
        assert store.audit_head() == (0, "0" * 64)
        for n in range(1, 6):
            store.record(entry(n, "refused" if n % 2 else "answered"))
        head = store.audit_head()
    finally:
        store.close()
    assert head[0] == 5
    store = backend.open()
    try:
        assert store.audit_head() == head
        assert store.audit_entries == 5
        store.record(entry(6))
        assert store.audit_head()[0] == 6
    finally:
        store.close()
    with backend.read() as conn:
        assert verify_chain(conn) == 6


def _record_three(backend: Backend) -> None:
    store = backend.open()
    try:
        for n in range(1, 4):
            store.record(entry(n))
    finally:
        store.close()


def test_the_database_itself_refuses_to_edit_the_audit_log(backend: Backend) -> None:
    _record_three(backend)
    edits = ["UPDATE audit_log SET reason = 'edited' WHERE seq = 2",
             "DELETE FROM audit_log WHERE seq = 3"]
    if backend.name == "postgresql":
        edits.append("TRUNCATE audit_log")
    for sql in edits:
        with backend.read() as conn, pytest.raises(Exception, match="append-only"):
            _write(backend, conn, sql)
    with backend.read() as conn:
        assert verify_chain(conn) == 3


def _write(backend: Backend, conn: SqlConn, sql: str) -> None:
    _writable(backend, conn)
    conn.execute(sql)


def _writable(backend: Backend, conn: SqlConn) -> None:
    if backend.name == "postgresql":
        conn.execute("SET default_transaction_read_only = off")  # the auditor's is read-only


def test_an_entry_changed_behind_the_triggers_is_named(backend: Backend) -> None:
    """With the triggers dropped (an attacker with the database's owner rights), the chain
    still names the entry that was changed."""
    _record_three(backend)
    with backend.read() as conn:
        _writable(backend, conn)
        if backend.name == "postgresql":
            conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        else:
            conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET reason = 'edited' WHERE seq = 2")
        with pytest.raises(AuditBreakError, match="entry 2: its content"):
            verify_chain(conn)


def test_rate_limits_live_in_the_store(backend: Backend) -> None:
    limit = RateLimit(queries_per_minute=3, shipments_per_minute=10)
    store = backend.open()
    try:
        limiter = store.rate_limiter()
        for _ in range(3):
            limiter.charge_query("cbp", limit)
        with pytest.raises(RateLimitError, match="3 queries per minute"):
            limiter.charge_query("cbp", limit)
        limiter.throttle("other", until=NOW * 2)
        store.record(entry(1), rates=limiter.changed())
    finally:
        store.close()
    store = backend.open()  # a restart neither refills nor forgets
    try:
        limiter = store.rate_limiter()
        with pytest.raises(RateLimitError, match="3 queries per minute"):
            limiter.charge_query("cbp", limit)
        with pytest.raises(RateLimitError, match="throttled until"):
            limiter.charge_query("other", limit)
        limiter.charge_query("third", limit)
    finally:
        store.close()


def _charge(key: str, epsilon: float = 0.4) -> Charge:
    return Charge(requester="cbp", node_id="market-1", query_id=secrets.token_hex(16),
                  query_name="consignee_totals", key=key, epsilon=epsilon,
                  budget=Budget(epsilon=1.0, period_days=30))


def _table(epsilon: float) -> ResultTable:
    return ResultTable(("total", "epsilon", "delta"), [(42, epsilon, 1e-9)])


def _release(charge: Charge, table: ResultTable) -> Callable[
        [SqlConn], tuple[ResultTable, str, str]]:
    def release(conn: SqlConn) -> tuple[ResultTable, str, str]:
        answer, note = privacy_ledger.debit(conn, charge, table, NOW)
        return answer, "d" * 64, note

    return release


def _audit(n: int) -> Callable[[str, str], AuditEntry]:
    return lambda answer_digest, note: entry(n)


def test_privacy_budgets_are_debited_with_the_audit_entry(backend: Backend) -> None:
    store = backend.open()
    try:
        for n, key in enumerate(("k1", "k2"), start=1):
            answer, _ = store.record_release(_audit(n), None, _release(_charge(key), _table(0.4)))
            assert answer.columns[-1] == "budget_remaining"
        # the same question again: the answer already released, at no cost
        again, _ = store.record_release(_audit(3), None, _release(_charge("k1"), _table(0.4)))
        assert again.rows[0][0] == 42
        # the early check (before any noise is drawn) reads the same ledger
        with store.ledger() as ledger:
            cached = privacy_ledger.check(ledger, _charge("k1"), NOW)
            assert cached is not None
            assert cached.rows[0][0] == 42
            with pytest.raises(BudgetExhaustedError, match=r"0\.2 of 1 left"):
                privacy_ledger.check(ledger, _charge("k3"), NOW)
        with pytest.raises(BudgetExhaustedError, match=r"0\.2 of 1 left"):
            store.record_release(_audit(4), None, _release(_charge("k3"), _table(0.4)))
        assert store.audit_head()[0] == 3  # the refused release wrote nothing
    finally:
        store.close()
    with backend.read() as conn:
        spends = privacy_ledger.spend_by_requester(
            conn, "market-1", {"cbp": Budget(1.0, 30)}, NOW + 1)
        assert verify_chain(conn) == 3
    assert [(s.answers, round(s.epsilon, 9)) for s in spends] == [(2, 0.8)]
