"""Manifest-bound questions against real nodes over mutual TLS: what a curious requester tries."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.params import parse_params
from fedtrade.node.attestation import verify_attestations
from fedtrade.node.config import RequesterKey
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import table_value
from fedtrade.protos import attestation_pb2, query_pb2
from fedtrade.sim.federation import Federation
from fedtrade.trust.envelope import Envelope, Signature, sign
from fedtrade.trust.errors import AttestationError, MalformedRequestError, RemoteError
from fedtrade.trust.keys import SigningKey
from tests.conftest import (
    CONTEXT,
    LiveFederation,
    World,
    attest,
    live_federation,
    query_request,
    signed_query,
    start_node,
)
from tests.node.test_authorization import edit_config, requester
from tests.node.test_query_protocol import audit_rows

MARKET, CARRIER = "marketplace-1", "carrier-1"


def ask(live: LiveFederation, node: str, blocks: list[Envelope], query: str,
        params: dict[str, Any], query_id: bytes | None = None) -> query_pb2.Answer:
    envelope = signed_query(live.coordinator_key, audience=node, query_name=query,
                            params=params, attestations=blocks, query_id=query_id)
    reply = live.nodes[node].stub().Query(query_request(envelope), timeout=30)
    return query_pb2.Answer.FromString(reply.envelope.payload)


def refusal(live: LiveFederation, node: str, blocks: list[Envelope], query: str,
            params: dict[str, Any], query_id: bytes | None = None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        ask(live, node, blocks, query, params, query_id)
    return caught.value


def batch(*bills: str) -> dict[str, Any]:
    return {"shipments": table_value({"house_bill": list(bills)})}


def held_line(world: World) -> dict[str, str]:
    """A manifest line the marketplace holds (it answers value_check for it)."""
    return world.manifest()[0]


def test_bisection_on_value_and_hs_code_gains_nothing(
    live_world: LiveFederation, world: World
) -> None:
    row = held_line(world)
    line = {k: row[k] for k in ("house_bill", "declared_value", "currency", "hs6")}
    genuine = live_world.attest([line])
    answers = [
        decode_table(ask(live_world, MARKET, genuine, "shipment_indicators",
                         batch(row["house_bill"])).table).columns
        for _ in range(3)
    ]
    assert answers[0]["known"] == [True]
    assert answers[0]["declared_paid_ratio_band"] != [None]
    assert answers[1] == answers[0] == answers[2]  # asking again teaches nothing new
    # typed reference values are refused, at the client and at the node
    with pytest.raises(MalformedRequestError, match="give house bills only"):
        parse_params("value_check", [f"shipments={row['house_bill']}:1.00:610910"])
    typed = {"shipments": table_value({"house_bill": [row["house_bill"]],
                                       "declared_value_usd": [1.0]})}
    error = refusal(live_world, MARKET, genuine, "value_check", typed)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    # the requester's own "attestation" of other values is refused, whatever the value
    for value, hs6 in (("1", "010101"), ("500", "610910"), ("99999", "999999")):
        forged = attest(live_world.coordinator_key, "carrier-1",
                        [{**line, "declared_value": value, "hs6": hs6}])
        error = refusal(live_world, MARKET, forged, "shipment_indicators",
                        batch(row["house_bill"]))
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "not signed by any trusted key" in (error.details() or "")


def test_a_guessed_house_bill_is_refused_and_audited(live: LiveFederation) -> None:
    blocks = live.attest([{"house_bill": "HB0001"}])
    error = refusal(live, MARKET, blocks, "shipment_known", {"house_bills": ["HB0001", "HB0002"]})
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "in no attestation" in (error.details() or "")
    assert "HB0002" in (error.details() or "")
    (entry,) = audit_rows(live, MARKET)
    assert entry[1] == "refused"
    assert "AttestationError" in entry[2]
    assert "HB0002" in entry[2]
    # without any attestation, nothing is answered either
    error = refusal(live, MARKET, [], "shipment_known", {"house_bills": ["HB0001"]})
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def _resigned(block: Envelope, key: SigningKey,
              change: Any = None) -> Envelope:
    message = attestation_pb2.ManifestBlock.FromString(block.payload)
    if change is not None:
        change(message)
    return sign(block.payload_type, message.SerializeToString(), [key])


def test_untrusted_tampered_moved_and_expired_attestations_are_refused(
    live: LiveFederation,
) -> None:
    bills = {"house_bills": ["HB0001"]}
    good = live.attest([{"house_bill": "HB0001"}])
    assert ask(live, MARKET, good, "shipment_known", bills).table.row_count == 1
    outsider = SigningKey.generate()
    cases: dict[str, list[Envelope]] = {
        "untrusted filer": [_resigned(good[0], outsider)],
        "tampered line": [Envelope(good[0].payload_type,
                                   good[0].payload.replace(b"610910", b"610911"),
                                   good[0].signatures)],
        "expired": live.attest([{"house_bill": "HB0001"}],
                               valid_from=datetime.now(UTC) - timedelta(hours=3)),
        "not yet valid": live.attest([{"house_bill": "HB0001"}],
                                     valid_from=datetime.now(UTC) + timedelta(hours=3)),
    }
    # a line moved from block A into block B: B's signature no longer covers it
    pair = live.attest([{"house_bill": "HB0001"}, {"house_bill": "HB0002"}], block_lines=1)
    moved = attestation_pb2.ManifestBlock.FromString(pair[1].payload)
    moved.lines.append(attestation_pb2.ManifestBlock.FromString(pair[0].payload).lines[0])
    cases["line moved between blocks"] = [
        Envelope(pair[1].payload_type, moved.SerializeToString(), pair[1].signatures)]
    reasons = {}
    for name, blocks in cases.items():
        error = refusal(live, MARKET, blocks, "shipment_known", bills)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED, name
        reasons[name] = error.details() or ""
    assert "not signed by any trusted key" in reasons["untrusted filer"]
    assert "signature" in reasons["tampered line"]
    assert "expired" in reasons["expired"]
    assert "not valid before" in reasons["not yet valid"]
    assert "signature" in reasons["line moved between blocks"]
    # and the line's own block only covers it: asking about HB0001 with block B is refused
    error = refusal(live, MARKET, [pair[1]], "shipment_known", bills)
    assert "in no attestation" in (error.details() or "")
    refused = [row for row in audit_rows(live, MARKET) if row[1] == "refused"]
    assert len(refused) == len(cases) + 1


def test_tokens_of_two_questions_never_match(live_world: LiveFederation, world: World) -> None:
    rows = world.manifest()
    days = sorted(r["arrival_date"] for r in rows)
    bills = [r["house_bill"] for r in rows]
    blocks = live_world.attest([{"house_bill": b} for b in bills])

    def tokens(query_id: bytes, attested: list[Envelope]) -> set[str]:
        params = {"date_from": days[0], "date_to": days[-1], "house_bills": bills}
        answer = ask(live_world, CARRIER, attested, "consignee_daily_totals", params, query_id)
        values = decode_table(answer.table).columns["value_usd"]
        assert all(float(v) % 50 == 0 for v in values)  # type: ignore[arg-type]
        return {str(t) for t in decode_table(answer.table).columns["consignee_token"]}

    reused = os.urandom(16)
    first = tokens(reused, blocks)
    assert first
    assert not first & tokens(os.urandom(16), blocks)
    # the same query id again, after the first question expired, is refused: never re-keyed
    error = refusal(live_world, CARRIER, blocks, "consignee_daily_totals",
                    {"date_from": days[0], "date_to": days[-1], "house_bills": bills}, reused)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in (error.details() or "")
    # the same bills under other blocks (re-attested) key other tokens
    assert not first & tokens(os.urandom(16), live_world.attest([{"house_bill": b} for b in bills]))


@pytest.fixture
def tight(federation: Federation) -> Iterator[LiveFederation]:
    def limits(config: dict[str, Any]) -> None:
        requester(config)["rate_limit"] = {"queries_per_minute": 3, "shipments_per_minute": 50}

    for path in federation.node_configs.values():
        edit_config(path, limits)
    yield from live_federation(federation)


def test_describe_and_refusals_count_and_limits_survive_a_restart(tight: LiveFederation) -> None:
    node = tight.nodes[MARKET]
    # a refused question counts: no attestation
    with pytest.raises(grpc.RpcError):
        node.stub().Query(query_request(signed_query(
            tight.coordinator_key, audience=MARKET, attestations=[])), timeout=10)
    for _ in range(2):
        tight.coordinator.ask(MARKET, "describe", {}, CONTEXT)
    with pytest.raises(RemoteError, match="RESOURCE_EXHAUSTED"):
        tight.coordinator.ask(MARKET, "describe", {}, CONTEXT)
    path = tight.federation.node_configs[MARKET]
    node.stop()
    restarted = start_node(path)
    tight.nodes[MARKET] = restarted
    tight.federation.write_coordinator_config(
        {n: running.address for n, running in tight.nodes.items()})
    try:
        with pytest.raises(grpc.RpcError) as caught:
            restarted.stub().Query(query_request(signed_query(
                tight.coordinator_key, audience=MARKET)), timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        restarted.stop()
        tight.nodes.pop(MARKET)


def test_enumeration_alarm_throttles_with_a_log_line(
    federation: Federation, caplog: pytest.LogCaptureFixture
) -> None:
    def alarm(config: dict[str, Any]) -> None:
        config["enumeration_alarm"] = {"window_seconds": 600, "min_shipments": 20,
                                       "max_unknown_share": 0.5, "throttle_seconds": 600}

    edit_config(federation.node_configs[CARRIER], alarm)
    node = start_node(federation.node_configs[CARRIER])
    try:
        key = SigningKey.from_file(federation.root / "keys" / "cbp-coordinator.key")
        bills = [f"HB{i:06d}" for i in range(25)]  # attested, but this node holds none
        blocks = attest(federation.filer_key(), federation.filer_id,
                        [{"house_bill": b} for b in bills])
        with caplog.at_level(logging.WARNING, logger="fedtrade.node.alarms"):
            node.stub().Query(query_request(signed_query(
                key, audience=CARRIER, params={"house_bills": bills}, attestations=blocks)),
                timeout=10)
        (record,) = [r for r in caplog.records if r.name == "fedtrade.node.alarms"]
        assert record.__dict__["event"] == "enumeration_alarm"
        assert record.__dict__["not_known"] == 25
        with pytest.raises(grpc.RpcError) as caught:
            node.stub().Query(query_request(signed_query(
                key, audience=CARRIER, params={"house_bills": bills[:1]},
                attestations=blocks)), timeout=10)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "enumeration alarm" in (caught.value.details() or "")
    finally:
        node.stop()


_FILER_KEY = SigningKey.generate()
_TRUSTED = {_FILER_KEY.key_id: ("carrier-1", RequesterKey(_FILER_KEY.public_key, None, None,
                                                         False))}
_OWN = ("marketplace-1", SigningKey.generate().public_key)
_LINES = st.lists(
    st.fixed_dictionaries({
        "house_bill": st.from_regex(HOUSE_BILL, fullmatch=True),
        "declared_value": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
        "hs6": st.from_regex(HS6, fullmatch=True),
    }),
    min_size=1, max_size=12, unique_by=lambda line: line["house_bill"],
)


@settings(max_examples=150, deadline=None)
@given(lines=_LINES, where=st.data())
def test_any_tampering_with_a_block_is_detected(lines: list[dict[str, str]],
                                                where: st.DataObject) -> None:
    (block,) = attest(_FILER_KEY, "carrier-1", lines, block_lines=len(lines))
    now = datetime.now(UTC).timestamp()
    verified = verify_attestations([block], _TRUSTED, _OWN, now, 30)
    assert set(verified.lines) == {line["house_bill"] for line in lines}
    payload = bytearray(block.payload)
    # drawn independently of the length (timestamps make it vary by a byte between runs)
    index = where.draw(st.integers(0, 2**20)) % len(payload)
    payload[index] ^= 1 << where.draw(st.integers(0, 7))
    tampered = Envelope(block.payload_type, bytes(payload), block.signatures)
    with pytest.raises(AttestationError):
        verify_attestations([tampered], _TRUSTED, _OWN, now, 30)
    signature = bytearray(block.signatures[0].sig)
    signature[where.draw(st.integers(0, 63))] ^= 1
    forged = Envelope(block.payload_type, block.payload,
                      (Signature(block.signatures[0].key_id, bytes(signature)),))
    with pytest.raises(AttestationError):
        verify_attestations([forged], _TRUSTED, _OWN, now, 30)


def test_consignee_totals_without_bills_are_about_every_attested_line(
    live_world: LiveFederation, world: World
) -> None:
    rows = world.manifest()
    days = sorted(r["arrival_date"] for r in rows)
    bills = [r["house_bill"] for r in rows]
    blocks = live_world.attest([{"house_bill": b} for b in bills])
    window = {"date_from": days[0], "date_to": days[-1], "window_days": 3}

    def groups(params: dict[str, Any]) -> set[tuple[object, ...]]:
        answer = ask(live_world, CARRIER, blocks, "consignee_daily_totals", params)
        table = decode_table(answer.table)
        return {(day, n, usd, tuple(listed)) for _, day, n, usd, listed in table.rows()}  # type: ignore[arg-type]

    named = groups({**window, "house_bills": bills})
    assert named
    assert groups(window) == named


def test_consignee_totals_without_bills_are_charged_every_attested_line(
    tight: LiveFederation,
) -> None:
    blocks = tight.attest([{"house_bill": f"HB{i:06d}"} for i in range(60)])
    error = refusal(tight, CARRIER, blocks, "consignee_daily_totals",
                    {"date_from": "2025-03-01", "date_to": "2025-03-02"})
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # 60 lines, 50 a minute
    assert "shipments" in (error.details() or "")
    assert audit_rows(tight, CARRIER)[-1][1] == "refused"
