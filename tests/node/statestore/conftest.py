from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.statestore.backends import Backend


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each test of the suite runs against both backends (PostgreSQL: a fresh database)."""
    name: str = request.param
    dsn = request.getfixturevalue("pg_dsn") if name == "postgresql" else ""
    return Backend(name, tmp_path / "node.db", dsn)
