"""The container files, checked as far as possible without a container engine.

No Docker daemon runs where the tests run, so the image is never built here.
What is checked: the entry point script as a real process (environment to
flags, health probe, pass-through, root refusal) with a fake `fedtrade-node`
that prints its arguments; the Dockerfile's instructions; that its build
stage copies enough of the tree for pip to build the wheel; and that
compose.yaml parses and fits the Dockerfile, the entry point and the demo
federation's ids.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.sim.federation import NODE_IDS
from fedtrade.trust.keys import generate_keypair
from fedtrade.trust.pki import init_ca, issue_certificate

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
USAGE_EXIT = 64
UID = "10001"

FAKE_NODE = f"""#!{sys.executable}
import json, sys
print(json.dumps(sys.argv[1:]))
"""


@dataclass(frozen=True)
class Run:
    code: int
    argv: list[str] | None
    stdout: str
    stderr: str


@pytest.fixture
def fake_path(tmp_path: Path) -> Path:
    """A bin folder whose `fedtrade-node` prints its arguments as JSON."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "fedtrade-node"
    fake.write_text(FAKE_NODE)
    fake.chmod(0o755)
    return bin_dir


def _entrypoint(
    bin_dir: Path,
    run_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    allow_root: bool = True,
) -> Run:
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FEDTRADE_RUN_DIR": str(run_dir),
        **(env or {}),
    }
    if allow_root:
        environment["FEDTRADE_ALLOW_ROOT"] = "1"
    result = subprocess.run(
        [str(ENTRYPOINT), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    argv = json.loads(result.stdout) if result.stdout.startswith("[") else None
    return Run(result.returncode, argv, result.stdout, result.stderr)


def test_entrypoint_is_an_executable_posix_shell_script() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True, timeout=10)


def test_no_arguments_serve_the_config_with_json_logs(fake_path: Path, tmp_path: Path) -> None:
    run = _entrypoint(fake_path, tmp_path)
    assert run.code == 0, run.stderr
    assert run.argv == [
        "--log-format",
        "json",
        "serve",
        "--config",
        "/config/node.yaml",
        "--port-file",
        f"{tmp_path}/fedtrade-node.port",
    ]


def test_environment_maps_to_serve_flags_and_arguments_come_last(
    fake_path: Path, tmp_path: Path
) -> None:
    run = _entrypoint(
        fake_path,
        tmp_path,
        "serve",
        "--listen",
        "127.0.0.1:7000",
        env={
            "FEDTRADE_NODE_CONFIG": "/config/carrier-1.yaml",
            "FEDTRADE_NODE_LISTEN": "0.0.0.0:50051",
            "FEDTRADE_LOG_FORMAT": "text",
            "FEDTRADE_VERBOSE": "1",
            "FEDTRADE_METRICS_PORT": "9464",
            "FEDTRADE_METRICS_ADDRESS": "192.0.2.7",
        },
    )
    assert run.code == 0, run.stderr
    assert run.argv == [
        "-v",
        "--log-format",
        "text",
        "serve",
        "--config",
        "/config/carrier-1.yaml",
        "--port-file",
        f"{tmp_path}/fedtrade-node.port",
        "--listen",
        "0.0.0.0:50051",
        "--metrics-port",
        "9464",
        "--metrics-address",
        "192.0.2.7",
        "--listen",
        "127.0.0.1:7000",
    ]


def test_flags_alone_mean_serve(fake_path: Path, tmp_path: Path) -> None:
    run = _entrypoint(fake_path, tmp_path, "--metrics-port", "0")
    assert run.argv is not None
    assert run.argv[2] == "serve"
    assert run.argv[-2:] == ["--metrics-port", "0"]


def test_serve_removes_a_stale_port_file(fake_path: Path, tmp_path: Path) -> None:
    port_file = tmp_path / "fedtrade-node.port"
    port_file.write_text("1234\n")
    assert _entrypoint(fake_path, tmp_path).code == 0
    assert not port_file.exists()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FEDTRADE_LOG_FORMAT", "xml", "FEDTRADE_LOG_FORMAT must be json or text, not 'xml'"),
        ("FEDTRADE_VERBOSE", "very", "FEDTRADE_VERBOSE must be 1 or 0, not 'very'"),
        ("FEDTRADE_METRICS_PORT", "94x4", "FEDTRADE_METRICS_PORT must be a port number"),
    ],
)
def test_bad_environment_values_are_refused_before_starting(
    fake_path: Path, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    run = _entrypoint(fake_path, tmp_path, env={variable: value})
    assert run.code == USAGE_EXIT
    assert run.argv is None
    assert message in run.stderr


def test_health_probes_the_port_the_node_bound(fake_path: Path, tmp_path: Path) -> None:
    run = _entrypoint(fake_path, tmp_path, "health")
    assert run.code == USAGE_EXIT
    assert "has not started listening yet" in run.stderr

    (tmp_path / "fedtrade-node.port").write_text("43210\n")
    run = _entrypoint(fake_path, tmp_path, "health", env={"FEDTRADE_NODE_LISTEN": "0.0.0.0:50051"})
    assert run.argv == [
        "health",
        "--address",
        "127.0.0.1:43210",
        "--tls-config",
        "/config/node.yaml",
    ]
    run = _entrypoint(fake_path, tmp_path, "health", env={"FEDTRADE_NODE_LISTEN": "10.1.2.3:50051"})
    assert run.argv is not None
    assert run.argv[2] == "10.1.2.3:43210"


def test_other_commands_run_as_given(fake_path: Path, tmp_path: Path) -> None:
    run = _entrypoint(fake_path, tmp_path, "fedtrade-node", "audit", "verify", "--config", "a b")
    assert run.argv == ["audit", "verify", "--config", "a b"]
    run = _entrypoint(fake_path, tmp_path, "sh", "-c", "echo from a shell")
    assert run.stdout == "from a shell\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be root")
