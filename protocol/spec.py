"""How a catalogue query is declared: who answers it, its typed parameters, its outputs.

A requester names a query and passes typed parameters; it never sends SQL or
code. These declarations are what node and coordinator agree on; how a node
computes the answer is its own business (``fedtrade.node.queries``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from fedtrade.protocol.limits import MAX_BATCH_SHIPMENTS
from fedtrade.protocol.tables import PyValue

__all__ = ["SHIPMENT_FIELDS", "Disclosure", "ParamSpec", "ParamType", "QuerySpec"]

ParamType = Literal[
    "text", "integer", "number", "flag", "date", "text_list", "choice_list", "shipments"
]
Disclosure = Literal["per_shipment", "aggregate", "linkage"]
# The columns of a "shipments" parameter as sent: house bills only. A node takes the
# reference values (declared value, HS6) from the attested manifest lines, never from
# the requester.
SHIPMENT_FIELDS: Mapping[str, str] = {"house_bill": "text"}


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType
    description: str
    required: bool = True
    max_items: int = MAX_BATCH_SHIPMENTS
    pattern: re.Pattern[str] | None = None
    choices: tuple[str, ...] = ()
    # Whether its items count as shipments for max_batch and the shipment rate limit.
    batch: bool = False


@dataclass(frozen=True)
class QuerySpec:
    name: str
    description: str
    roles: frozenset[str]
    params: tuple[ParamSpec, ...]
    # Always in the answer (e.g. the house bill asked about and whether it is known).
    key_columns: tuple[str, ...]
    # Grantable output fields; a requester sees only those its grant lists.
    output_fields: tuple[str, ...]
    disclosure: Disclosure
    # Output fields only some roles can compute; others are absent from the answer.
    role_fields: Mapping[str, tuple[str, ...]] | None = None

    def fields_for(self, role: str) -> tuple[str, ...]:
        if self.role_fields is None:
            return self.output_fields
        return self.role_fields.get(role, ())

    def batch_size(self, params: Mapping[str, PyValue]) -> int:
        """Shipments in this request: the length of its batch parameter, 0 if it has none."""
        for p in self.params:
            value = params.get(p.name)
            if p.batch and isinstance(value, dict):
                return len(value["house_bill"])
            if p.batch and isinstance(value, list):
                return len(value)
        return 0

    def max_batch(self) -> int:
        return max((p.max_items for p in self.params if p.batch), default=0)
