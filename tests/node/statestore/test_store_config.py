"""The config's store section is checked strictly, and its DSN file like a key file."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from fedtrade.node.cli import main as node_main
from fedtrade.sim.federation import Federation
from tests.pg import write_dsn_file

NODE = "carrier-1"
SECRET_DSN = "postgresql://fedtrade:hunter2-secret@127.0.0.1:5432/fedtrade"


def with_store(federation: Federation, store: object) -> Path:
    path = federation.node_configs[NODE]
    data = yaml.safe_load(path.read_text())
    data["store"] = store
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = node_main(["config", "check", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_postgresql_store_with_a_private_dsn_file_passes(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dsn_file(federation.root / "pg.dsn", SECRET_DSN)
    path = with_store(federation, {"backend": "postgresql", "dsn_file": "pg.dsn"})
    code, out = check(path, capsys)
    assert code == 0, out
    assert "hunter2" not in out
    path = with_store(federation, {"backend": "postgresql", "dsn_file": "pg.dsn",
                                   "data": "postgresql"})
    code, out = check(path, capsys)
    assert code == 0, out


@pytest.mark.parametrize(
    ("store", "dsn", "mode", "expected"),
    [
        ({"backend": "postgresql"}, None, 0o600,
         "store.dsn_file: backend postgresql needs dsn_file"),
        ({"backend": "postgres", "dsn_file": "pg.dsn"}, SECRET_DSN, 0o600,
         "store.backend: expected one of postgresql, sqlite"),
        ({"backend": "postgresql", "dsn_file": "pg.dsn", "pool": 4}, SECRET_DSN, 0o600,
         "store.pool: unknown key 'pool'"),
        ({"backend": "sqlite", "dsn_file": "pg.dsn"}, SECRET_DSN, 0o600,
         "store.dsn_file: dsn_file is for backend postgresql"),
        ({"backend": "sqlite", "data": "postgresql"}, None, 0o600,
         "store.data: data: postgresql needs backend: postgresql"),
        ({"backend": "postgresql", "dsn_file": "pg.dsn", "data": "postgres"}, SECRET_DSN,
         0o600, "store.data: expected one of postgresql, sqlite"),
        ({"backend": "postgresql", "dsn_file": "pg.dsn"}, SECRET_DSN, 0o644,
         "is readable by group/others (mode 0644)"),
        ({"backend": "postgresql", "dsn_file": "missing.dsn"}, None, 0o600,
         "PostgreSQL DSN file not found"),
        ({"backend": "postgresql", "dsn_file": "pg.dsn"},
         "host=127.0.0.1 password=hunter2-secret dbname", 0o600,
         "does not hold a valid PostgreSQL connection string"),
        ({"backend": "postgresql", "dsn_file": "pg.dsn"}, "", 0o600,
         "does not hold a valid PostgreSQL connection string"),
    ],
)
def test_a_wrong_store_section_is_refused_with_its_key(
    federation: Federation, capsys: pytest.CaptureFixture[str], store: object,
    dsn: str | None, mode: int, expected: str,
) -> None:
    if dsn is not None:
        write_dsn_file(federation.root / "pg.dsn", dsn).chmod(mode)
    path = with_store(federation, store)
    code, out = check(path, capsys)
    assert code == 1
    assert expected in out
    assert str(path) in out
    assert "hunter2" not in out  # the DSN may hold a password: never echoed
    assert "Traceback" not in out


def test_serve_fails_closed_when_postgresql_cannot_be_reached(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_dsn_file(federation.root / "pg.dsn",
                   f"postgresql://fedtrade:hunter2-secret@127.0.0.1:{port}/fedtrade")
    path = with_store(federation, {"backend": "postgresql", "dsn_file": "pg.dsn"})
    assert node_main(["serve", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "cannot use the PostgreSQL state store" in err
    assert f"port {port} failed" in err
    assert "hunter2" not in err
    assert "Traceback" not in err


def test_serve_refuses_a_postgresql_database_not_in_utf8(
    federation: Federation, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQL_ASCII (initdb without a locale) hands text back as bytes: refused at connect,
    with the fix, before anything is created."""
    name = f"{conninfo_to_dict(pg_dsn)['dbname']}_ascii"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
                      "LC_COLLATE 'C' LC_CTYPE 'C'")
    try:
        write_dsn_file(federation.root / "pg.dsn", make_conninfo(pg_dsn, dbname=name))
        path = with_store(federation, {"backend": "postgresql", "dsn_file": "pg.dsn"})
        assert node_main(["serve", "--config", str(path)]) == 1
        err = capsys.readouterr().err
        assert "uses the encoding SQL_ASCII; fedtrade needs UTF8" in err
        assert "Traceback" not in err
        with psycopg.connect(make_conninfo(pg_dsn, dbname=name)) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables "
                                "WHERE schemaname = 'public'").fetchone() == (0,)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
