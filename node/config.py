"""A node's trust config: who the node is and whom it answers, loaded strictly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from node.catalogue import CATALOGUE
from trust.errors import KeyFileError
from trust.keys import PublicKey, load_public_key
from trust.strictyaml import ConfigMapping, load_yaml

__all__ = [
    "ROLES",
    "Freshness",
    "NodeConfig",
    "QueryGrant",
    "Requester",
    "load_node_config",
    "parse_address",
]

ROLES = ("marketplace", "carrier", "broker")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_PURPOSE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")


@dataclass(frozen=True)
class QueryGrant:
    """One query a requester may run, and for which purposes."""

    name: str
    purposes: frozenset[str]


@dataclass(frozen=True)
class Requester:
    id: str
    keys: tuple[PublicKey, ...]
    grants: Mapping[str, QueryGrant]


@dataclass(frozen=True)
class Freshness:
    max_ttl_seconds: int
    clock_skew_seconds: int


@dataclass(frozen=True)
class NodeConfig:
    path: Path
    version: int
    node_id: str
    role: str
    listen: str
    signing_key: Path
    database: Path
    freshness: Freshness
    requesters: Mapping[str, Requester]

    @cached_property
    def trusted_keys(self) -> dict[str, tuple[Requester, PublicKey]]:
        """Every trusted key id with the requester it belongs to."""
        return {key.key_id: (r, key) for r in self.requesters.values() for key in r.keys}


def parse_address(text: str) -> tuple[str, int]:
    """Split ``host:port``; raises ValueError with a readable reason."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port such as 127.0.0.1:50051, got {text!r}")
    return host, int(port)


def _identifier(section: ConfigMapping, key: str) -> str:
    value = section.str(key)
    if not _ID.match(value):
        raise section.error(
            f"{value!r} is not a valid id: use 1-63 lowercase letters, digits, '.', '_' or '-'", key
        )
    return value


def _public_keys(section: ConfigMapping) -> tuple[PublicKey, ...]:
    keys = []
    for entry in section.mapping_list("keys"):
        try:
            keys.append(load_public_key(entry.path("file")))
        except KeyFileError as exc:
            raise entry.error(str(exc), "file") from exc
        entry.finish()
    if not keys:
        raise section.error("list at least one public key", "keys")
    return tuple(keys)


def _grants(section: ConfigMapping, role: str) -> dict[str, QueryGrant]:
    grants = {}
    for name, grant in section.mapping("queries").items():
        spec = CATALOGUE.get(name)
        if spec is None:
            raise grant.error(
                f"unknown query {name!r}; the catalogue has: {', '.join(sorted(CATALOGUE))}"
            )
        if role not in spec.roles:
            raise grant.error(
                f"query {name!r} is answered by {', '.join(sorted(spec.roles))} nodes, "
                f"not by a {role} node; remove it from this config"
            )
        purposes = grant.str_list("purposes")
        for purpose in purposes:
            if not _PURPOSE.match(purpose):
                raise grant.error(
                    f"purpose code {purpose!r} must be 2-32 uppercase letters, digits or '_'",
                    "purposes",
                )
        grant.finish()
        grants[name] = QueryGrant(name=name, purposes=frozenset(purposes))
    return grants


def load_node_config(path: Path) -> NodeConfig:
    """Load and validate a node trust config; raises ConfigError naming file, line and key."""
    root = load_yaml(path)
    version = root.int("version", min=1)
    node = root.mapping("node")
    node_id = _identifier(node, "id")
    role = node.choice("role", ROLES)
    listen = node.str("listen")
    try:
        parse_address(listen)
    except ValueError as exc:
        raise node.error(str(exc), "listen") from None
    signing_key = node.path("signing_key")
    database = node.path("database")
    node.finish()

    fresh = root.mapping("freshness")
    freshness = Freshness(
        max_ttl_seconds=fresh.int("max_ttl_seconds", min=1, max=3600),
        clock_skew_seconds=fresh.int("clock_skew_seconds", min=0, max=300),
    )
    fresh.finish()

    requesters: dict[str, Requester] = {}
    owner_of_key: dict[str, str] = {}
    for requester_id, section in root.mapping("requesters").items():
        if not _ID.match(requester_id):
            raise section.error(f"{requester_id!r} is not a valid requester id")
        keys = _public_keys(section)
        for key in keys:
            if owner_of_key.setdefault(key.key_id, requester_id) != requester_id:
                raise section.error(
                    f"key {key.key_id[:16]}… is already listed for requester "
                    f"{owner_of_key[key.key_id]!r}; a key belongs to one requester",
                    "keys",
                )
        requesters[requester_id] = Requester(
            id=requester_id, keys=keys, grants=_grants(section, role)
        )
        section.finish()
    root.finish()
    return NodeConfig(
        path=path, version=version, node_id=node_id, role=role, listen=listen,
        signing_key=signing_key, database=database, freshness=freshness, requesters=requesters,
    )
