"""The protocol test vectors (tests/vectors/*.json) hold for the Python implementation.

Each vector is re-derived from its inputs: key ids from public keys, PAE bytes
from payload type and payload, signatures verified (and re-made, Ed25519 being
deterministic), digests, the Value of every parameter kind, the answer's
binding and the chunk chain, through the same functions the node and the
coordinator use. The committed files must also equal a fresh build.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from fedtrade.coordinator.verify import verify_answer, verify_chunk_chain
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import (
    PAYLOAD_QUERY,
    envelope_from_proto,
    from_value,
    table_value,
    to_value,
)
from fedtrade.protos import envelope_pb2, node_pb2, query_pb2
from fedtrade.trust.envelope import Envelope, pae, verify
from fedtrade.trust.errors import VerificationError
from fedtrade.trust.keys import PublicKey
from tests.vectors.build import FOLDER, NODE_ID, build, dump, signing_key

Json = dict[str, Any]


def _load(name: str) -> Json:
    content: Json = json.loads((FOLDER / name).read_text(encoding="utf-8"))
    return content


def _key(name: str) -> PublicKey:
    return PublicKey.from_raw(bytes.fromhex(_load("keys.json")["keys"][name]["public_key_hex"]))


def _envelope(vector: Json) -> Envelope:
    message = envelope_pb2.Envelope.FromString(bytes.fromhex(vector["envelope_hex"]))
    return envelope_from_proto(message)


def _check_signed(vector: Json, signer: str) -> Envelope:
    """PAE, digest, key id and signature of one signed vector; returns its envelope."""
    envelope = _envelope(vector)
    payload = bytes.fromhex(vector["payload_hex"])
    assert envelope.payload == payload
    assert envelope.payload_type == vector["payload_type"]
    assert pae(vector["payload_type"], payload).hex() == vector["pae_hex"]
    assert hashlib.sha256(payload).hexdigest() == vector["payload_sha256_hex"]
    (signature,) = vector["signatures"]
    key = _key(signer)
    assert signature["key_id"] == key.key_id
    assert signing_key(signer).sign(bytes.fromhex(vector["pae_hex"])).hex() == signature["sig_hex"]
    assert verify(envelope, {key.key_id: key}, payload_type=vector["payload_type"]) == payload
    return envelope


def _table(table: query_pb2.Table) -> dict[str, list[Any]]:
    return dict(decode_table(table).columns)


@pytest.mark.parametrize("name", sorted(build()))
def test_committed_vectors_match_a_fresh_build(name: str) -> None:
    committed = (FOLDER / name).read_text(encoding="utf-8")
    assert committed == dump(build()[name]), (
        f"tests/vectors/{name} is stale: run `python -m tests.vectors.build` and commit"
    )


def test_key_ids_are_the_sha256_of_the_raw_public_key() -> None:
    for name, key in _load("keys.json")["keys"].items():
        assert hashlib.sha256(key["seed_phrase"].encode()).hexdigest() == key["seed_hex"]
        raw = signing_key(name).public_key.raw
        assert raw.hex() == key["public_key_hex"]
        assert hashlib.sha256(raw).hexdigest() == key["key_id"]


def test_every_parameter_kind_round_trips_through_its_value() -> None:
    cases = _load("params.json")["cases"]
    kinds = {case["kind"] for case in cases}
    assert kinds == {"text", "integer", "number", "flag", "date", "text_list", "choice_list",
                     "shipments", "absent"}
    for case in cases:
        value = query_pb2.Value.FromString(bytes.fromhex(case["value_hex"]))
        assert from_value(value) == case["plain"], case["kind"]
        plain = case["plain"]
        if case["kind"] == "shipments":  # columns are found by name; encode in the vector's order
            encoded = table_value({c.name: plain[c.name] for c in value.table.columns})
        else:
            encoded = to_value(plain)
        assert encoded == value, case["kind"]
    (shipments,) = (c for c in cases if c["kind"] == "shipments")
    table = query_pb2.Value.FromString(bytes.fromhex(shipments["value_hex"])).table
    types = {c.name: query_pb2.ColumnType.Name(c.type) for c in table.columns}
    assert types == {"house_bill": "COLUMN_TYPE_TEXT", "declared_value_usd": "COLUMN_TYPE_NUMBER",
                     "hs6": "COLUMN_TYPE_TEXT"}
    nulls = {c.name: list(c.nulls) for c in table.columns}
    assert nulls == {"house_bill": [], "declared_value_usd": [1], "hs6": [2]}


def test_query_vector_signs_the_payload_it_carries() -> None:
    vector = _load("query.json")
    envelope = _check_signed(vector, "requester")
    assert envelope.payload_type == PAYLOAD_QUERY
    query = query_pb2.Query.FromString(envelope.payload)
    fields = vector["fields"]
    assert query.query_id.hex() == fields["query_id_hex"]
    assert query.issued_at.seconds == fields["issued_at"]["seconds"]
    assert query.expires_at.seconds == fields["expires_at"]["seconds"]
    for name in ("requester_id", "audience", "purpose", "legal_basis", "case_id", "officer_id",
                 "query_name"):
        assert getattr(query, name) == fields[name]
    assert sorted(query.params) == fields["params"]
    request = node_pb2.QueryRequest.FromString(bytes.fromhex(vector["query_request_hex"]))
    assert envelope_from_proto(request.envelope) == envelope


def test_answer_vector_is_bound_to_the_query() -> None:
    request = _envelope(_load("query.json"))
    vector = _load("answer.json")
    _check_signed(vector, "node")
    response = node_pb2.QueryResponse.FromString(bytes.fromhex(vector["query_response_hex"]))
    answer = verify_answer(envelope_from_proto(response.envelope), request=request,
                           node_id=NODE_ID, node_key=_key("node"))
    assert answer.request_digest.hex() == _load("query.json")["payload_sha256_hex"]
    assert _table(answer.table) == vector["fields"]["table"]
    with pytest.raises(VerificationError):  # the requester's key did not sign the answer
        verify_answer(_envelope(vector), request=request, node_id=NODE_ID,
                      node_key=_key("requester"))


def test_chunk_vectors_form_a_chain() -> None:
    request = _envelope(_load("query.json"))
    vectors = _load("chunks.json")["chunks"]
    envelopes = [_check_signed(vector, "node") for vector in vectors]
    previous = ""
    for vector in vectors:
        assert vector["fields"]["previous_chunk_digest_hex"] == previous
        previous = vector["payload_sha256_hex"]
        response = node_pb2.ScreenResponse.FromString(bytes.fromhex(vector["screen_response_hex"]))
        assert envelope_from_proto(response.envelope) == _envelope(vector)
    chunks = verify_chunk_chain(envelopes, request=request, node_id=NODE_ID,
                                node_key=_key("node"))
    assert [_table(c.table) for c in chunks] == [v["fields"]["table"] for v in vectors]
    assert [c.last for c in chunks] == [False, False, True]
    with pytest.raises(VerificationError, match="out of order"):
        verify_chunk_chain([envelopes[1], envelopes[0], envelopes[2]], request=request,
                           node_id=NODE_ID, node_key=_key("node"))
