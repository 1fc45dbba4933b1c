"""The importable tables of each role: the single description the importer and the docs use.

``TABLES`` maps every importable table name to its ``TableSpec`` (columns,
types, nullability, primary key, unique keys, foreign keys and cross-field
rules). The SQL schema is created by ``node.store.migrations``; a test keeps the
two in agreement. Node internals (audit_log, query_ids, rate_state, import_log) are not
importable and are not described here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fedtrade.node.store import columns as c
from fedtrade.node.store.columns import ColumnType, SqlValue
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.ids import ROLES

__all__ = [
    "REFERENCE",
    "ROLES",
    "TABLES",
    "ColumnSpec",
    "ForeignKey",
    "RowRule",
    "TableSpec",
    "check_role",
    "table_specs",
]

REFERENCE = "reference"
"""Pseudo-role of the reference lists, which any role may hold."""


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    nullable: bool = False
    references: ForeignKey | None = None
    doc: str = ""


@dataclass(frozen=True)
class RowRule:
    """A rule across the fields of one row; ``check`` returns the problem or None."""

    field: str
    description: str
    check: Callable[[Mapping[str, SqlValue]], str | None]


@dataclass(frozen=True)
class TableSpec:
    name: str
    role: str
    description: str
    columns: tuple[ColumnSpec, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = ()
    rules: tuple[RowRule, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)

    @property
    def keys(self) -> tuple[tuple[str, ...], ...]:
        """The primary key first, then every unique key."""
        return (self.primary_key, *self.unique)

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(col.references.table for col in self.columns if col.references)
        )


def _col(
    name: str, type_: ColumnType, *, nullable: bool = False, references: str | None = None,
    doc: str = "",
) -> ColumnSpec:
    fk = None
    if references is not None:
        table, column = references.split(".")
        fk = ForeignKey(table, column)
    return ColumnSpec(name, type_, nullable, fk, doc)


def _kyc_date_required(row: Mapping[str, SqlValue]) -> str | None:
    if row["kyc_verified"] == 1 and row["kyc_verified_at"] is None:
        return "is required when kyc_verified is 1 (expected the KYC date YYYY-MM-DD)"
    return None


def _not_self_link(row: Mapping[str, SqlValue]) -> str | None:
    if row["seller_id"] == row["linked_seller_id"]:
        return "links the seller to itself (expected the id of another seller)"
    return None


def _eta_after_departure(row: Mapping[str, SqlValue]) -> str | None:
    eta, departure = row["eta"], row["departure_at"]
    # Both are validated YYYY-MM-DDTHH:MM:SSZ strings, so text order is time order.
    if isinstance(eta, str) and isinstance(departure, str) and eta < departure:
        return f"{eta!r} is before departure_at {departure!r} (expected eta >= departure_at)"
    return None


_STATUS = c.enum("active", "suspended", "closed")
_PRELOAD = c.enum("accepted", "pending", "hold", "do_not_load")
_ENTRY_TYPE = c.enum("01", "11", "86")
_RELEASE = c.enum("pending", "released", "hold", "rejected")
_POSITIVE_INT = c.integer(1)

_SPECS = (
    TableSpec(
        "sellers", "marketplace", "Sellers on the marketplace with their KYC status.",
        (
            _col("seller_id", c.IDENT),
            _col("legal_name", c.TEXT),
            _col("address", c.TEXT),
            _col("country", c.COUNTRY),
            _col("tax_id", c.TEXT, nullable=True),
            _col("kyc_verified", c.FLAG),
            _col("kyc_verified_at", c.DATE, nullable=True,
                 doc="required when kyc_verified is 1"),
            _col("high_volume", c.FLAG,
                 doc="INFORM Act: >= 200 sales and >= 5000 USD in 12 months"),
            _col("registered_at", c.DATE),
            _col("status", _STATUS),
        ),
        ("seller_id",),
        rules=(RowRule("kyc_verified_at", "required when kyc_verified is 1", _kyc_date_required),),
    ),
    TableSpec(
        "seller_links", "marketplace", "Links between seller accounts (shared bank account, ...).",
        (
            _col("seller_id", c.IDENT, references="sellers.seller_id"),
            _col("linked_seller_id", c.IDENT, references="sellers.seller_id"),
            _col("reason", c.TEXT, doc="e.g. shared_bank_account, shared_address"),
        ),
        ("seller_id", "linked_seller_id"),
        rules=(RowRule("linked_seller_id", "differs from seller_id", _not_self_link),),
    ),
    TableSpec(
        "listings", "marketplace", "Product listings offered by sellers.",
        (
            _col("listing_id", c.IDENT),
            _col("seller_id", c.IDENT, references="sellers.seller_id"),
            _col("title", c.TEXT),
            _col("category", c.TEXT),
            _col("hs6_hint", c.HS6, nullable=True),
            _col("gtin", c.GTIN, nullable=True),
            _col("brand", c.TEXT, nullable=True),
            _col("model", c.TEXT, nullable=True),
            _col("price", c.MONEY),
            _col("currency", c.CURRENCY),
            _col("origin_country", c.COUNTRY),
        ),
        ("listing_id",),
    ),
    TableSpec(
        "orders", "marketplace", "Orders placed by buyers.",
        (
            _col("order_id", c.IDENT),
            _col("buyer_name", c.TEXT),
            _col("buyer_address", c.TEXT),
            _col("ordered_at", c.TIMESTAMP),
            _col("total_paid", c.MONEY),
            _col("currency", c.CURRENCY),
        ),
        ("order_id",),
    ),
    TableSpec(
        "order_lines", "marketplace", "The listings bought in each order.",
        (
            _col("order_id", c.IDENT, references="orders.order_id"),
            _col("line_no", _POSITIVE_INT),
            _col("listing_id", c.IDENT, references="listings.listing_id"),
            _col("quantity", _POSITIVE_INT),
            _col("unit_price", c.MONEY),
            _col("amount_paid", c.MONEY),
        ),
        ("order_id", "line_no"),
    ),
    TableSpec(
        "fulfillments", "marketplace", "How each order was shipped: carrier and house bill.",
        (
            _col("fulfillment_id", c.IDENT),
            _col("order_id", c.IDENT, references="orders.order_id"),
            _col("carrier_code", c.CARRIER_CODE),
            _col("house_bill", c.HOUSE_BILL),
            _col("shipped_at", c.TIMESTAMP),
        ),
        ("fulfillment_id",),
        unique=(("house_bill",),),
    ),
    TableSpec(
        "masters", "carrier", "Master air waybills: one flight consolidation each.",
        (
            _col("mawb", c.MAWB),
            _col("flight_no", c.FLIGHT_NO),
            _col("origin_airport", c.AIRPORT),
            _col("destination_airport", c.AIRPORT),
            _col("departure_at", c.TIMESTAMP),
            _col("eta", c.TIMESTAMP, doc="not before departure_at"),
        ),
        ("mawb",),
        rules=(RowRule("eta", "not before departure_at", _eta_after_departure),),
    ),
    TableSpec(
        "house_bills", "carrier", "House bills: one shipment each, carried under a master.",
        (
            _col("house_bill", c.HOUSE_BILL),
            _col("mawb", c.MAWB, references="masters.mawb"),
            _col("shipper_name", c.TEXT),
            _col("shipper_address", c.TEXT),
            _col("shipper_country", c.COUNTRY),
            _col("consignee_name", c.TEXT),
            _col("consignee_address", c.TEXT),
            _col("pieces", _POSITIVE_INT),
            _col("weight_kg", c.POSITIVE_REAL),
            _col("declared_value", c.MONEY),
            _col("currency", c.CURRENCY),
            _col("description", c.TEXT),
            _col("hs6", c.HS6),
            _col("origin_country", c.COUNTRY),
            _col("known_shipper", c.FLAG),
            _col("screened", c.FLAG),
            _col("preload_status", _PRELOAD),
        ),
        ("house_bill",),
    ),
    TableSpec(
        "house_bill_items", "carrier", "The items declared on each house bill.",
        (
            _col("house_bill", c.HOUSE_BILL, references="house_bills.house_bill"),
            _col("item_no", _POSITIVE_INT),
            _col("description", c.TEXT),
            _col("hs6", c.HS6),
            _col("quantity", _POSITIVE_INT),
            _col("value", c.MONEY),
        ),
        ("house_bill", "item_no"),
    ),
    TableSpec(
        "entries", "broker", "Customs entries filed by the broker.",
        (
            _col("entry_number", c.ENTRY_NUMBER),
            _col("entry_type", _ENTRY_TYPE, doc="01 formal, 11 informal, 86 low-value"),
            _col("importer_of_record", c.TEXT, nullable=True),
            _col("consignee_name", c.TEXT),
            _col("consignee_address", c.TEXT),
            _col("port_code", c.PORT_CODE),
            _col("estimated_arrival", c.DATE),
            _col("mawb", c.MAWB),
            _col("house_bill", c.HOUSE_BILL),
            _col("total_value_usd", c.MONEY),
            _col("release_status", _RELEASE),
        ),
        ("entry_number",),
    ),
    TableSpec(
        "entry_lines", "broker", "The tariff lines of each entry.",
        (
            _col("entry_number", c.ENTRY_NUMBER, references="entries.entry_number"),
            _col("line_no", _POSITIVE_INT),
            _col("hts10", c.HTS10),
            _col("description", c.TEXT),
            _col("origin_country", c.COUNTRY),
            _col("quantity", _POSITIVE_INT),
            _col("value_usd", c.MONEY),
            _col("mid", c.MID, nullable=True),
            _col("certificate_ref", c.TEXT, nullable=True, doc="e.g. CPSC-GCC-2026-001234"),
        ),
        ("entry_number", "line_no"),
    ),
    TableSpec(
        "recalled_products", REFERENCE, "Recalled products by GTIN (e.g. from CPSC).",
        (
            _col("gtin", c.GTIN),
            _col("recall_id", c.IDENT),
            _col("source", c.TEXT, doc="e.g. CPSC"),
            _col("recalled_at", c.DATE),
            _col("description", c.TEXT),
        ),
        ("gtin",),
    ),
    TableSpec(
        "entity_list", REFERENCE, "Listed entities (UFLPA, denied parties, ...).",
        (
            _col("entity_id", c.IDENT),
            _col("name", c.TEXT),
            _col("country", c.COUNTRY),
            _col("mid", c.MID, nullable=True),
            _col("list_name", c.TEXT, doc="e.g. UFLPA, DPL"),
            _col("added_at", c.DATE),
        ),
        ("entity_id",),
    ),
)

TABLES: Mapping[str, TableSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def table_specs(role: str) -> list[TableSpec]:
    """The importable tables of ``role`` (its own and the reference lists), parents first."""
    check_role(role)
    # _SPECS is declared parents first; a test keeps it that way.
    return [spec for spec in _SPECS if spec.role in (role, REFERENCE)]
