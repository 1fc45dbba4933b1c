"""deploy/k8s/ and compose.replicas.yaml, checked offline (no cluster or engine runs here).

kubernetes-validate checks every manifest strictly against the bundled schemas of the
newest Kubernetes it knows; the rest checks that the pieces fit one another: what the
node config names is mounted, the probes speak grpc.health.v1 through the image, the
replicas are reached through a headless Service.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from fedtrade.node.config import load_node_config
from fedtrade.node.scaffold import init_node
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.keys import generate_keypair, write_secret_file
from fedtrade.trust.linkage import generate_linkage_secret
from fedtrade.trust.pki import init_ca, issue_certificate

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
    assert set(found) == {"ConfigMap", "Deployment", "Job", "PersistentVolumeClaim", "Secret",
                          "Service"}
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


def _mounts(found: dict[str, dict[str, Any]], kind: str) -> dict[str, set[str]]:
    """Mount path -> the files it holds, for the node container of the Deployment or Job."""
    pod = found[kind]["spec"]["template"]["spec"]
    secret_files = set(found["Secret"]["stringData"])
    config_files = set(found["ConfigMap"]["data"])
    volumes = {v["name"]: v for v in pod["volumes"]}
    (node,) = pod["containers"]
    (prepare,) = pod["initContainers"]
    assert volumes["secret"]["secret"]["secretName"] == found["Secret"]["metadata"]["name"]
    assert volumes["config"]["configMap"]["name"] == found["ConfigMap"]["metadata"]["name"]
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


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_every_file_the_node_config_names_is_mounted(kind: str) -> None:
    found = manifests()
    config = yaml.safe_load(found["ConfigMap"]["data"]["node.yaml"])
    mounts = _mounts(found, kind)
    for path in _paths(config):
        folder, _, name = path.rpartition("/")
        assert name in mounts.get(folder, set()), f"{path} is not mounted"
    assert config["node"]["database"].startswith("/data/")
    assert "/data" in mounts


def _volume(pod: dict[str, Any], mount_path: str) -> dict[str, Any]:
    (container,) = pod["containers"]
    (name,) = (m["name"] for m in container["volumeMounts"] if m["mountPath"] == mount_path)
    volume: dict[str, Any] = next(v for v in pod["volumes"] if v["name"] == name)
    return volume


def test_replicas_are_stateless_and_the_import_job_publishes_to_postgresql() -> None:
    """The replicas read the data from PostgreSQL: no claim, no data copy; the import
    keeps its SQLite store on a claim of its own, since PostgreSQL mirrors it whole."""
    found = manifests()
    config = yaml.safe_load(found["ConfigMap"]["data"]["node.yaml"])
    assert config["store"] == {"backend": "postgresql", "dsn_file": "/keys/pg.dsn",
                               "data": "postgresql"}
    replica = found["Deployment"]["spec"]["template"]["spec"]
    assert all("persistentVolumeClaim" not in v for v in replica["volumes"])
    assert "emptyDir" in _volume(replica, "/data")
    (prepare,) = replica["initContainers"]
    assert {m["name"] for m in prepare["volumeMounts"]} == {"secret", "keys"}  # no data copy
    job = found["Job"]["spec"]
    (importer,) = job["template"]["spec"]["containers"]
    assert importer["args"][:4] == ["fedtrade-node", "import", "--config", "/config/node.yaml"]
    assert importer["args"][4] in {m["mountPath"] for m in importer["volumeMounts"]}
    store = _volume(job["template"]["spec"], "/data")["persistentVolumeClaim"]
    claim = found["PersistentVolumeClaim"]
    assert store["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    selector = found["Service"]["spec"]["selector"].items()
    assert not selector <= job["template"]["metadata"]["labels"].items()  # not a replica
    assert job["template"]["spec"]["initContainers"] == replica["initContainers"]


def _materialise(node_yaml: str, root: Path) -> Path:
    """Write the config under ``root`` with every file it names made for real, as the
    federation's tools make them (keygen, pki, linkage secret, a 0600 DSN file)."""
    text = node_yaml
    for mount in ("/keys/", "/config/", "/data/"):
        text = text.replace(f" {mount}", f" {root}{mount}")
    config = yaml.safe_load(text)
    work = root / "work"
    ca = init_ca(work / "ca").cert
    tls = issue_certificate(work / "ca", config["node"]["id"], work)

    makers: dict[str, Callable[[Path], object]] = {
        ".key": lambda path: generate_keypair(path.parent, path.stem),  # and its .pub
        ".pub": lambda path: generate_keypair(path.parent, path.stem),
        ".crt": lambda path: shutil.copyfile(ca if path.name == "ca.crt" else tls.cert, path),
        ".secret": generate_linkage_secret,
        ".dsn": lambda path: write_secret_file(
            path, b"postgresql://fedtrade:secret@postgres.fedtrade.svc:5432/fedtrade\n", "DSN"),
    }
    for name in _paths(config):
        path = Path(name)
        assert path.is_relative_to(root), f"{name} is outside the pod's mounts"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path == Path(config["node"]["tls"]["key"]):
            write_secret_file(path, tls.key.read_bytes(), "TLS key")
        else:
            makers[path.suffix](path)
    out = root / "node.yaml"
    out.write_text(text)
    return out


