"""The declared catalogue is consistent with itself: roles, fields, parameters, limits."""

from __future__ import annotations

import pytest

from fedtrade.protocol.catalogue import CATALOGUE, DESCRIBE, INDICATOR_ROLES
from fedtrade.protocol.limits import MAX_BATCH_SHIPMENTS
from fedtrade.protocol.spec import QuerySpec
from fedtrade.trust.ids import ROLES

SPECS = list(CATALOGUE.values())


def test_describe_is_not_a_catalogue_query() -> None:
    assert DESCRIBE not in CATALOGUE
    assert all(name == spec.name for name, spec in CATALOGUE.items())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_query_is_declared_consistently(spec: QuerySpec) -> None:
    assert spec.description
    assert spec.roles
    assert spec.roles <= set(ROLES)
    names = [p.name for p in spec.params]
    assert len(names) == len(set(names))
    assert not set(spec.key_columns) & set(spec.output_fields)
    for role in spec.roles:
        assert set(spec.fields_for(role)) <= set(spec.output_fields)
    if spec.role_fields is not None:
        assert set(spec.role_fields) == spec.roles
        # every output field is answered by some role
        assert {f for r in spec.roles for f in spec.fields_for(r)} == set(spec.output_fields)
    assert sum(p.batch for p in spec.params) <= 1
    for p in spec.params:
        assert p.description
        assert p.choices == () or p.type == "choice_list"


def test_per_shipment_queries_answer_by_house_bill_in_batches() -> None:
    for spec in SPECS:
        if spec.disclosure == "per_shipment":
            assert spec.key_columns == ("house_bill", "known")
            assert spec.max_batch() == MAX_BATCH_SHIPMENTS


def test_every_indicator_is_in_shipment_indicators_for_its_roles() -> None:
    indicators = CATALOGUE["shipment_indicators"]
    assert indicators.output_fields == tuple(INDICATOR_ROLES)
    for role in ROLES:
        assert indicators.fields_for(role) == tuple(
            f for f, roles in INDICATOR_ROLES.items() if role in roles)
    assert indicators.fields_for("customs") == ()
