"""A real PostgreSQL for the store tests: the cluster ``scripts/test`` started, or one started
here (``scripts/pg-throwaway``) when pytest runs on its own; a fresh database per test.

Tests that need it skip, saying why, only when no cluster can be started.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
THROWAWAY = ROOT / "scripts" / "pg-throwaway"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The DSN of a PostgreSQL superuser on loopback."""
    if os.environ.get("FEDTRADE_TEST_PG_SKIP"):
        pytest.skip(os.environ["FEDTRADE_TEST_PG_SKIP"])
    dsn = os.environ.get("FEDTRADE_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    folder = tempfile.mkdtemp(prefix="fedtrade-pg-")
    started = subprocess.run([str(THROWAWAY), "start", folder], capture_output=True, text=True)
    if started.returncode != 0:
        subprocess.run([str(THROWAWAY), "stop", folder], check=False)
        reason = started.stderr.strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"PostgreSQL could not be started for these tests: {reason[0]} "
                    "(install the Debian package postgresql, or run .ci/run)")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(THROWAWAY), "stop", folder], check=False)


@pytest.fixture
def pg_dsn(pg_server: str) -> Iterator[str]:
    """A new, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield make_conninfo(pg_server, dbname=name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def write_dsn_file(path: Path, dsn: str) -> Path:
    """A DSN file as an operator writes it: private to its owner."""
    path.write_text(dsn + "\n")
    path.chmod(0o600)
    return path
