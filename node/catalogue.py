"""The fixed catalogue of questions a node can answer, by name."""

from __future__ import annotations

from collections.abc import Mapping

from fedtrade.node.queries.linkage import LINKAGE_QUERIES
from fedtrade.node.queries.shipments import SHIPMENT_QUERIES
from fedtrade.node.queries.spec import QuerySpec
from fedtrade.node.queries.statistics import STATISTICS_QUERIES

__all__ = ["CATALOGUE", "DESCRIBE"]

# The name of the signed query answered by the Describe call.
DESCRIBE = "describe"

CATALOGUE: Mapping[str, QuerySpec] = {
    spec.name: spec for spec in (*SHIPMENT_QUERIES, *LINKAGE_QUERIES, *STATISTICS_QUERIES)
}
