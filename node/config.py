"""A node's trust config: who the node is and whom it answers, loaded strictly."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path

from fedtrade.node.aeo import NodeAeo, load_node_aeo
from fedtrade.node.enumeration import AlarmSettings
from fedtrade.node.queries.settings import DisclosureControls, PrivacySettings, QuerySettings
from fedtrade.protocol.catalogue import CATALOGUE
from fedtrade.protocol.currency import load_currency_rates
from fedtrade.protocol.limits import DEFAULT_MESSAGE_BYTES, LARGE_REQUEST_BYTES, MAX_MESSAGE_BYTES
from fedtrade.trust.errors import ConfigError, KeyFileError
from fedtrade.trust.ids import ROLES, is_valid_id, parse_address
from fedtrade.trust.keys import PublicKey, load_public_key, read_secret_file
from fedtrade.trust.linkage import load_linkage_secret
from fedtrade.trust.pki import TlsMaterial, load_tls_section
from fedtrade.trust.yamlconfig import ConfigMapping, load_yaml

__all__ = [
    "Approval",
    "Freshness",
    "Intake",
    "NodeConfig",
    "QueryGrant",
    "RateLimit",
    "Requester",
    "RequesterKey",
    "StoreSettings",
    "check_unchanged",
    "load_node_config",
]

_PURPOSE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
# DataSHIELD's minimum cell size; fedtrade's default is 10 and a config may not go below this.
_LOWEST_MIN_CELL = 3


@dataclass(frozen=True)
class QueryGrant:
    """One query a requester may run: for which purposes, and which output fields it sees."""

    name: str
    purposes: frozenset[str]
    fields: tuple[str, ...]
    # Privacy loss of one answer to an aggregate query; None for other queries.
    epsilon: float | None = None


@dataclass(frozen=True)
class RequesterKey:
    key: PublicKey
    not_before: datetime | None
    not_after: datetime | None
    revoked: bool

    def problem_at(self, now: datetime) -> str | None:
        """Why this key may not sign at ``now``, or None when it may."""
        if self.revoked:
            return "is revoked in this node's trust config"
        if self.not_before is not None and now < self.not_before:
            return f"is not valid before {self.not_before.isoformat()}"
        if self.not_after is not None and now > self.not_after:
            return f"expired on {self.not_after.isoformat()}"
        return None


@dataclass(frozen=True)
class RateLimit:
    queries_per_minute: int
    shipments_per_minute: int


@dataclass(frozen=True)
class Approval:
    """Four eyes: queries or purposes that need ``required`` distinct approvers to co-sign."""

    required: int
    approvers: Mapping[str, PublicKey]  # key id -> key; each key counts once
    queries: frozenset[str]
    purposes: frozenset[str]

    def applies(self, query_name: str, purpose: str) -> bool:
        return query_name in self.queries or purpose in self.purposes


@dataclass(frozen=True)
class Requester:
    id: str
    keys: tuple[RequesterKey, ...]
    grants: Mapping[str, QueryGrant]
    rate_limit: RateLimit
    max_batch: int
    # certificate names (DNS SANs) that may carry this requester's queries over mutual TLS
    tls_identities: frozenset[str]
    # Privacy budget per period at this node (aggregate queries); None: privacy.budget_epsilon.
    budget_epsilon: float | None = None
    approval: Approval | None = None


@dataclass(frozen=True)
class Freshness:
    max_ttl_seconds: int
    clock_skew_seconds: int


@dataclass(frozen=True)
class Intake:
    """What the node receives before authenticating it (fixed while the server runs)."""

    # largest request message; gRPC refuses a larger one with RESOURCE_EXHAUSTED
    max_message_bytes: int
    # requests over LARGE_REQUEST_BYTES handled at once; the next is refused
    max_large_requests: int


@dataclass(frozen=True)
class StoreSettings:
    """Where the node keeps its request state (``node.statestore``): SQLite next to the data
    (the default) or PostgreSQL, shared by replicas. The DSN is a secret read from a file.
    ``data``: where the queries read the data from, the SQLite file (default) or the same
    PostgreSQL database (``node.store.pgdata``; PostgreSQL state only)."""

    backend: str = "sqlite"
    dsn_file: Path | None = None
    dsn: str = field(default="", repr=False)
    data: str = "sqlite"


@dataclass(frozen=True)
class NodeConfig:
    path: Path
    version: int
    node_id: str
    role: str
    listen: str
    signing_key: Path
    database: Path
    intake: Intake
    freshness: Freshness
    requesters: Mapping[str, Requester]
    settings: QuerySettings
    # mutual TLS material (reloaded with the config, so renewed certificates apply)
    tls: TlsMaterial | None
    # filer id -> keys whose manifest attestations this node answers for
    trusted_filers: Mapping[str, tuple[RequesterKey, ...]]
    alarm: AlarmSettings
    # the AEO certificate this node presents in Describe (node.aeo), if any
    aeo: NodeAeo | None = None
    store: StoreSettings = StoreSettings()

    @cached_property
    def requester_keys(self) -> dict[str, tuple[Requester, RequesterKey]]:
        """Every listed key id with its requester, revoked and expired ones included."""
        return {k.key.key_id: (r, k) for r in self.requesters.values() for k in r.keys}

    @cached_property
    def filer_keys(self) -> dict[str, tuple[str, RequesterKey]]:
        """Every listed filer key id with its filer id, revoked and expired ones included."""
        return {k.key.key_id: (f, k) for f, keys in self.trusted_filers.items() for k in keys}

    def restart_fields(self) -> tuple[object, ...]:
        """What a running node cannot change by reloading its config."""
        return (self.node_id, self.role, self.listen, self.signing_key, self.database,
                self.intake, self.tls is None, self.store)


def _identifier(section: ConfigMapping, key: str) -> str:
    value = section.text(key)
    if not is_valid_id(value):
        raise section.error(
            f"{value!r} is not a valid id: use 1-63 lowercase letters, digits, '.', '_' or '-'", key
        )
    return value


def _requester_keys(section: ConfigMapping) -> tuple[RequesterKey, ...]:
    keys = []
    for entry in section.mapping_list("keys"):
        try:
            key = load_public_key(entry.path("file"))
        except KeyFileError as exc:
            raise entry.error(str(exc), "file") from exc
        not_before, not_after = entry.moment("not_before"), entry.moment("not_after")
        if not_before and not_after and not_after <= not_before:
            raise entry.error("not_after must be later than not_before", "not_after")
        keys.append(RequesterKey(key, not_before, not_after, entry.flag("revoked", False)))
        entry.finish()
    if not keys:
        raise section.error("list at least one public key", "keys")
    return tuple(keys)


def _epsilon(section: ConfigMapping, key: str) -> float:
    """A privacy loss: a number > 0 (0 would mean no answer; negative means nothing)."""
    value = section.number(key, max=100.0)
    if not value > 0:
        raise section.error(f"{key} must be greater than 0 (typical: 0.1 to 1)", key)
    return value


def _grant(name: str, grant: ConfigMapping, role: str) -> QueryGrant:
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
    purposes = grant.text_list("purposes")
    if not purposes:
        raise grant.error("list at least one purpose code", "purposes")
    for purpose in purposes:
        if not _PURPOSE.match(purpose):
            raise grant.error(
                f"purpose code {purpose!r} must be 2-32 uppercase letters, digits or '_'",
                "purposes",
            )
    available = spec.fields_for(role)
    # No 'fields' grants no fields: a grant cut short by a half-written edit must not widen.
    fields = grant.text_list("fields", [])
    for field_name in fields:
        if field_name not in available:
            other = field_name in spec.output_fields
            raise grant.error(
                f"field {field_name!r} "
                + (f"is not computed by a {role} node" if other else f"is not an output of {name}")
                + f"; {role} nodes answer {name} with: {', '.join(available) or 'no fields'}",
                "fields",
            )
    epsilon = None
    if grant.has("epsilon"):
        if spec.disclosure != "aggregate":
            raise grant.error(f"{name!r} is not an aggregate query: epsilon applies only to "
                              "differentially private aggregates; remove it", "epsilon")
        epsilon = _epsilon(grant, "epsilon")
    grant.finish()
    # keep catalogue order, so answers have stable columns
    return QueryGrant(name, frozenset(purposes), tuple(f for f in available if f in fields),
                      epsilon)


def _check_privacy(queries: ConfigMapping, requester: Requester,
                   privacy: PrivacySettings | None) -> None:
    """Aggregate grants need the privacy section; each grant's epsilon must fit the budget."""
    for grant in requester.grants.values():
        if CATALOGUE[grant.name].disclosure != "aggregate":
            continue
        if privacy is None:
            raise queries.error(
                f"{grant.name!r} is an aggregate query, released under differential privacy: "
                "add a privacy section (unit, bounds, epsilon_per_query, budget_epsilon, "
                "period_days, delta; see configs/broker.yaml)", grant.name)
        epsilon = grant.epsilon or privacy.epsilon_per_query
        budget = requester.budget_epsilon or privacy.budget_epsilon
        if epsilon > budget:
            raise queries.error(
                f"epsilon {epsilon:g} exceeds the budget of {budget:g} per period, so the query "
                "could never be answered; lower epsilon or raise budget_epsilon", grant.name)


