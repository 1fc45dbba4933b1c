"""The signed-query protocol against real gRPC servers on loopback."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.verify import verify_answer, verify_chunk_chain
from fedtrade.node.pipeline import CHUNK_ROWS
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import envelope_from_proto
from fedtrade.trust.envelope import Envelope, Signature
from fedtrade.trust.errors import VerificationError
from fedtrade.trust.keys import SigningKey
from tests.conftest import (
    CONTEXT,
    LiveFederation,
    describe_request,
    query_request,
    screen_request,
    signed_query,
)

MARKET = "marketplace-1"


def audit_rows(live: LiveFederation, node_id: str) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(live.nodes[node_id].state.store.path)
    try:
        return conn.execute(
            "SELECT query_id, decision, reason FROM audit_log ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


def call(live: LiveFederation, node_id: str, envelope: Envelope) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        live.nodes[node_id].stub().Query(query_request(envelope), timeout=10)
    return caught.value


def test_valid_query_is_answered_with_a_signed_bound_answer(live: LiveFederation) -> None:
    result = live.coordinator.ask(
        MARKET, "shipment_known", {"house_bills": ["HB0001", "HB0002"]}, CONTEXT,
        attestations=live.attest([{"house_bill": "HB0001"}, {"house_bill": "HB0002"}]),
    )
    table = decode_table(result.answer.table)
    assert table.names == ("house_bill", "known")
    assert list(table.rows()) == [("HB0001", False), ("HB0002", False)]
    assert result.answer.node_id == MARKET
    (entry,) = audit_rows(live, MARKET)
    assert entry[:2] == (result.query.query_id.hex(), "answered")


def test_answer_verifies_against_the_node_key_and_not_another(live: LiveFederation) -> None:
    request = signed_query(live.coordinator_key, audience=MARKET)
    reply = envelope_from_proto(live.nodes[MARKET].stub().Query(query_request(request)).envelope)
    node_key = live.coordinator.config.node(MARKET).public_key
    verify_answer(reply, request=request, node_id=MARKET, node_key=node_key)
    other_request = signed_query(live.coordinator_key, audience=MARKET)
    with pytest.raises(VerificationError, match="another request"):
        verify_answer(reply, request=other_request, node_id=MARKET, node_key=node_key)
    with pytest.raises(VerificationError):
        verify_answer(
            reply, request=request, node_id=MARKET, node_key=SigningKey.generate().public_key
        )


def test_describe_lists_exactly_the_granted_queries(live: LiveFederation) -> None:
    result = live.coordinator.ask(MARKET, "describe", {}, CONTEXT)
    catalogue = result.answer.catalogue
    granted = live.nodes[MARKET].state.config.requesters["cbp-coordinator"].grants
    assert catalogue.role == "marketplace"
    assert [q.name for q in catalogue.queries] == sorted(granted)
    seller = next(q for q in catalogue.queries if q.name == "seller_profile")
    assert list(seller.purposes) == ["INVESTIGATION", "TARGETING"]
    assert [p.name for p in seller.parameters] == ["shipments"]
    assert list(seller.output_fields)[:3] == ["house_bill", "known", "kyc_verified"]
    assert seller.max_batch == 10_000
    assert "security_profile" not in granted  # a carrier query is never granted here


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_flipped_byte_anywhere_is_refused(live: LiveFederation, data: st.DataObject) -> None:
    good = signed_query(live.coordinator_key, audience=MARKET)
    sig = good.signatures[0]
    target = data.draw(st.sampled_from(["payload", "sig"]))
    blob = good.payload if target == "payload" else sig.sig
    position = data.draw(st.integers(0, 4095)) % len(blob)  # the payload size varies a little
    flipped = bytearray(blob)
    flipped[position] ^= data.draw(st.integers(1, 255))
    if target == "payload":
        bad = Envelope(good.payload_type, bytes(flipped), good.signatures)
    else:
        bad = Envelope(good.payload_type, good.payload, (Signature(sig.key_id, bytes(flipped)),))
    error = call(live, MARKET, bad)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("change", "code", "reason"),
    [
        ({"audience": "carrier-1"}, grpc.StatusCode.PERMISSION_DENIED, "addressed to"),
        (
            {"issued": -timedelta(minutes=10)},
            grpc.StatusCode.UNAUTHENTICATED,
            "expired",
        ),
        (
            {"issued": timedelta(minutes=5)},
            grpc.StatusCode.UNAUTHENTICATED,
            "not valid yet",
        ),
        ({"ttl": timedelta(hours=2)}, grpc.StatusCode.UNAUTHENTICATED, "at most 300 s"),
        ({"requester": "someone-else"}, grpc.StatusCode.UNAUTHENTICATED, "claims requester"),
        ({"purpose": "MARKETING"}, grpc.StatusCode.PERMISSION_DENIED, "purpose"),
        ({"query_name": "no_such_query"}, grpc.StatusCode.PERMISSION_DENIED, "may not run"),
        (
            {"params": {"house_bills": ["bad bill!"]}},
            grpc.StatusCode.INVALID_ARGUMENT,
            "does not match",
        ),
        ({"params": {"house_bills": []}}, grpc.StatusCode.INVALID_ARGUMENT, "1 to"),
        ({"query_id": b"short"}, grpc.StatusCode.INVALID_ARGUMENT, "16 random bytes"),
    ],
)
def test_refusals_carry_status_and_reason_and_are_audited(
    live: LiveFederation, change: dict[str, object], code: grpc.StatusCode, reason: str
) -> None:
    if isinstance(change.get("issued"), timedelta):  # relative to now, not to collection time
        change = {**change, "issued": datetime.now(UTC) + change["issued"]}  # type: ignore[operator]
    envelope = signed_query(live.coordinator_key, **{"audience": MARKET, **change})  # type: ignore[arg-type]
    error = call(live, MARKET, envelope)
    assert error.code() == code
    assert reason in (error.details() or "")
    (entry,) = audit_rows(live, MARKET)
    assert entry[1] == "refused"
    assert reason in entry[2]


def test_unknown_key_is_refused_and_audited_in_aggregate(live: LiveFederation) -> None:
    for _ in range(3):
        error = call(live, MARKET, signed_query(SigningKey.generate(), audience=MARKET))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "trust config" in (error.details() or "")
    assert audit_rows(live, MARKET) == []  # counted, not written one row per request
    live.nodes[MARKET].state.flush_refusals()
    (entry,) = audit_rows(live, MARKET)
    assert entry[1] == "refused"
    assert entry[2].startswith(
        "3 request(s) refused before authentication from ipv4:127.0.0.1 between ")


def test_replay_is_refused_and_audited(live: LiveFederation) -> None:
    envelope = signed_query(live.coordinator_key, audience=MARKET)
    stub = live.nodes[MARKET].stub()
    stub.Query(query_request(envelope), timeout=10)
    error = call(live, MARKET, envelope)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in (error.details() or "")
    assert [row[1] for row in audit_rows(live, MARKET)] == ["answered", "refused"]


def test_describe_rpc_refuses_other_queries(live: LiveFederation) -> None:
    envelope = signed_query(live.coordinator_key, audience=MARKET)
    with pytest.raises(grpc.RpcError) as caught:
        live.nodes[MARKET].stub().Describe(describe_request(envelope), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_screen_streams_a_verifiable_chunk_chain(live: LiveFederation) -> None:
    bills = [f"HB{i:06d}" for i in range(CHUNK_ROWS * 2 + 5)]
    chunks = live.coordinator.screen("carrier-1", "shipment_known", {"house_bills": bills}, CONTEXT,
                                     attestations=live.attest([{"house_bill": b} for b in bills]))
    assert [c.sequence for c in chunks] == [0, 1, 2]
    assert chunks[-1].last
    assert not chunks[0].last
    rows = [bill for c in chunks for bill in decode_table(c.table).columns["house_bill"]]
    assert rows == bills


def test_screen_detects_dropped_reordered_and_foreign_chunks(live: LiveFederation) -> None:
    bills = [f"HB{i:06d}" for i in range(CHUNK_ROWS * 2 + 5)]
    request = signed_query(
        live.coordinator_key, audience="carrier-1", params={"house_bills": bills}
    )
    replies = [
        envelope_from_proto(e.envelope)
        for e in live.nodes["carrier-1"].stub().Screen(screen_request(request), timeout=10)
    ]
    key = live.coordinator.config.node("carrier-1").public_key

    def check(responses: list[Envelope], req: Envelope = request) -> None:
        verify_chunk_chain(responses, request=req, node_id="carrier-1", node_key=key)

    check(replies)
    with pytest.raises(VerificationError, match="truncated"):
        check(replies[:-1])
    with pytest.raises(VerificationError, match="out of order"):
        check([replies[0], replies[2], replies[1]])
    with pytest.raises(VerificationError, match="out of order"):
        check([replies[0], replies[2]])
    with pytest.raises(VerificationError, match="another request"):
        check(replies, signed_query(live.coordinator_key, audience="carrier-1"))
