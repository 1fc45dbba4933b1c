"""The coordinator reaches two node replicas through one DNS name that resolves to both.

Two real `fedtrade-node serve` processes share one PostgreSQL store, one on 127.0.0.1:P and
one on 127.0.0.2:P (all of 127/8 is loopback on Linux). The coordinator runs in a private
mount namespace whose /etc/hosts, bind-mounted from a temporary file, gives the name
both addresses: its target is `dns:///replicas.fedtrade.test:P`, the form a Kubernetes
headless Service is reached by, resolved by gRPC's c-ares resolver (grpcio's default) and
by its native one (getaddrinfo), which both read /etc/hosts.

Both replicas run one config, so they share its data folder as replicas sharing a volume
do: the one SQLite file (migrated at start) and the checkpoint file both append to.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fedtrade.node.audit import verify_chain
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import load_node_config
from fedtrade.node.state import checkpoint_file
from fedtrade.node.statestore import read_state
from fedtrade.sim.federation import Federation
from tests.node.statestore.test_replica_nodes import NODE, QUERY_ID, use_postgresql
from tests.node.test_node_process import start, stop

ROOT = Path(__file__).resolve().parents[3]
NAME = "replicas.fedtrade.test"
COUNT = 20


def namespace_command(hosts: Path) -> list[str]:
    """A command prefix running the rest in a mount namespace seeing ``hosts`` as /etc/hosts."""
    unshare = ["unshare", "--mount"] if os.geteuid() == 0 else [
        "unshare", "--user", "--map-root-user", "--mount"]
    return [*unshare, "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]


@pytest.fixture
def hosts_namespace(tmp_path: Path) -> list[str]:
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {NAME}\n127.0.0.2 {NAME}\n")
    prefix = namespace_command(hosts)
    try:
        probe = subprocess.run([*prefix, "cat", "/etc/hosts"], capture_output=True, text=True,
                               timeout=10)
    except FileNotFoundError:
        pytest.skip("unshare (util-linux) is not installed: no private /etc/hosts")
    if probe.returncode != 0 or probe.stdout != hosts.read_text():
        pytest.skip(f"a mount namespace with its own /etc/hosts cannot be set up here: "
                    f"{probe.stderr.strip() or probe.stdout.strip()}")
    return prefix


@pytest.mark.slow
@pytest.mark.parametrize("resolver", ["ares", "native"])
def test_one_name_reaches_both_replicas(
    federation: Federation, pg_dsn: str, hosts_namespace: list[str], resolver: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(socket.gaierror):  # the name exists only inside the namespace
        socket.getaddrinfo(NAME, 1)
    config = federation.node_configs[NODE]
    use_postgresql(config, pg_dsn)
    first, first_address = start(config, federation.root / "port-1", listen="127.0.0.1:0")
    port = first_address.rpartition(":")[2]
    outputs: list[str] = []
    try:
        second, _ = start(config, federation.root / "port-2", listen=f"127.0.0.2:{port}")
        try:
            coordinator_config = federation.write_coordinator_config(
                {NODE: f"dns:///{NAME}:{port}"})
            client = subprocess.run(
                [*hosts_namespace, sys.executable, "-m", "tests.node.statestore.dns_client",
                 str(coordinator_config), NODE, str(COUNT)],
                capture_output=True, text=True, timeout=120, cwd=ROOT,
                env={**os.environ, "GRPC_DNS_RESOLVER": resolver},
            )
        finally:
            outputs.append(stop(second))
    finally:
        outputs.insert(0, stop(first))
    assert client.returncode == 0, client.stderr
    result = json.loads(client.stdout)

    assert f"listening on 127.0.0.2:{port}" in outputs[1]
    answered = result["answered"]
    assert len(set(answered)) == COUNT
    seen_by = [set(QUERY_ID.findall(output)) & set(answered) for output in outputs]
    assert seen_by[0].isdisjoint(seen_by[1])  # each request reached one replica
    assert seen_by[0] | seen_by[1] == set(answered)
    assert all(len(ids) >= COUNT // 4 for ids in seen_by), [len(ids) for ids in seen_by]
    # one signed request sent four times at once over the balanced channel: answered once
    assert sorted(result["duplicates"]) == ["answered", "replay", "replay", "replay"]
    node_config = load_node_config(config)
    with read_state(node_config) as conn:
        assert verify_chain(conn) >= COUNT + 4
    # the shared checkpoint file: each replica appended whole lines (one write each, at
    # start and at stop), every one signed and extended by the chain
    checkpoints = checkpoint_file(node_config.database)
    lines = checkpoints.read_text().splitlines()
    assert len(lines) >= 4
    assert node_main(["audit", "verify", "--config", str(config), "--checkpoint",
                      str(checkpoints), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoints"] == len(lines)
