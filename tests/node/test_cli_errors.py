"""Real `fedtrade-node` and `fedtrade` processes meet a busy port, an unreadable or missing file:
one line on stderr, exit status 1, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fedtrade.sim.federation import Federation

NODE = "broker-1"
NOBODY = "65534"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The single stderr line of a failed command, without its 'error: ' prefix."""
        assert self.code == 1, self
        assert "Traceback" not in self.stderr, self.stderr
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), self.stderr
        return lines[0].removeprefix("error: ")


def cli(module: str, *args: str, prefix: tuple[str, ...] = ()) -> Run:
    result = subprocess.run(
        [*prefix, sys.executable, "-m", module, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def node_cli(*args: str, prefix: tuple[str, ...] = ()) -> Run:
    return cli("fedtrade.node.cli", *args, prefix=prefix)


def coordinator_cli(*args: str, prefix: tuple[str, ...] = ()) -> Run:
    return cli("fedtrade.coordinator.cli", *args, prefix=prefix)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_serve_on_a_busy_port(federation: Federation, busy_port: int) -> None:
    run = node_cli("serve", "--config", str(federation.node_configs[NODE]),
                   "--listen", f"127.0.0.1:{busy_port}")
    assert run.error_line() == (
        f"cannot listen on 127.0.0.1:{busy_port}: Address already in use; check node.listen "
        "(or --listen): the port must be free and the host an address of this machine"
    )


def test_serve_with_a_busy_metrics_port(federation: Federation, busy_port: int) -> None:
    """Checked before the gRPC port is bound; the store is closed again, nothing stays up."""
    run = node_cli("serve", "--config", str(federation.node_configs[NODE]),
                   "--metrics-port", str(busy_port))
    assert run.error_line() == (
        f"cannot serve metrics on 127.0.0.1:{busy_port}: Address already in use; choose "
        "another --metrics-port or stop the process that holds this one"
    )


def test_serve_on_an_address_of_another_machine(federation: Federation) -> None:
    run = node_cli("serve", "--config", str(federation.node_configs[NODE]),
                   "--listen", "192.0.2.1:0")  # TEST-NET-1: never local
    assert "Cannot assign requested address" in run.error_line()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="fedtrade-cli-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def as_unprivileged_user() -> tuple[str, ...]:
    """Run as an ordinary user: root reads any file, so only they meet a permission error."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot meet a permission error")
    return ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")


def test_an_unreadable_config(shared_dir: Path) -> None:
    config = shared_dir / "node.yaml"
    config.write_text("version: 1\n")
    config.chmod(0o000)
    prefix = as_unprivileged_user()
    for run in (node_cli("config", "check", str(config), prefix=prefix),
                coordinator_cli("config", "check", str(config), prefix=prefix)):
        assert run.error_line() == (
            f"{config}: cannot read config file: Permission denied; check that it is a "
            "readable file"
        )


def test_a_missing_file(federation: Federation) -> None:
    missing = federation.root / "exports" / "house_bills.csv"
    run = node_cli("import", "--config", str(federation.node_configs[NODE]), "house_bills",
                   str(missing))
    assert str(missing) in run.error_line()
    run = coordinator_cli("evaluate", str(missing), str(missing))
    assert str(missing) in run.error_line()


def test_a_node_config_given_to_the_coordinator(federation: Federation) -> None:
    config = federation.node_configs[NODE]
    assert coordinator_cli("config", "check", str(config)).error_line() == (
        f"{config}: this is a node config; check it with `fedtrade-node config check {config}`"
    )
