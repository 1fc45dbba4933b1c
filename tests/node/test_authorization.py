"""Per-requester authorization from the trust config: fields, batch size, rate limits, reload."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from fedtrade.node.cli import main as node_main
from fedtrade.node.reload import ConfigWatcher
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import table_value
from fedtrade.protos import query_pb2
from fedtrade.sim.federation import COORDINATOR_ID, Federation
from fedtrade.trust.keys import SigningKey
from tests.conftest import (
    CONTEXT,
    LiveFederation,
    attest,
    live_federation,
    query_request,
    signed_query,
    start_node,
    wait_for,
)

CARRIER = "carrier-1"


def edit_config(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def requester(config: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = config["requesters"][COORDINATOR_ID]
    return result


@pytest.mark.parametrize(
    ("fields", "columns"),
    [
        (["screened"], ("house_bill", "known", "screened")),
        # a grant whose 'fields' line is missing (a cut-off edit) must not widen to all fields
        (None, ("house_bill", "known")),
    ],
    ids=["listed", "missing"],
)
def test_granted_fields_limit_the_answer(
    federation: Federation, fields: list[str] | None, columns: tuple[str, ...]
) -> None:
    path = federation.node_configs[CARRIER]

    def grant(config: dict[str, Any]) -> None:
        security = requester(config)["queries"]["security_profile"]
        security.pop("fields")
        if fields is not None:
            security["fields"] = fields

    edit_config(path, grant)
    node = start_node(path)
    try:
        key = federation.root / "keys" / "cbp-coordinator.key"
        envelope = signed_query(
            SigningKey.from_file(key),
            audience=CARRIER,
            query_name="security_profile",
            params={"shipments": table_value({"house_bill": ["HB0001"]})},
            attestations=attest(federation.filer_key(), federation.filer_id,
                                [{"house_bill": "HB0001"}]),
        )
        reply = node.stub().Query(query_request(envelope), timeout=10)
        answer = query_pb2.Answer.FromString(reply.envelope.payload)
        assert decode_table(answer.table).names == columns
    finally:
        node.stop()


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        (
            {"purposes": ["TARGETING"], "fields": ["kyc_verified"]},
            "is not an output of security_profile",
        ),
        ({"purposes": ["TARGETING"], "fields": ["no_such_field"]}, "is not an output"),
        ({"purposes": []}, "at least one purpose"),
    ],
)
def test_config_check_rejects_impossible_grants(
    federation: Federation,
    grant: dict[str, Any],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = federation.node_configs[CARRIER]
    edit_config(path, lambda c: requester(c)["queries"].update(security_profile=grant))
    assert node_main(["config", "check", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_field_of_another_role_is_rejected(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    path = federation.node_configs[CARRIER]
    edit_config(
        path,
        lambda c: requester(c)["queries"].update(
            list_hits={"purposes": ["TARGETING"], "fields": ["recall_hit"]}
        ),
    )
    assert node_main(["config", "check", str(path)]) == 1
    assert "'recall_hit' is not computed by a carrier node" in capsys.readouterr().err


def test_query_of_another_role_is_rejected(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    path = federation.node_configs[CARRIER]
    edit_config(
        path, lambda c: requester(c)["queries"].update(seller_profile={"purposes": ["TARGETING"]})
    )
    assert node_main(["config", "check", str(path)]) == 1
    assert "not by a carrier node" in capsys.readouterr().err


@pytest.fixture
def limited(federation: Federation) -> Iterator[LiveFederation]:
    def limits(config: dict[str, Any]) -> None:
        requester(config)["rate_limit"] = {"queries_per_minute": 3, "shipments_per_minute": 50}
        requester(config)["max_batch"] = 20

    for path in federation.node_configs.values():
        edit_config(path, limits)
    yield from live_federation(federation)


def test_batch_over_max_batch_is_refused(limited: LiveFederation) -> None:
    batch = table_value({"house_bill": [f"HB{i:06d}" for i in range(21)]})
    envelope = signed_query(
        limited.coordinator_key,
        audience=CARRIER,
        query_name="security_profile",
        params={"shipments": batch},
    )
    with pytest.raises(grpc.RpcError) as caught:
        limited.nodes[CARRIER].stub().Query(query_request(envelope), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_batch of 20" in (caught.value.details() or "")


def test_rate_limit_refuses_with_retry_hint(limited: LiveFederation) -> None:
    stub = limited.nodes[CARRIER].stub()
    for _ in range(3):
        envelope = signed_query(limited.coordinator_key, audience=CARRIER)
        stub.Query(query_request(envelope), timeout=10)
    envelope = signed_query(limited.coordinator_key, audience=CARRIER)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Query(query_request(envelope), timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry in" in (error.details() or "")
    assert isinstance(error, grpc.Call)
    trailers = {m.key: m.value for m in error.trailing_metadata() or ()}
    assert float(trailers["retry-after-ms"]) > 0


def test_shipment_rate_limit(limited: LiveFederation) -> None:
    batch = table_value({"house_bill": [f"HB{i:06d}" for i in range(20)]})
    stub = limited.nodes[CARRIER].stub()
    for _ in range(2):
        envelope = signed_query(
            limited.coordinator_key,
            audience=CARRIER,
            query_name="security_profile",
            params={"shipments": batch},
        )
        stub.Query(query_request(envelope), timeout=10)
    envelope = signed_query(
        limited.coordinator_key,
        audience=CARRIER,
        query_name="security_profile",
        params={"shipments": batch},
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.Query(query_request(envelope), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "50 shipments per minute" in (caught.value.details() or "")



def test_edited_config_applies_without_restart_and_broken_edit_is_refused(
    live: LiveFederation, caplog: pytest.LogCaptureFixture
) -> None:
    node = live.nodes[CARRIER]
    path = node.state.config.path
    watcher = ConfigWatcher(node.state, interval=0.05)
    watcher.start()
    try:

        def granted() -> set[str]:
            answer = live.coordinator.ask(CARRIER, "describe", {}, CONTEXT).answer
            return {q.name for q in answer.catalogue.queries}

        assert "security_profile" in granted()

        def drop(config: dict[str, Any]) -> None:
            config["version"] = 2
            del requester(config)["queries"]["security_profile"]

        edit_config(path, drop)
        assert wait_for(lambda: node.state.config.version == 2)
        assert "security_profile" not in granted()
        envelope = signed_query(
            live.coordinator_key,
            audience=CARRIER,
            query_name="security_profile",
            params={"shipments": table_value({"house_bill": ["HB0001"]})},
        )
        with pytest.raises(grpc.RpcError) as caught:
            node.stub().Query(query_request(envelope), timeout=10)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

        with caplog.at_level(logging.ERROR, logger="fedtrade.node.reload"):
            path.write_text(path.read_text() + "version: 3\n")  # duplicate key: broken
            assert wait_for(lambda: "config change refused" in caplog.text)
        assert "duplicate key 'version'" in caplog.text
        assert node.state.config.version == 2
        assert "security_profile" not in granted()  # version 2 still in force and answering
        assert "shipment_known" in granted()
    finally:
        watcher.stop()
