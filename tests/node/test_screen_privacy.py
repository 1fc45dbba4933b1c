"""Batches answered a column at a time still teach a curious requester nothing more.

Real nodes over mutual TLS, the synthetic world, the filer's genuine blocks. An
authorized requester reorders, splits and regroups the same attested house bills
across questions: every house bill's answer is the same whatever batch it came in
(a batch is not a lever; a consolidated entry's band needs all its house bills), and
every answer is a band, a flag, a depth or a rounded
total, never a value the node holds.
"""

from __future__ import annotations

from typing import Any

from fedtrade.node.queries.columns import band_labels, count_band_labels
from fedtrade.node.queries.settings import QuerySettings
from fedtrade.protocol.tables import PyValue, decode_table
from fedtrade.sim.federation import NODE_IDS
from tests.conftest import LiveFederation, World
from tests.node.test_attestation import ask, batch

_LINES = 40


def _rows(live: LiveFederation, node: str, blocks: list[Any], bills: list[str]
          ) -> dict[str, dict[str, PyValue]]:
    table = decode_table(ask(live, node, blocks, "shipment_indicators", batch(*bills)).table)
    rows = {str(record["house_bill"]): record for record in table.records()}
    assert list(rows) == bills  # in the order asked
    return rows


# A consolidated entry's total is compared with the declared values of all its house
# bills, so a batch without all of them gets no band (less, never more).
_WHOLE_ENTRY = "entry_declared_ratio_band"


def test_regrouped_batches_answer_each_house_bill_alike(live_world: LiveFederation,
                                                        world: World) -> None:
    lines = [{k: row[k] for k in ("house_bill", "declared_value", "currency", "hs6")}
             for row in world.manifest()[:_LINES]]
    blocks = live_world.attest(lines, block_lines=16)
    bills = [line["house_bill"] for line in lines]
    for node in NODE_IDS.values():
        whole = _rows(live_world, node, blocks, bills)
        assert any(row["known"] for row in whole.values()), node  # it holds some of them
        for part in (bills[::-1][:13], bills[::-1][13:], bills[5:6]):
            for bill, row in _rows(live_world, node, blocks, part).items():
                if _WHOLE_ENTRY in row and row[_WHOLE_ENTRY] is None:
                    row[_WHOLE_ENTRY] = whole[bill][_WHOLE_ENTRY]
                assert row == whole[bill], (node, bill)


def test_answers_are_labels_flags_and_depths(live_world: LiveFederation, world: World) -> None:
    lines = [{k: row[k] for k in ("house_bill", "declared_value", "currency", "hs6")}
             for row in world.manifest()[:_LINES]]
    blocks = live_world.attest(lines)
    bills = [line["house_bill"] for line in lines]
    node = QuerySettings()  # the federation's nodes run with the default bands
    allowed: dict[str, set[PyValue]] = {
        "declared_paid_ratio_band": set(band_labels(node.value_ratio_bands)),
        "entry_declared_ratio_band": set(band_labels(node.value_ratio_bands)),
        "account_age_band": set(band_labels(tuple(map(float, node.account_age_days)), "d")),
        "linked_suspended_band": set(count_band_labels(node.linked_suspended)),
        "hs_match_depth": {0, 2, 4, 6},
    }
    seen: set[str] = set()
    for node_id in NODE_IDS.values():
        table = decode_table(ask(live_world, node_id, blocks, "shipment_indicators",
                                 batch(*bills)).table)
        for name, values in table.columns.items():
            if name in allowed:
                assert set(values) - {None} <= allowed[name], (node_id, name)
                seen.add(name)
            elif name not in ("house_bill", "seller_country", "seller_status",
                              "preload_status", "entry_type", "release_status",
                              "entity_name_strength"):
                assert set(values) <= {True, False, None}, (node_id, name)
        held = table.columns["known"]
        for name, values in table.columns.items():  # a parcel not held has no answer
            if name not in ("house_bill", "known"):
                assert all(v is None for v, k in zip(values, held, strict=True) if not k), name
    assert seen == set(allowed)