def _tls_identities(requester_id: str, section: ConfigMapping) -> frozenset[str]:
    # Without the key, only a certificate naming the requester id itself may speak for it.
    names = section.text_list("tls_identities", [requester_id])
    if not names:
        raise section.error(
            "list at least one certificate name, or leave the key out to accept only a "
            f"certificate naming {requester_id!r}", "tls_identities")
    for name in names:
        if not is_valid_id(name):
            raise section.error(
                f"{name[:64]!r} is not a certificate name fedtrade issues: use the id given to "
                "`fedtrade pki issue --name`", "tls_identities")
    return frozenset(names)


def _approval(section: ConfigMapping | None) -> Approval | None:
    if section is None:
        return None
    approvers: dict[str, PublicKey] = {}
    for entry in section.mapping_list("approvers"):
        try:
            key = load_public_key(entry.path("file"))
        except KeyFileError as exc:
            raise entry.error(str(exc), "file") from exc
        entry.finish()
        approvers[key.key_id] = key
    if not approvers:
        raise section.error("list the approvers' public keys", "approvers")
    queries = frozenset(section.text_list("queries", []))
    purposes = frozenset(section.text_list("purposes", []))
    if not queries and not purposes:
        raise section.error("name the queries or the purposes that need approval", "queries")
    unknown = sorted(queries - set(CATALOGUE))
    if unknown:
        raise section.error(f"unknown query {unknown[0][:64]!r}", "queries")
    required = section.integer("required", min=1, max=len(approvers))
    section.finish()
    return Approval(required, approvers, queries, purposes)


