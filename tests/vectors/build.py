"""Build the protocol test vectors in tests/vectors/*.json from fixed seeds.

Run ``python -m tests.vectors.build`` to rewrite the files; tests/test_vectors.py
fails when the committed files differ from what this builds. Everything is
deterministic: Ed25519 keys come from fixed seeds, Ed25519 signatures are
deterministic, and the timestamps and query id are constants.

Payload bytes are what this Python implementation serializes; protobuf
encoding is not canonical, so another implementation need not produce the same
payload bytes, but it must parse these and verify signatures over them exactly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedtrade.protocol.tables import encode_rows
from fedtrade.protocol.wire import (
    PAYLOAD_ANSWER,
    PAYLOAD_CHUNK,
    PAYLOAD_QUERY,
    PyValue,
    envelope_to_proto,
    table_value,
    to_value,
)
from fedtrade.protos import node_pb2, query_pb2
from fedtrade.trust.envelope import Envelope, pae, sign
from fedtrade.trust.keys import SigningKey

__all__ = ["FOLDER", "build", "signing_key"]

FOLDER = Path(__file__).resolve().parent
SEEDS = {"requester": "fedtrade test vector: requester", "node": "fedtrade test vector: node"}
ISSUED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
QUERY_ID = bytes(range(16))
REQUESTER_ID = "cbp-coordinator"
NODE_ID = "carrier-1"

Json = dict[str, Any]


def signing_key(name: str) -> SigningKey:
    """The vector key ``name``: its 32-byte seed is the SHA-256 of a fixed phrase."""
    seed = hashlib.sha256(SEEDS[name].encode()).digest()
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def _keys() -> Json:
    keys = {}
    for name, phrase in SEEDS.items():
        key = signing_key(name)
        keys[name] = {
            "seed_phrase": phrase,
            "seed_hex": hashlib.sha256(phrase.encode()).hexdigest(),
            "public_key_hex": key.public_key.raw.hex(),
            "key_id": key.key_id,
        }
    return {
        "about": "Ed25519 keys: seed = SHA-256(seed_phrase); key_id = hex SHA-256(raw public key)",
        "keys": keys,
    }


# (kind, plain value as JSON, Value): one case per parameter kind of the catalogue.
_PARAMS: tuple[tuple[str, str, PyValue], ...] = (
    ("text", "origin", "CN"),
    ("integer", "limit", -42),
    ("number", "ratio", 1.25),
    ("flag", "include_closed", True),
    ("date", "date_from", "2025-02-28"),
    ("text_list", "house_bills", ["HB0001", "HB0002"]),
    ("choice_list", "group_by", ["origin", "hs_chapter"]),
)
_SHIPMENTS: dict[str, list[PyValue]] = {
    "house_bill": ["HB0001", "HB0002", "HB0003"],
    "declared_value_usd": [45.5, None, 12.0],
    "hs6": ["610910", "850440", None],
}


def _value_case(kind: str, name: str, plain: PyValue, value: query_pb2.Value) -> Json:
    return {
        "kind": kind,
        "name": name,
        "plain": plain,
        "value_hex": value.SerializeToString(deterministic=True).hex(),
    }


def _params() -> tuple[Json, dict[str, query_pb2.Value]]:
    cases = [_value_case(kind, name, plain, to_value(plain)) for kind, name, plain in _PARAMS]
    cases.append(_value_case("shipments", "shipments", _SHIPMENTS, table_value(_SHIPMENTS)))
    cases.append(_value_case("absent", "hs_chapter", None, query_pb2.Value()))
    values = {c["name"]: query_pb2.Value.FromString(bytes.fromhex(c["value_hex"])) for c in cases}
    return {
        "about": "each parameter kind as a serialized Value and its plain JSON form",
        "cases": cases,
    }, values


def _signed(payload_type: str, message: Any, key: SigningKey) -> tuple[Envelope, Json]:
    payload = message.SerializeToString(deterministic=True)
    envelope = sign(payload_type, payload, [key])
    (signature,) = envelope.signatures
    return envelope, {
        "payload_type": payload_type,
        "payload_hex": payload.hex(),
        "payload_sha256_hex": hashlib.sha256(payload).hexdigest(),
        "pae_hex": pae(payload_type, payload).hex(),
        "signatures": [{"key_id": signature.key_id, "sig_hex": signature.sig.hex()}],
        "envelope_hex": envelope_to_proto(envelope).SerializeToString().hex(),
    }


def _stamp(moment: datetime) -> Json:
    return {"seconds": int(moment.timestamp()), "nanos": 0}


def _query(params: dict[str, query_pb2.Value]) -> tuple[Envelope, Json]:
    query = query_pb2.Query(
        query_id=QUERY_ID,
        requester_id=REQUESTER_ID,
        audience=NODE_ID,
        purpose="TARGETING",
        legal_basis="19 USC 1415",
        case_id="CASE-1",
        officer_id="officer-7",
        query_name="shipment_known",
        params=params,
    )
    query.issued_at.FromDatetime(ISSUED)
    query.expires_at.FromDatetime(ISSUED + timedelta(seconds=60))
    envelope, vector = _signed(PAYLOAD_QUERY, query, signing_key("requester"))
    vector["fields"] = {
        "query_id_hex": QUERY_ID.hex(),
        "requester_id": query.requester_id,
        "audience": query.audience,
        "issued_at": _stamp(ISSUED),
        "expires_at": _stamp(ISSUED + timedelta(seconds=60)),
        "purpose": query.purpose,
        "legal_basis": query.legal_basis,
        "case_id": query.case_id,
        "officer_id": query.officer_id,
        "query_name": query.query_name,
        "params": sorted(params),
    }
    wire = envelope_to_proto(envelope)
    vector["query_request_hex"] = node_pb2.QueryRequest(envelope=wire).SerializeToString().hex()
    return envelope, vector


_ROWS: tuple[tuple[PyValue, ...], ...] = (("HB0001", True), ("HB0002", False), ("HB0003", None))


def _answer(request: Envelope) -> Json:
    answer = query_pb2.Answer(
        request_digest=hashlib.sha256(request.payload).digest(),
        query_id=QUERY_ID,
        node_id=NODE_ID,
        status=query_pb2.ANSWER_STATUS_OK,
        table=encode_rows(("house_bill", "known"), _ROWS),
    )
    answer.produced_at.FromDatetime(ISSUED + timedelta(seconds=1))
    envelope, vector = _signed(PAYLOAD_ANSWER, answer, signing_key("node"))
    vector["fields"] = {
        "request_digest_hex": answer.request_digest.hex(),
        "query_id_hex": QUERY_ID.hex(),
        "node_id": NODE_ID,
        "status": "ANSWER_STATUS_OK",
        "produced_at": _stamp(ISSUED + timedelta(seconds=1)),
        "table": {"house_bill": [r[0] for r in _ROWS], "known": [r[1] for r in _ROWS]},
    }
    wire = envelope_to_proto(envelope)
    vector["query_response_hex"] = node_pb2.QueryResponse(envelope=wire).SerializeToString().hex()
    return vector


def _chunks(request: Envelope) -> list[Json]:
    """A Screen answer of three chunks, one row each."""
    vectors: list[Json] = []
    previous = b""
    for sequence, row in enumerate(_ROWS):
        chunk = query_pb2.AnswerChunk(
            request_digest=hashlib.sha256(request.payload).digest(),
            query_id=QUERY_ID,
            node_id=NODE_ID,
            sequence=sequence,
            previous_chunk_digest=previous,
            last=sequence == len(_ROWS) - 1,
            table=encode_rows(("house_bill", "known"), [row]),
        )
        chunk.produced_at.FromDatetime(ISSUED + timedelta(seconds=1))
        envelope, vector = _signed(PAYLOAD_CHUNK, chunk, signing_key("node"))
        vector["fields"] = {
            "sequence": sequence,
            "previous_chunk_digest_hex": previous.hex(),
            "last": chunk.last,
            "table": {"house_bill": [row[0]], "known": [row[1]]},
        }
        wire = envelope_to_proto(envelope)
        vector["screen_response_hex"] = (
            node_pb2.ScreenResponse(envelope=wire).SerializeToString().hex()
        )
        vectors.append(vector)
        previous = hashlib.sha256(envelope.payload).digest()
    return vectors


def build() -> dict[str, Json]:
    """Every vector file's content, by file name."""
    params, values = _params()
    request, query = _query({"house_bills": values["house_bills"]})
    return {
        "keys.json": _keys(),
        "params.json": params,
        "query.json": query,
        "answer.json": _answer(request),
        "chunks.json": {
            "about": "a Screen answer to query.json: three chunks chained by payload digests",
            "chunks": _chunks(request),
        },
    }


def dump(content: Json) -> str:
    return json.dumps(content, indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name, content in build().items():
        (FOLDER / name).write_text(dump(content), encoding="utf-8")


if __name__ == "__main__":
    main()
