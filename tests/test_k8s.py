"""deploy/k8s/ and compose.replicas.yaml, checked offline (no cluster or engine runs here).

kubernetes-validate checks every manifest strictly against the bundled schemas of the
newest Kubernetes it knows; the rest checks that the pieces fit one another: what the
node config names is mounted, the probes speak grpc.health.v1 through the image, the
replicas are reached through a headless Service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"


def manifests() -> dict[str, dict[str, Any]]:
    docs = [doc for path in sorted(K8S.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_a_broken_manifest_is_caught() -> None:
    """The validation above can fail: a misspelt field is refused."""
    deployment = manifests()["Deployment"]
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(),
                                     strict=True)


def test_two_replicas_behind_a_headless_service_with_health_probes() -> None:
    found = manifests()
    assert set(found) == {"ConfigMap", "Deployment", "Secret", "Service"}
    deployment, service = found["Deployment"], found["Service"]
    assert deployment["spec"]["replicas"] == 2
    assert service["spec"]["clusterIP"] == "None"
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
    (node,) = pod["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        # the image's `health` command: grpc.health.v1 over mutual TLS
        assert node[probe]["exec"]["command"] == ["fedtrade-entrypoint", "health"]
    assert node["resources"]["requests"]["cpu"]
    assert node["resources"]["requests"]["memory"]
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    ports = {p["name"]: p["containerPort"] for p in node["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)


def _mounts(found: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Mount path -> the files it holds, for the node container."""
    pod = found["Deployment"]["spec"]["template"]["spec"]
    secret_files = set(found["Secret"]["stringData"])
    config_files = set(found["ConfigMap"]["data"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    (node,) = pod["containers"]
    (prepare,) = pod["initContainers"]
    assert volumes["secret"]["secret"]["secretName"] == found["Secret"]["metadata"]["name"]
    assert {m["name"] for m in prepare["volumeMounts"]} >= {"secret", "keys"}
    by_volume = {"config": config_files, "keys": secret_files}  # keys: copied by the init
    return {m["mountPath"]: by_volume.get(m["name"], set()) for m in node["volumeMounts"]}


def _paths(config: dict[str, Any]) -> list[str]:
    node, store = config["node"], config["store"]
    paths = [node["signing_key"], *node["tls"].values(), store["dsn_file"],
             config["linkage"]["secret_file"]]
    for section in (config["requesters"], config["trusted_filers"]):
        paths += [key["file"] for entry in section.values() for key in entry["keys"]]
    return paths


def test_every_file_the_node_config_names_is_mounted() -> None:
    found = manifests()
    config = yaml.safe_load(found["ConfigMap"]["data"]["node.yaml"])
    assert config["store"]["backend"] == "postgresql"
    mounts = _mounts(found)
    for path in _paths(config):
        folder, _, name = path.rpartition("/")
        assert name in mounts.get(folder, set()), f"{path} is not mounted"
    assert config["node"]["database"].startswith("/data/")
    assert "/data" in mounts


def test_keys_reach_the_node_as_private_files() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    script = pod["initContainers"][0]["command"][-1]
    assert 'install -m 0600 "$file" /keys/' in script
    keys = next(v for v in pod["volumes"] if v["name"] == "keys")
    assert keys["emptyDir"]["medium"] == "Memory"


def test_compose_variant_runs_two_replicas_on_postgresql() -> None:
    base = yaml.safe_load((ROOT / "compose.yaml").read_text())
    variant = yaml.safe_load((ROOT / "compose.replicas.yaml").read_text())
    services = variant["services"]
    replica = services["marketplace-1b"]
    assert replica["networks"]["default"]["aliases"] == ["marketplace-1"]
    assert replica["volumes"] == base["services"]["marketplace-1"]["volumes"]
    assert replica["image"] == base["services"]["marketplace-1"]["image"]
    for name in ("marketplace-1", "marketplace-1b"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
