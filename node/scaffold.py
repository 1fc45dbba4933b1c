"""`fedtrade-node init`: a new node's folder, keys and commented trust config.

One layout serves a node on a host and in a container (mounted as /config, /keys,
/data), because every path in the config is relative to the config's folder::

    OUT/config/node.yaml         the trust config
    OUT/config/ca.crt            the federation CA certificate
    OUT/config/REQUESTER.pub     the coordinator's public key (sent by its operator)
    OUT/keys/ID.key, ID.pub      the node's Ed25519 signing key pair (private: mode 0600)
    OUT/keys/ID.tls.key          its TLS key (mode 0600), and ID.tls.crt or ID.tls.csr
    OUT/keys/linkage.secret      the federation's linkage secret (sent by another node)
    OUT/data/                    the store, created on first start

The config grants the coordinator what its screening asks (``shipment_indicators``
and ``consignee_daily_totals`` with every field the role computes).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.trust.errors import KeyFileError
from fedtrade.trust.ids import ROLES, is_valid_id, parse_address
from fedtrade.trust.keys import SigningKey, generate_keypair
from fedtrade.trust.pki import CA_CERT_FILE, issue_certificate, write_csr

__all__ = ["SCREENING_QUERIES", "Scaffold", "init_node"]

# What `fedtrade screen` sends to every node (describe needs no grant).
SCREENING_QUERIES = ("shipment_indicators", "consignee_daily_totals")
_PURPOSES = "[TARGETING, INVESTIGATION]"


@dataclass(frozen=True)
class Scaffold:
    node_id: str
    role: str
    listen: str
    config: Path
    signing_key: Path
    public_key: Path
    key_id: str
    tls_key: Path
    tls_cert: Path | None  # None: a request was written instead
    tls_csr: Path | None
    ca_cert: Path  # copied here with --ca, else still to be copied here
    requester_key: Path  # the coordinator's public key, to be copied here
    linkage_secret: Path  # to be copied here
    filer_keys: tuple[Path, ...] = ()  # trusted filers' public keys, to be copied here

    def missing(self) -> list[Path]:
        """Files the config names that the operator still has to put in place."""
        wanted = [self.ca_cert, self.requester_key, self.linkage_secret,
                  self.tls_key.with_name(f"{self.node_id}.tls.crt"), *self.filer_keys]
        return [path for path in wanted if not path.exists()]


def _grants(role: str) -> str:
    lines = []
    for name in SCREENING_QUERIES:
        spec = CATALOGUE[name]
        if role not in spec.roles:
            continue
        fields = ", ".join(spec.fields_for(role))
        lines += [f"      {name}:", f"        purposes: {_PURPOSES}", f"        fields: [{fields}]"]
    return "\n".join(lines)


def _filers_text(filers: tuple[str, ...]) -> str:
    if not filers:
        return ""
    entries = "".join(f"  {filer}:\n    keys:\n      - file: {filer}.pub\n" for filer in filers)
    return f"""
# Filers (carrier or broker nodes) whose signed manifest blocks (fedtrade-node attest) this
# node answers for: a question about a house bill outside their blocks is refused. Each
# filer's public signing key file comes from its operator.
trusted_filers:
{entries}"""


def _config_text(node_id: str, role: str, listen: str, requester: str,
                 filers: tuple[str, ...]) -> str:
    return f"""\
# Trust config of the fedtrade {role} node {node_id}, written by `fedtrade-node init`.
# Check it with:  fedtrade-node config check node.yaml
# Relative paths are relative to this file's folder, so the same folder works on a host
# and mounted in a container (config -> /config, keys -> /keys, data -> /data).
# A running node applies an edit within seconds if it raises `version`; write the new
# file next to this one and rename it over it (atomic replace).

# Revision of this config; raise it on every edit.
version: 1

