"""A node's SQLite store: schemas per role, migrations, identifier checks and safe imports.

- ``open_store(path, role)`` creates or upgrades the store and refuses one of another role.
- ``TABLES`` / ``table_specs(role)`` describe every importable table.
- ``import_path(...)`` imports CSV / JSON Lines files: validated, all or nothing, idempotent.
- ``node.store.identifiers`` validates and computes trade identifiers (MAWB, entry number, GTIN...).
"""

from typing import TYPE_CHECKING

from fedtrade.node.store.migrations import open_store
from fedtrade.node.store.report import FileImport, ImportReport, SkippedFile
from fedtrade.node.store.schema import (
    ROLES,
    TABLES,
    ColumnSpec,
    ForeignKey,
    RowRule,
    TableSpec,
    table_specs,
)

if TYPE_CHECKING:
    from fedtrade.node.store.importer import import_path

__all__ = [
    "ROLES",
    "TABLES",
    "ColumnSpec",
    "FileImport",
    "ForeignKey",
    "ImportReport",
    "RowRule",
    "SkippedFile",
    "TableSpec",
    "import_path",
    "open_store",
    "table_specs",
]


def __getattr__(name: str) -> object:
    """``import_path`` on first use: a serving node opens its store but never imports into
    it, and the importer's modules (progress bars, readers, staging) cost it CPU at start."""
    if name == "import_path":
        from fedtrade.node.store.importer import import_path

        return import_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