def _requester(requester_id: str, section: ConfigMapping, role: str,
               privacy: PrivacySettings | None) -> Requester:
    if not is_valid_id(requester_id):
        raise section.error(f"{requester_id!r} is not a valid requester id")
    keys = _requester_keys(section)
    limits = section.optional_mapping("rate_limit")
    rate = RateLimit(
        queries_per_minute=limits.integer("queries_per_minute", 600, min=1) if limits else 600,
        shipments_per_minute=(
            limits.integer("shipments_per_minute", 6_000_000, min=1) if limits else 6_000_000
        ),
    )
    if limits:
        limits.finish()
    queries = section.mapping("queries")
    grants = {name: _grant(name, g, role) for name, g in queries.items()}
    requester = Requester(
        requester_id, keys, grants, rate, section.integer("max_batch", 10_000, min=1, max=100_000),
        _tls_identities(requester_id, section),
        _epsilon(section, "budget_epsilon") if section.has("budget_epsilon") else None,
        _approval(section.optional_mapping("approval")),
    )
    _check_privacy(queries, requester, privacy)
    section.finish()
    return requester


def _edges(
    section: ConfigMapping | None, key: str, default: tuple[float, ...]
) -> tuple[float, ...]:
    if section is None or not section.has(key):
        return default
    edges = section.number_list(key)
    if not edges or any(b <= a for a, b in itertools.pairwise(edges)) or edges[0] <= 0:
        raise section.error("band edges must be positive and strictly increasing", key)
    return tuple(edges)


def _disclosure(section: ConfigMapping | None) -> DisclosureControls:
    defaults = DisclosureControls()
    if section is None:
        return defaults
    if section.has("dominance"):
        raise section.error(
            "dominance rules are gone: they decide on true values, which leaks across queries; "
            "aggregates are protected by differential privacy now (see the privacy section) — "
            "remove this key", "dominance")
    min_cell = section.integer(
        "min_cell_shipments", defaults.min_cell_shipments, min=_LOWEST_MIN_CELL
    )
    controls = DisclosureControls(
        min_cell_shipments=min_cell,
        min_consignee_shipments=section.integer(
            "min_consignee_shipments", defaults.min_consignee_shipments, min=2
        ),
        consignee_value_step_usd=section.number(
            "consignee_value_step_usd", defaults.consignee_value_step_usd, min=1.0
        ),
    )
    section.finish()
    return controls


