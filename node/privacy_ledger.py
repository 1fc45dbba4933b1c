"""The persistent privacy budget of each requester at this node, and the answer cache.

Every aggregate answer spends epsilon from its requester's budget: a rolling
period (``period_days``) may hold at most ``budget_epsilon`` of spend. The
ledger is a table of the node's store, written in the same transaction as the
request's audit entry and before the answer leaves the node, under the
store's write lock (SQLite) or its budget lock (PostgreSQL, shared by the
replicas), so concurrent queries cannot overspend and a restart forgets
nothing.

An identical query (same query, canonical parameters, fields, epsilon and
store contents) gets the answer already released, at no cost: asking again
cannot average the noise away. New imports change the store contents and so
the key; the new answer is charged.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fedtrade.node.queries.spec import ResultTable
from fedtrade.node.sqlconn import SqlConn
from fedtrade.protocol.wire import PyValue
from fedtrade.trust.errors import RateLimitError

__all__ = [
    "Budget",
    "BudgetExhaustedError",
    "Charge",
    "Spend",
    "cache_key",
    "check",
    "debit",
    "spend_by_requester",
]

_DAY = 86_400.0


class BudgetExhaustedError(RateLimitError):
    """The requester's privacy budget at this node cannot pay for the query (RESOURCE_EXHAUSTED)."""


@dataclass(frozen=True)
class Budget:
    epsilon: float
    period_days: int


@dataclass(frozen=True)
class Charge:
    """What one aggregate answer will cost, and whose budget pays."""

    requester: str
    node_id: str
    query_id: str
    query_name: str
    key: str  # cache_key(...)
    epsilon: float
    budget: Budget


@dataclass(frozen=True)
class Spend:
    requester: str
    epsilon: float
    delta: float
    answers: int
    budget: Budget

    @property
    def remaining(self) -> float:
        return max(self.budget.epsilon - self.epsilon, 0.0)


def _up(epsilon: float) -> float:
    """Epsilon as the ledger records it: rounded up to 1e-9, never down."""
    return math.ceil(epsilon * 1e9 - 1e-6) / 1e9


def cache_key(conn: SqlConn, query_name: str, params: Mapping[str, PyValue],
              fields: Sequence[str], epsilon: float) -> str:
    """Digest of everything that decides an answer, the store contents included."""
    imports = conn.execute("SELECT count(*), max(imported_at) FROM import_log").fetchone()
    canonical = json.dumps([query_name, params, list(fields), epsilon, list(imports)],
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _window(conn: SqlConn, charge: Charge, now: float) -> list[tuple[float, float]]:
    since = now - charge.budget.period_days * _DAY
    rows = conn.execute(
        "SELECT spent_at, epsilon FROM privacy_ledger WHERE requester = ? AND node_id = ? "
        "AND spent_at > ? ORDER BY spent_at", (charge.requester, charge.node_id, since))
    return [(float(spent_at), float(epsilon)) for spent_at, epsilon in rows]


def _cached(conn: SqlConn, charge: Charge) -> ResultTable | None:
    row = conn.execute(
        "SELECT columns, rows FROM privacy_answers WHERE requester = ? AND node_id = ? "
        "AND cache_key = ?", (charge.requester, charge.node_id, charge.key)).fetchone()
    if row is None:
        return None
    return ResultTable(tuple(json.loads(row[0])), [tuple(r) for r in json.loads(row[1])])


def _with_remaining(table: ResultTable, remaining: float) -> ResultTable:
    left = round(max(remaining, 0.0), 9)
    return ResultTable((*table.columns, "budget_remaining"), [(*r, left) for r in table.rows])


def check(conn: SqlConn, charge: Charge, now: float) -> ResultTable | None:
    """The cached answer (with the current remaining budget), or None when ``charge`` is
    affordable now; BudgetExhaustedError when it is not."""
    window = _window(conn, charge, now)
    remaining = charge.budget.epsilon - sum(e for _, e in window)
    cached = _cached(conn, charge)
    if cached is not None:
        return _with_remaining(cached, remaining)
    cost = _up(charge.epsilon)
    if cost > remaining + 1e-12:
        freed, retry = remaining, charge.budget.period_days * _DAY
        for spent_at, epsilon in window:  # when enough of the window's spend has expired
            freed += epsilon
            if freed + 1e-12 >= cost:
                retry = spent_at + charge.budget.period_days * _DAY - now
                break
        raise BudgetExhaustedError(
            f"privacy budget exhausted: query {charge.query_name!r} costs epsilon {cost:g} and "
            f"requester {charge.requester!r} has {max(remaining, 0.0):g} of "
            f"{charge.budget.epsilon:g} left at node {charge.node_id} for the "
            f"{charge.budget.period_days}-day period; repeat an earlier query (free), or wait "
            f"{retry / 3600:.1f} h until enough spend leaves the period",
            retry_after=max(retry, 1.0))
    return None


def debit(conn: SqlConn, charge: Charge, table: ResultTable | None,
          now: float) -> tuple[ResultTable, str]:
    """Inside the caller's write transaction: pay for ``table`` (or return the answer already
    released for the same key, at no cost) and remember it. The debit is the epsilon the
    table states it spent (its ``epsilon`` and ``delta`` columns). Returns the answer to sign
    and a note for the audit entry; raises BudgetExhaustedError, leaving the ledger as it was."""
    cached = check(conn, charge, now)
    if cached is not None:
        return cached, "identical query: cached answer, no epsilon spent"
    assert table is not None  # an answer is cached for good once released
    stated = dict(zip(table.columns, table.rows[-1], strict=True))
    epsilon, delta = stated["epsilon"], stated["delta"]
    assert isinstance(epsilon, float)
    assert isinstance(delta, float)
    cost = _up(epsilon)
    if cost > _up(charge.epsilon) + 1e-9:
        raise AssertionError(f"the mechanism spent epsilon {cost}, more than {charge.epsilon}")
    conn.execute(
        "INSERT INTO privacy_ledger (requester, node_id, spent_at, epsilon, delta, query_id, "
        "query_name) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (charge.requester, charge.node_id, now, cost, delta, charge.query_id, charge.query_name))
    conn.execute(
        "INSERT INTO privacy_answers (requester, node_id, cache_key, columns, rows, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (charge.requester, charge.node_id, charge.key, json.dumps(table.columns),
         json.dumps([list(r) for r in table.rows]), now))
    remaining = charge.budget.epsilon - sum(e for _, e in _window(conn, charge, now))
    return (_with_remaining(table, remaining),
            f"epsilon {cost:g} spent, {max(remaining, 0.0):g} left")


def spend_by_requester(conn: SqlConn, node_id: str, budgets: Mapping[str, Budget],
                       now: float) -> list[Spend]:
    """Spend within the current period of every requester with a budget or a ledger entry."""
    spends = []
    for requester, budget in sorted(budgets.items()):
        since = now - budget.period_days * _DAY
        epsilon, delta, answers = conn.execute(
            "SELECT coalesce(sum(epsilon), 0), coalesce(sum(delta), 0), count(*) "
            "FROM privacy_ledger WHERE requester = ? AND node_id = ? AND spent_at > ?",
            (requester, node_id, since)).fetchone()
        spends.append(Spend(requester, float(epsilon), float(delta), int(answers), budget))
    return spends