def test_the_node_config_in_the_configmap_loads(tmp_path: Path) -> None:
    """A pod would start with it: the node's own loader accepts it, files and grants."""
    node_yaml = manifests()["ConfigMap"]["data"]["node.yaml"]
    config = load_node_config(_materialise(node_yaml, tmp_path))
    assert config.store.data == "postgresql"  # the replicas need no data file
    assert config.tls is not None
    marketplace = yaml.safe_load((ROOT / "configs" / "marketplace.yaml").read_text())
    embedded = yaml.safe_load(node_yaml)
    for section in ("privacy", "bands", "disclosure"):
        assert embedded.get(section, marketplace.get(section)) == marketplace.get(section)
    wanted = marketplace["requesters"]["cbp-coordinator"]["queries"]
    assert embedded["requesters"]["cbp-coordinator"]["queries"] == wanted
    assert set(config.requesters["cbp-coordinator"].grants) == set(wanted)


def test_a_config_the_node_refuses_is_caught(tmp_path: Path) -> None:
    """The load above can fail: a grant of a field outside the catalogue is refused."""
    node_yaml = manifests()["ConfigMap"]["data"]["node.yaml"]
    broken = node_yaml.replace("fields: [kyc_verified,", "fields: [verified,", 1)
    assert broken != node_yaml
    with pytest.raises(ConfigError, match="verified"):
        load_node_config(_materialise(broken, tmp_path))


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_keys_reach_the_node_as_private_files(kind: str) -> None:
    pod = manifests()[kind]["spec"]["template"]["spec"]
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
    # postgres:15 unless replaced (scripts/container-test builds one: no registry here)
    assert services["postgres"]["image"] == (
        "${FEDTRADE_POSTGRES_IMAGE:-docker.io/library/postgres:15}")


def test_compose_variant_config_loads(tmp_path: Path) -> None:
    """The store section the README's replica commands append to `fedtrade-node init`'s
    config is valid, and the DSN file they write names the compose database."""
    steps = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_block.py"), str(ROOT / "README.md"),
         "replicas"], capture_output=True, text=True, check=True, timeout=30).stdout.splitlines()
    (append,) = [s for s in steps if s.endswith(">> deploy/marketplace-1/config/node.yaml")]
    (appended,) = re.findall(r"printf '([^']*)'", append)
    (dsn,) = [s for s in steps if s.endswith("> deploy/marketplace-1/keys/pg.dsn")]
    assert "@postgres:5432/fedtrade" in dsn  # the compose service and POSTGRES_DB
    out = tmp_path / "marketplace-1"
    init_ca(tmp_path / "ca")
    init_node(out, "marketplace-1", "marketplace", listen="0.0.0.0:50051",
              requester="cbp-coordinator", ca_dir=tmp_path / "ca")
    generate_keypair(tmp_path, "cbp-coordinator")
    shutil.copyfile(tmp_path / "cbp-coordinator.pub", out / "config" / "cbp-coordinator.pub")
    generate_linkage_secret(out / "keys" / "linkage.secret")
    write_secret_file(out / "keys" / "pg.dsn", b"postgresql://fedtrade:pw@postgres:5432/fedtrade",
                      "DSN")
    config_path = out / "config" / "node.yaml"
    with config_path.open("a") as config_file:  # the container's /keys is OUT/keys here
        config_file.write(appended.replace("\\n", "\n").replace(" /keys/", f" {out}/keys/"))
    config = load_node_config(config_path)
    assert (config.store.backend, config.store.data) == ("postgresql", "postgresql")
