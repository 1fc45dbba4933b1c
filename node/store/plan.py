"""Decide which files an import reads and into which tables, parents before children."""

from __future__ import annotations

from pathlib import Path

from fedtrade.node.store.readers import FORMATS
from fedtrade.node.store.schema import TABLES, TableSpec, table_specs
from fedtrade.trust.errors import DataError
from fedtrade.trust.files import not_regular

__all__ = ["plan_import"]


def _table_for(role: str, name: str, where: Path) -> TableSpec:
    specs = {spec.name: spec for spec in table_specs(role)}
    if name in specs:
        return specs[name]
    other = TABLES.get(name)
    if other is not None:
        reason = f"table {name!r} belongs to the {other.role} role, and this is a {role} store"
    else:
        reason = f"{name!r} is not a table of a {role} store"
    raise DataError(f"{where}: {reason} (expected one of: {', '.join(specs)})")


def _not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as an import file: not a regular file (reading a FIFO
    would wait for a writer forever, a device would never end); None if it can."""
    kind = not_regular(path)
    return None if kind is None else \
        f"{path}: is {kind}, not a regular file; give a file or a folder of files"


def _check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise DataError(
            f"{path}: unsupported file type {path.suffix or '(none)'!r} "
            "(expected a .csv file with a header row or a .jsonl file)"
        )


def _folder(role: str, table: str | None, folder: Path) -> list[tuple[TableSpec, Path]]:
    found: dict[str, list[Path]] = {}
    problems = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in FORMATS:
            continue
        if not path.is_file():
            problems.append(_not_regular(path) or f"{path}: cannot be read (a broken link?)")
            continue
        try:
            spec = _table_for(role, path.stem, path)
        except DataError as exc:
            problems.append(str(exc))
            continue
        found.setdefault(spec.name, []).append(path)
    problems += [
        f"{folder}: both {' and '.join(p.name for p in paths)} are for table {name}; keep one"
        for name, paths in found.items()
        if len(paths) > 1
    ]
    if problems:
        raise DataError("\n".join(problems))
    if table is not None:
        _table_for(role, table, folder)
        found = {name: paths for name, paths in found.items() if name == table}
    if not found:
        wanted = f"{table}.csv or {table}.jsonl" if table else "<table>.csv or <table>.jsonl files"
        raise DataError(f"{folder}: nothing to import (expected {wanted} of a {role} store)")
    return [(spec, found[spec.name][0]) for spec in table_specs(role) if spec.name in found]


def plan_import(role: str, table: str | None, path: Path) -> list[tuple[TableSpec, Path]]:
    """The (table, file) pairs to import from ``path``, in foreign-key order.

    A file goes into ``table`` or, when ``table`` is None, into the table its
    name says (``<table>.csv`` or ``<table>.jsonl``). A folder contributes every
    such file; a file named after a table the role does not have is an error.
    """
    if path.is_dir():
        return _folder(role, table, path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    problem = _not_regular(path)
    if problem is not None:
        raise DataError(problem)
    _check_format(path)
    return [(_table_for(role, table if table is not None else path.stem, path), path)]
