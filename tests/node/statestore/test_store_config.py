"""The config's store section is checked strictly, and its DSN file like a key file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

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