def _privacy(section: ConfigMapping | None) -> PrivacySettings | None:
    if section is None:
        return None
    bounds = section.mapping("bounds")
    privacy = PrivacySettings(
        unit=section.choice("unit", ("shipment", "party")),
        shipments_per_unit=bounds.integer("shipments_per_party", min=1, max=10_000),
        cells_per_shipment=bounds.integer("cells_per_shipment", min=1, max=100),
        value_cents_per_shipment=round(
            100 * bounds.number("value_usd_per_shipment", min=0.01, max=1e9)),
        epsilon_per_query=_epsilon(section, "epsilon_per_query"),
        budget_epsilon=_epsilon(section, "budget_epsilon"),
        period_days=section.integer("period_days", min=1, max=3660),
        delta=section.number("delta", min=1e-15, max=1e-3),
    )
    bounds.finish()
    section.finish()
    return privacy


def _settings(root: ConfigMapping) -> QuerySettings:
    defaults = QuerySettings()
    bands = root.optional_mapping("bands")
    settings = QuerySettings(
        currency_per_usd=load_currency_rates(root),
        value_ratio_bands=_edges(bands, "value_ratio", defaults.value_ratio_bands),
        account_age_days=tuple(
            int(d) for d in _edges(bands, "account_age_days", defaults.account_age_days)
        ),
        linked_suspended=tuple(
            int(d) for d in _edges(bands, "linked_suspended", defaults.linked_suspended)
        ),
        disclosure=_disclosure(root.optional_mapping("disclosure")),
        privacy=_privacy(root.optional_mapping("privacy")),
        linkage_secret=None,
    )
    if bands:
        bands.finish()
    matching = root.optional_mapping("matching")
    if matching is not None:
        threshold = matching.number("name_threshold", min=0.5, max=1.0)
        matching.finish()
        settings = replace(settings, name_match_threshold=threshold)
    linkage = root.optional_mapping("linkage")
    if linkage is not None:
        try:
            secret = load_linkage_secret(linkage.path("secret_file"))
        except KeyFileError as exc:
            raise linkage.error(str(exc), "secret_file") from exc
        transit = linkage.integer("transit_days", settings.transit_days, min=0, max=30)
        linkage.finish()
        settings = replace(settings, linkage_secret=secret, transit_days=transit)
    return settings


def _trusted_filers(root: ConfigMapping) -> dict[str, tuple[RequesterKey, ...]]:
    section = root.optional_mapping("trusted_filers")
    if section is None:
        return {}
    filers = {}
    for filer_id, entry in section.items():
        if not is_valid_id(filer_id):
            raise entry.error(f"{filer_id!r} is not a valid filer (node) id")
        filers[filer_id] = _requester_keys(entry)
        entry.finish()
    return filers


def _alarm(root: ConfigMapping) -> AlarmSettings:
    section = root.optional_mapping("enumeration_alarm")
    defaults = AlarmSettings()
    if section is None:
        return defaults
    alarm = AlarmSettings(
        window_seconds=section.integer("window_seconds", defaults.window_seconds, min=1),
        min_shipments=section.integer("min_shipments", defaults.min_shipments, min=1),
        max_unknown_share=section.number(
            "max_unknown_share", defaults.max_unknown_share, min=0.0, max=1.0),
        throttle_seconds=section.integer("throttle_seconds", defaults.throttle_seconds, min=1),
    )
    section.finish()
    return alarm


_DSN_HINT = ("write one libpq connection string (postgresql://user:password@host:port/db or "
             "'host=... dbname=... user=... password=...') into the file, mode 0600")


