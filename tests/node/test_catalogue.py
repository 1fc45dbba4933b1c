"""The node runs exactly the queries the protocol declares, and computes what it declares."""

from __future__ import annotations

import pytest

from fedtrade.node.catalogue import RUNS, bind_runs
from fedtrade.node.queries import shipments
from fedtrade.node.queries.spec import Execution, ResultTable, Run
from fedtrade.protocol.catalogue import CATALOGUE, INDICATOR_ROLES


def _nothing(execution: Execution) -> ResultTable:
    return ResultTable(columns=(), rows=())


def test_every_declared_query_has_one_run() -> None:
    assert set(RUNS) == set(CATALOGUE)


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (({"shipment_known": _nothing},), "not run: .*seller_profile"),
        (({name: _nothing for name in CATALOGUE} | {"guess": _nothing},), "not declared: guess"),
        (({"shipment_known": _nothing}, {"shipment_known": _nothing}),
         "bound twice: shipment_known"),
    ],
)
def test_a_mismatch_with_the_protocol_stops_the_node(
    parts: tuple[dict[str, Run], ...], reason: str
) -> None:
    with pytest.raises(RuntimeError, match=reason):
        bind_runs(CATALOGUE, *parts)


def test_the_node_has_sql_for_exactly_the_indicators_each_role_declares() -> None:
    """A declared field without SQL would fail at run time; SQL for an undeclared role would
    compute something no requester can be granted."""
    sql = {name: set(field.sql) for name, field in shipments._FIELDS.items()}
    assert sql == {name: set(roles) for name, roles in INDICATOR_ROLES.items()}