def test_root_is_refused_unless_allowed(fake_path: Path, tmp_path: Path) -> None:
    for command in [(), ("health",), ("fedtrade-node", "audit", "verify")]:
        run = _entrypoint(fake_path, tmp_path, *command, allow_root=False)
        assert run.code == USAGE_EXIT
        assert run.stdout == ""
        assert "refusing to run as root" in run.stderr
        assert "FEDTRADE_ALLOW_ROOT=1" in run.stderr


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A folder an unprivileged user can enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="fedtrade-entrypoint-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_an_ordinary_user_runs_without_being_allowed(world_readable_dir: Path) -> None:
    script = world_readable_dir / "entrypoint.sh"
    shutil.copy(ENTRYPOINT, script)
    script.chmod(0o755)
    fake = world_readable_dir / "fedtrade-node"
    fake.write_text('#!/bin/sh\necho "as $(id -u): $*"\n')
    fake.chmod(0o755)
    run_dir = world_readable_dir / "run"
    run_dir.mkdir(mode=0o777)
    run_dir.chmod(0o777)
    result = subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", str(script)],
        env={"PATH": f"{world_readable_dir}:/usr/bin:/bin", "FEDTRADE_RUN_DIR": str(run_dir)},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"as {UID}: --log-format json serve --config")


# --- Dockerfile --------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for text in logical:
        keyword, _, rest = text.strip().partition(" ")
        pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def _last(keyword: str) -> str:
    values = [value for name, value in _instructions() if name == keyword]
    assert values, f"Dockerfile has no {keyword}"
    return values[-1]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for name, value in _instructions():
        if name == "FROM":
            stages.append([])
        if stages:  # an ARG before the first FROM (the base) belongs to no stage
            stages[-1].append((name, value))
    return stages


def _final_stage() -> list[tuple[str, str]]:
    return _stages()[-1]


def _context_sources(stage: list[tuple[str, str]]) -> list[str]:
    """What a stage copies from the build context (options and destination dropped)."""
    sources: list[str] = []
    for name, value in stage:
        words = value.split()
        if name == "COPY" and not any(w.startswith("--from") for w in words):
            sources.extend(w for w in words[:-1] if not w.startswith("--"))
    return sources


def test_dockerfile_runs_as_a_fixed_non_root_user() -> None:
    user = _last("USER")
    assert user == f"{UID}:{UID}"
    setup = " ".join(value for name, value in _final_stage() if name == "RUN")
    assert f"useradd --system --uid {UID} --gid {UID}" in setup
    assert f"groupadd --system --gid {UID} fedtrade" in setup


def test_dockerfile_declares_volumes_ports_healthcheck_and_entrypoint() -> None:
    assert set(json.loads(_last("VOLUME"))) == {"/config", "/keys", "/data"}
    exposed = set(_last("EXPOSE").split())
    assert exposed == {"50051", "9464"}
    environment = dict(
        re.findall(r"(\w+)=(\S+)", " ".join(v for n, v in _final_stage() if n == "ENV"))
    )
    assert environment["FEDTRADE_NODE_LISTEN"].rpartition(":")[2] in exposed
    assert environment["FEDTRADE_LOG_FORMAT"] == "json"
    healthcheck = _last("HEALTHCHECK")
    assert "--interval=" in healthcheck
    command = json.loads(healthcheck.partition(" CMD ")[2])
    assert command == ["fedtrade-entrypoint", "health"]
    assert json.loads(_last("ENTRYPOINT")) == ["fedtrade-entrypoint"]
    assert json.loads(_last("CMD")) == ["serve"]
    copies = [value for name, value in _final_stage() if name == "COPY"]
    assert "--chmod=0755 docker/entrypoint.sh /usr/local/bin/fedtrade-entrypoint" in copies


def test_dockerfile_uses_python_311_slim_unless_given_another_base() -> None:
    bases = [value.split()[0] for name, value in _instructions() if name == "FROM"]
    assert bases
    assert all(base == "${BASE}" for base in bases)
    assert ("ARG", "BASE=python:3.11-slim-bookworm") in _instructions()


