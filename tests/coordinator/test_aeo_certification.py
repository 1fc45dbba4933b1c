"""Nodes present AEO certificates in Describe; the coordinator checks them itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fedtrade.coordinator.aeo import certify_nodes
from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import load_node_config
from fedtrade.protocol.aeo import (
    AeoAuthority,
    append_to_register,
    read_register,
    revoke_certificate,
)
from fedtrade.protocol.catalogue import DESCRIBE
from fedtrade.sim.aeo import AUTHORITY_ID, REGISTER, add_coordinator_aeo, certify_node
from fedtrade.sim.federation import Federation
from fedtrade.trust.errors import ConfigError
from fedtrade.trust.keys import SigningKey, generate_keypair
from tests.conftest import CONTEXT, LiveFederation, live_federation


def _coordinator(live: LiveFederation) -> Coordinator:
    add_coordinator_aeo(live.federation)
    return Coordinator(load_coordinator_config(live.federation.coordinator_config))


@pytest.fixture
def certified(federation: Federation) -> Iterator[LiveFederation]:
    """carrier-1 gold, broker-1 with an expired certificate, marketplace-1 none."""
    certify_node(federation, "carrier-1", "gold")
    past = datetime.now(UTC) - timedelta(days=30)
    certify_node(federation, "broker-1", "silver", valid_from=past - timedelta(days=365),
                 valid_until=past)
    yield from live_federation(federation)


def test_describe_presents_the_current_certificate_and_the_coordinator_checks_it(
    certified: LiveFederation,
) -> None:
    coordinator = _coordinator(certified)
    try:
        answer = coordinator.ask("carrier-1", DESCRIBE, {}, CONTEXT)
        assert answer.answer.catalogue.HasField("aeo_certificate")
        # an expired certificate is not presented at all
        broker = coordinator.ask("broker-1", DESCRIBE, {}, CONTEXT)
        assert not broker.answer.catalogue.HasField("aeo_certificate")
        result = certify_nodes(coordinator, CONTEXT)
    finally:
        coordinator.close()
    assert result["carrier-1"].tier == "gold"
    assert result["carrier-1"].certificate is not None
    assert result["carrier-1"].certificate.legal_name == "Carrier-1 Ltd"
    assert result["broker-1"].tier is None
    assert result["broker-1"].problem == "presents no AEO certificate"
    assert result["marketplace-1"].problem == "presents no AEO certificate"


def test_the_coordinator_honours_revocation_and_expiry_itself(certified: LiveFederation) -> None:
    """The node still presents its certificate (its copy of the register is older); the
    coordinator reads the revocation in its own register, and checks expiry at its own clock."""
    fed = certified.federation
    key = SigningKey.from_file(fed.root / "keys" / f"{AUTHORITY_ID}.key")
    authority = AeoAuthority(AUTHORITY_ID, key.public_key)
    register = read_register(fed.root / REGISTER, authority)
    carrier = next(c for c in register.certificates if c.node_id == "carrier-1")
    append_to_register(fed.root / REGISTER, authority, revoke_certificate(
        key, carrier, reason="manifest data withheld", revoked_at=datetime.now(UTC)))
    coordinator = _coordinator(certified)
    try:
        revoked = certify_nodes(coordinator, CONTEXT)["carrier-1"]
        later = certify_nodes(coordinator, CONTEXT, at=datetime.now(UTC) - timedelta(days=2))
    finally:
        coordinator.close()
    assert revoked.tier is None
    assert "revoked on" in revoked.problem
    assert "manifest data withheld" in revoked.problem
    # two days ago the certificate was not yet valid (issued valid from one day ago)
    assert "not valid before" in later["carrier-1"].problem


def test_a_node_refuses_to_load_a_certificate_issued_to_another_node(
    federation: Federation,
) -> None:
    certify_node(federation, "carrier-1", "gold")
    certify_node(federation, "broker-1", "gold")
    config = federation.node_configs["broker-1"]
    text = config.read_text().replace("aeo/broker-1.cert.jsonl", "aeo/carrier-1.cert.jsonl")
    config.write_text(text)
    with pytest.raises(ConfigError, match="certifies carrier node 'carrier-1', not this broker"):
        load_node_config(config)


def test_a_node_refuses_a_certificate_of_an_authority_it_does_not_list(
    federation: Federation,
) -> None:
    certify_node(federation, "carrier-1", "gold")
    generate_keypair(federation.root / "keys", "other")
    config = federation.node_configs["carrier-1"]
    config.write_text(config.read_text().replace(f"keys/{AUTHORITY_ID}.pub", "keys/other.pub"))
    with pytest.raises(ConfigError, match=r"aeo.certificate.*not signed by the AEO authority"):
        load_node_config(config)


def test_config_check_warns_before_the_certificate_expires(
    federation: Federation, capsys: pytest.CaptureFixture[str],
) -> None:
    certify_node(federation, "carrier-1", "gold",
                 valid_until=datetime.now(UTC) + timedelta(days=10))
    assert node_main(["config", "check", str(federation.node_configs["carrier-1"])]) == 0
    assert "AEO certificate expires on" in capsys.readouterr().err