# Who this node is. These keys need a restart to change.
node:
  # This node's id; queries must name it as their audience, its TLS certificate names it.
  id: {node_id}
  # Which store and queries this node has: marketplace, carrier or broker.
  role: {role}
  # host:port to listen on. Give the coordinator a fixed address (host name or IP and
  # port) reachable from it; every node on one host needs its own port (50051, 50052, ...).
  listen: {listen}
  # The node's Ed25519 private key (mode 0600), used to sign every answer.
  signing_key: ../keys/{node_id}.key
  # The node's SQLite store: its own data, the audit log and seen query ids.
  database: ../data/{node_id}.db
  # Mutual TLS: only certificates from the federation CA may connect.
  tls:
    # This node's certificate, naming its id (fedtrade pki issue).
    cert: ../keys/{node_id}.tls.crt
    # Its private key (mode 0600).
    key: ../keys/{node_id}.tls.key
    # The federation CA certificate.
    ca: {CA_CERT_FILE}

# How long a signed query stays acceptable.
freshness:
  # Longest lifetime (expires_at - issued_at) accepted for a signed query.
  max_ttl_seconds: 300
  # Clock difference tolerated between requester and node.
  clock_skew_seconds: 30

# Whom this node answers. Anything not listed here is refused.
requesters:
  # The coordinator's requester id, as signed into each query.
  {requester}:
    # Public keys that sign this requester's queries (several during a key rotation).
    keys:
      # The coordinator's public key file (from its operator). Optional per key:
      # not_before / not_after (dates, UTC) bound its validity; revoked: true refuses it.
      - file: {requester}.pub
    # Queries this requester may run: what `fedtrade screen` asks (describe needs no grant).
    queries:
{_grants(role)}

# Cross-node linkage of consignees (pseudonymous tokens).
linkage:
  # The federation's shared linkage secret (hex, mode 0600), the same file at every
  # node; never given to the coordinator.
  secret_file: ../keys/linkage.secret
{_filers_text(filers)}"""


def init_node(
    out: Path, node_id: str, role: str, *, listen: str, requester: str, ca_dir: Path | None,
    filers: tuple[str, ...] = (),
) -> Scaffold:
    """Create OUT/{config,keys,data}: keys, a TLS certificate (or request) and the config.

    Refuses to touch a folder that already holds a node.yaml or any of the key files.
    """
    if role not in ROLES:
        raise KeyFileError(f"role {role!r} is not one of {', '.join(ROLES)}")
    for what, value in (("node id", node_id), ("requester id", requester),
                        *(("filer id", filer) for filer in filers)):
        if not is_valid_id(value):
            raise KeyFileError(f"{value!r} is not a valid {what}: use 1-63 lowercase letters, "
                               "digits, '.', '_' or '-'")
    try:
        parse_address(listen)
    except ValueError as exc:
        raise KeyFileError(f"--listen {listen}: {exc}") from None
    config_dir, keys, data = out / "config", out / "keys", out / "data"
    config = config_dir / "node.yaml"
    if config.exists():
        raise KeyFileError(f"{config} already exists; refusing to overwrite it: choose "
                           "another --out folder")
    # config holds only public files and is mounted read-only for the node's user
    for folder, mode in ((config_dir, 0o755), (keys, 0o700), (data, 0o700)):
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
    if ca_dir is not None:  # checked before any key is written
        ca_source = ca_dir / CA_CERT_FILE
        if not ca_source.is_file():
            raise KeyFileError(f"{ca_source}: CA certificate not found; give the folder "
                               "`fedtrade pki init` wrote")
    private, public = generate_keypair(keys, node_id)
    ca_cert = config_dir / CA_CERT_FILE
    tls_cert: Path | None = None
    tls_csr: Path | None = None
    if ca_dir is not None:
        issued = issue_certificate(ca_dir, node_id, keys)
        tls_key, tls_cert = issued.key, issued.cert
        shutil.copyfile(ca_dir / CA_CERT_FILE, ca_cert)
        ca_cert.chmod(0o644)
    else:
        tls_key, tls_csr = write_csr(node_id, keys)
    config.write_text(_config_text(node_id, role, listen, requester, filers))
    return Scaffold(
        node_id=node_id, role=role, listen=listen, config=config, signing_key=private,
        public_key=public, key_id=SigningKey.from_file(private).key_id, tls_key=tls_key,
        tls_cert=tls_cert, tls_csr=tls_csr, ca_cert=ca_cert,
        requester_key=config_dir / f"{requester}.pub",
        linkage_secret=keys / "linkage.secret",
        filer_keys=tuple(config_dir / f"{filer}.pub" for filer in filers),
    )
