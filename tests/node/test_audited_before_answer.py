"""Every answer that leaves a node was audited first: by the time a reply reaches the
caller, its audit entry is committed (read through a fresh read-only connection), chained
to the entry before it and names the digest of exactly the payload the caller got."""

from __future__ import annotations

import sqlite3

import pytest

from fedtrade.coordinator.verify import verify_answer
from fedtrade.node.audit import verify_chain
from fedtrade.protocol.wire import PAYLOAD_ANSWER, digest, envelope_from_proto
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope
from tests.conftest import (
    LiveFederation,
    describe_request,
    query_request,
    screen_request,
    signed_query,
)

NODE = "carrier-1"


def _committed(live: LiveFederation, query_id: bytes) -> tuple[str, str, int, int]:
    """(decision, answer digest, its seq, the newest seq) as committed, the chain checked."""
    path = live.nodes[NODE].state.store.path
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert verify_chain(conn) >= 1
        decision, answer_digest, seq = conn.execute(
            "SELECT decision, answer_digest, seq FROM audit_log WHERE query_id = ?",
            (query_id.hex(),)).fetchone()
        (newest,) = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        return decision, answer_digest, seq, newest
    finally:
        conn.close()


@pytest.mark.parametrize("call", ["Query", "Describe", "Screen"])
def test_an_answer_arrives_only_after_its_chained_audit_entry_is_committed(
    live: LiveFederation, call: str
) -> None:
    stub = live.nodes[NODE].stub()
    for _ in range(3):  # each answer after the one before it, each entry after its own
        if call == "Describe":
            request = signed_query(live.coordinator_key, audience=NODE, query_name="describe",
                                   params={}, attestations=[])
        else:
            request = signed_query(live.coordinator_key, audience=NODE)
        if call == "Query":
            replies = [stub.Query(query_request(request), timeout=10).envelope]
        elif call == "Describe":
            replies = [stub.Describe(describe_request(request), timeout=10).envelope]
        else:
            replies = [r.envelope for r in stub.Screen(screen_request(request), timeout=10)]
        last: Envelope = envelope_from_proto(replies[-1])
        query_id = _query_id(request)
        decision, answer_digest, seq, newest = _committed(live, query_id)
        assert (decision, answer_digest, seq) == ("answered", digest(last.payload).hex(), newest)
        if call != "Screen":  # the whole envelope arrived: it verifies and binds the request
            answer = verify_answer(last, request=request, node_id=NODE,
                                   node_key=live.coordinator.config.node(NODE).public_key)
            assert answer.query_id == query_id
            assert last.payload_type == PAYLOAD_ANSWER


def _query_id(request: Envelope) -> bytes:
    return query_pb2.Query.FromString(request.payload).query_id