def _allowed_by_dockerignore(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore is an allow-list: it starts by excluding all"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    return path.rstrip("/") in allowed


def test_build_context_holds_what_the_dockerfile_copies_and_no_secrets() -> None:
    copied = [source for stage in _stages() for source in _context_sources(stage)]
    assert "docker/entrypoint.sh" in copied
    for source in copied:
        assert (ROOT / source).exists(), source
        top = Path(source).parts[0]
        assert _allowed_by_dockerignore(top), f"{source} is excluded by .dockerignore"
    for secret in ("deploy", "keys", "data", ".venv", "demo-work"):
        assert not _allowed_by_dockerignore(secret)
    # fedtrade/ links to the top-level folders; the build needs each link's target too
    for link in (ROOT / "fedtrade").iterdir():
        if link.is_symlink():
            assert f"{link.resolve().name}/" in copied, f"fedtrade/{link.name} is not copied"
    assert "fedtrade/" in copied


def test_the_build_stage_context_builds_an_installable_wheel(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in _context_sources(_stages()[0]):
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, context / source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            str(context),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (wheel,) = (tmp_path / "wheels").glob("fedtrade-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    assert {
        "fedtrade/node/health.py", "fedtrade/node/tls.py", "fedtrade/trust/pki.py",
        "fedtrade/protos/v2/node_pb2.py", "fedtrade/protos/v2/node.proto", "fedtrade/sim/cli.py",
    } <= names
    assert {name.split("/")[0] for name in names} == {"fedtrade", wheel.name.split("-")[0]
                                                       + "-" + wheel.name.split("-")[1]
                                                       + ".dist-info"}
    assert "fedtrade-node = fedtrade.node.cli:main" in scripts
    assert "fedtrade = fedtrade.coordinator.cli:main" in scripts


# --- compose.yaml ------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Container path -> (host path, mode)."""
    mounts = {}
    for volume in service["volumes"]:
        host, container, *mode = volume.split(":")
        mounts[container] = (host, mode[0] if mode else "rw")
    return mounts


def test_compose_runs_the_three_demo_nodes_from_this_dockerfile() -> None:
    services = _compose()["services"]
    assert set(services) == {*NODE_IDS.values(), "coordinator"}
    for node_id in NODE_IDS.values():
        service = services[node_id]
        assert service["build"] == "."
        assert (ROOT / service["build"] / "Dockerfile").is_file()
        assert service["user"] == _last("USER")
        assert service["read_only"] is True
        assert "/tmp" in service["tmpfs"]
        assert service["cap_drop"] == ["ALL"]
        assert service["hostname"] == node_id
        assert _mounts(service) == {
            "/config": (f"./deploy/{node_id}/config", "ro"),
            "/keys": (f"./deploy/{node_id}/keys", "ro"),
            "/data": (f"./deploy/{node_id}/data", "rw"),
        }
        assert "healthcheck" not in service  # the image's HEALTHCHECK applies
        for published in service.get("ports", []):
            assert published.startswith("127.0.0.1:"), "publish on loopback only"


def test_compose_environment_is_what_the_entrypoint_reads() -> None:
    script = ENTRYPOINT.read_text()
    for service in _compose()["services"].values():
        for variable in service.get("environment", {}):
            assert variable in script, f"{variable} is not read by the entry point"


def test_compose_coordinator_describes_every_node_once_they_are_healthy() -> None:
    coordinator = _compose()["services"]["coordinator"]
    assert coordinator["image"] == _compose()["services"]["carrier-1"]["image"]
    assert coordinator["user"] == _last("USER")
    assert coordinator["restart"] == "no"
    assert coordinator["depends_on"] == {
        node_id: {"condition": "service_healthy"} for node_id in NODE_IDS.values()
    }
    assert set(_mounts(coordinator)) == {"/config", "/keys", "/data"}
    shell = coordinator["command"][-1]
    assert "fedtrade query --config /config/coordinator.yaml" in shell
    assert " describe " in shell
    for node_id in NODE_IDS.values():
        assert node_id in shell


def test_every_deploy_path_compose_mounts_is_documented() -> None:
    docs = (ROOT / "README.md").read_text()
    for service in _compose()["services"].values():
        for host, _mode in _mounts(service).values():
            assert host.startswith("./deploy/")
            assert host.removeprefix("./") in docs, f"{host} is not described"


def test_the_compose_coordinator_config_loads(tmp_path: Path) -> None:
    """docker/coordinator.yaml, laid out as the README's deploy/ commands lay it out, passes
    the coordinator's own loader (a release adding a required key must update it)."""
    config, keys = tmp_path / "config", tmp_path / "keys"
    config.mkdir()
    shutil.copy(ROOT / "docker" / "coordinator.yaml", config)
    shutil.copy(init_ca(tmp_path / "ca").cert, config / "ca.crt")
    generate_keypair(keys, "cbp-coordinator")
    issue_certificate(tmp_path / "ca", "cbp-coordinator", keys)
    for node_id in NODE_IDS.values():
        generate_keypair(tmp_path, node_id)
        shutil.copy(tmp_path / f"{node_id}.pub", config)
    loaded = load_coordinator_config(config / "coordinator.yaml")
    assert {node.id: node.address for node in loaded.nodes.values()} == {
        node_id: f"{node_id}:50051" for node_id in NODE_IDS.values()}