def _store(root: ConfigMapping) -> StoreSettings:
    section = root.optional_mapping("store")
    if section is None:
        return StoreSettings()
    backend = section.choice("backend", ("sqlite", "postgresql"))
    dsn_file = section.path("dsn_file", None)
    data = section.choice("data", ("sqlite", "postgresql"), "sqlite")
    section.finish()
    if backend == "sqlite":
        if dsn_file is not None:
            raise section.error("dsn_file is for backend postgresql; remove it (SQLite keeps "
                                "its state in node.database)", "dsn_file")
        if data != "sqlite":
            raise section.error("data: postgresql needs backend: postgresql (the data goes "
                                "into the state store's database); set both, or remove data",
                                "data")
        return StoreSettings()
    if dsn_file is None:
        raise section.error(f"backend postgresql needs dsn_file: {_DSN_HINT}", "dsn_file")
    try:
        raw = read_secret_file(dsn_file, "PostgreSQL DSN", hint=_DSN_HINT)
        dsn = raw.decode("utf-8").strip()
    except KeyFileError as exc:
        raise section.error(str(exc), "dsn_file") from exc
    except UnicodeDecodeError:
        raise section.error(f"{dsn_file} is not UTF-8 text; {_DSN_HINT}", "dsn_file") from None
    # only a PostgreSQL node pays for importing psycopg
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        if not dsn:
            raise ProgrammingError
        conninfo_to_dict(dsn)
    except ProgrammingError:
        # libpq's message quotes the string, which may hold a password: never echo it
        raise section.error(f"{dsn_file} does not hold a valid PostgreSQL connection string; "
                            f"{_DSN_HINT}", "dsn_file") from None
    return StoreSettings("postgresql", dsn_file, dsn, data)


def load_node_config(path: Path) -> NodeConfig:
    """Load and validate a node trust config; raises ConfigError naming file, line and key."""
    root = load_yaml(path)
    version = root.integer("version", min=1, max=2**53)
    node = root.mapping("node")
    node_id = _identifier(node, "id")
    role = node.choice("role", ROLES)
    listen = node.text("listen")
    try:
        parse_address(listen)
    except ValueError as exc:
        raise node.error(str(exc), "listen") from None
    signing_key = node.path("signing_key")
    database = node.path("database")
    intake = Intake(
        max_message_bytes=node.integer("max_message_bytes", DEFAULT_MESSAGE_BYTES,
                                       min=LARGE_REQUEST_BYTES, max=MAX_MESSAGE_BYTES),
        max_large_requests=node.integer("max_large_requests", 2, min=1, max=16),
    )
    tls = load_tls_section(node.optional_mapping("tls"))
    node.finish()

    fresh = root.mapping("freshness")
    freshness = Freshness(
        max_ttl_seconds=fresh.integer("max_ttl_seconds", min=1, max=3600),
        clock_skew_seconds=fresh.integer("clock_skew_seconds", min=0, max=300),
    )
    fresh.finish()

    settings = _settings(root)
    requesters: dict[str, Requester] = {}
    owner_of_key: dict[str, str] = {}
    for requester_id, section in root.mapping("requesters").items():
        requester = _requester(requester_id, section, role, settings.privacy)
        for entry in requester.keys:
            owner = owner_of_key.setdefault(entry.key.key_id, requester_id)
            if owner != requester_id:
                raise section.error(
                    f"key {entry.key.key_id[:16]}… is already listed for requester {owner!r}; "
                    "a key belongs to one requester",
                    "keys",
                )
        requesters[requester_id] = requester
    for requester_id, section in root.mapping("requesters").items():
        approval = requesters[requester_id].approval
        for key_id in approval.approvers if approval else ():
            if key_id in owner_of_key:
                raise section.error(
                    f"approver key {key_id[:16]}… is also a key of requester "
                    f"{owner_of_key[key_id]!r}; an approver signs with a key of its own",
                    "approval")
    trusted_filers = _trusted_filers(root)
    alarm = _alarm(root)
    aeo = load_node_aeo(root.optional_mapping("aeo"), node_id, role)
    store = _store(root)
    root.finish()
    return NodeConfig(
        path=path,
        version=version,
        node_id=node_id,
        role=role,
        listen=listen,
        signing_key=signing_key,
        database=database,
        intake=intake,
        freshness=freshness,
        requesters=requesters,
        settings=settings,
        tls=tls,
        trusted_filers=trusted_filers,
        alarm=alarm,
        aeo=aeo,
        store=store,
    )


def check_unchanged(old: NodeConfig, new: NodeConfig) -> None:
    """Refuse a reload that does not raise the version or changes what needs a restart."""
    if new.version <= old.version:
        raise ConfigError(
            f"version {new.version} is not higher than version {old.version} in force; "
            "raise 'version' when the edit is complete (and replace the file in one rename) "
            "to apply it",
            path=new.path,
            key="version",
        )
    if old.restart_fields() != new.restart_fields():
        raise ConfigError(
            "node.id, node.role, node.listen, node.signing_key, node.database, "
            "node.max_message_bytes, node.max_large_requests, whether node.tls is set and "
            "the store section "
            "cannot change while the node runs; restore them, or restart the node to apply them",
            path=new.path,
        )
