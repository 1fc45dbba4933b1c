"""The pooled hub on DuckDB: the strongest single-database baseline the benchmark knows.

``build_duckdb`` copies every table of a pooled SQLite database (``build_pooled``)
into a DuckDB file through Arrow, with the SQLite columns' declared types;
``duckdb_indicators`` runs the statement of ``sim.pooled_sql`` there on one
thread and returns the result as an Arrow table. DuckDB and pyarrow are
benchmark-only dependencies (the ``bench`` extra); without them both functions
raise DataError saying how to install them.
"""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

from fedtrade.sim.pooled_sql import PooledSettings, statement
from fedtrade.trust.errors import DataError

__all__ = ["build_duckdb", "duckdb_available", "duckdb_indicators"]

_INSTALL = "install the benchmark extra: pip install -e '.[bench]' (scripts/bootstrap --dev does)"


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise DataError(f"the DuckDB pooled baseline needs {name}; {_INSTALL}") from None


def duckdb_available() -> bool:
    try:
        _module("duckdb")
        _module("pyarrow")
    except DataError:
        return False
    return True


def _arrow_type(declared: str, pa: Any) -> Any:
    kind = declared.upper()
    if "INT" in kind:
        return pa.int64()
    if any(k in kind for k in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    if "BLOB" in kind:
        return pa.binary()
    return pa.string()


def build_duckdb(pooled: Path, out: Path) -> Path:
    """Create the DuckDB file ``out`` holding every table of the pooled SQLite database."""
    duckdb, pa = _module("duckdb"), _module("pyarrow")
    if not pooled.is_file():
        raise DataError(f"{pooled}: no pooled database there; build it with build_pooled")
    if out.exists():
        raise DataError(f"{out} already exists; give a new file for the DuckDB database")
    source = sqlite3.connect(f"{pooled.resolve().as_uri()}?mode=ro", uri=True)
    target = duckdb.connect(str(out))
    try:
        tables = [name for (name,) in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for table in tables:
            info = source.execute(f"PRAGMA table_info({table})").fetchall()
            schema = pa.schema([(col[1], _arrow_type(col[2], pa)) for col in info])
            rows = source.execute(f"SELECT * FROM {table}").fetchall()
            arrays = [pa.array([row[i] for row in rows], type=schema.field(i).type)
                      for i in range(len(info))]
            data = pa.Table.from_arrays(arrays, schema=schema)
            target.register("incoming", data)
            target.execute(f'CREATE TABLE "{table}" AS SELECT * FROM incoming')
            target.unregister("incoming")
        target.execute("CHECKPOINT")
    except BaseException:
        target.close()
        source.close()
        out.unlink(missing_ok=True)
        raise
    target.close()
    source.close()
    return out


def duckdb_indicators(db: Path, settings: PooledSettings | None = None, *,
                      threads: int = 1) -> Any:
    """The pooled result (``POOLED_COLUMNS``, manifest order) as a ``pyarrow.Table``,
    computed by DuckDB on ``threads`` threads from the file ``build_duckdb`` wrote."""
    duckdb = _module("duckdb")
    _module("pyarrow")
    if not db.is_file():
        raise DataError(f"{db}: no DuckDB pooled database there; build it with build_duckdb")
    conn = duckdb.connect(str(db), read_only=True, config={"threads": threads})
    try:
        return conn.sql(statement("duckdb", settings or PooledSettings())).to_arrow_table()
    finally:
        conn.close()
