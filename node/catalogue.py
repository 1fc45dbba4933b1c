"""The node's half of the catalogue: how it runs each query the shared contract declares."""

from __future__ import annotations

from collections.abc import Mapping

from fedtrade.node.queries.linkage import LINKAGE_RUNS
from fedtrade.node.queries.shipments import SHIPMENT_RUNS
from fedtrade.node.queries.spec import Run
from fedtrade.node.queries.statistics import STATISTICS_RUNS
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.spec import QuerySpec

__all__ = ["RUNS", "bind_runs"]


def bind_runs(catalogue: Mapping[str, QuerySpec], *parts: Mapping[str, Run]) -> dict[str, Run]:
    """One run per declared query, by name; a query declared but not run (or run but not
    declared, or run twice) is a programming error that must stop the node from starting."""
    runs: dict[str, Run] = {}
    for part in parts:
        twice = sorted(set(runs) & set(part))
        if twice:
            raise RuntimeError(f"queries bound twice: {', '.join(twice)}")
        runs.update(part)
    missing, extra = sorted(set(catalogue) - set(runs)), sorted(set(runs) - set(catalogue))
    if missing or extra:
        raise RuntimeError(
            "the node's queries do not match the protocol catalogue: "
            f"not run: {', '.join(missing) or 'none'}; not declared: {', '.join(extra) or 'none'}"
        )
    return runs


RUNS: Mapping[str, Run] = bind_runs(CATALOGUE, SHIPMENT_RUNS, LINKAGE_RUNS, STATISTICS_RUNS)
