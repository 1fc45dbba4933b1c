"""The coordinator's evidence store: every signed answer it received, as received.

Rows keep the exact request and response envelope bytes, so `verify_evidence`
can later prove, offline and against the nodes' public keys, who answered what
to which question. The audit checkpoints the answers carry are kept with them.
A chunk stream's request (the question, with the filer's attested blocks it is
about: hundreds of kilobytes) is kept once, on the stream's first row; its other
rows hold an empty request and are read with the first row's. The attested blocks
themselves are kept once for all the questions that carry them
(``coordinator.request_blocks``). Stores that repeat the whole request on every
row (written before) read the same.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fedtrade.coordinator.request_blocks import DIGEST_BYTES, cut_blocks, splice_blocks
from fedtrade.coordinator.verify import carried_checkpoint, verify_answer, verify_chunk_chain
from fedtrade.protocol.checkpoints import Checkpoint, TruncationError, check_consistent
from fedtrade.protocol.wire import envelope_from_proto, envelope_to_proto
from fedtrade.protos import envelope_pb2, query_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import ConfigError, FedtradeError
from fedtrade.trust.keys import PublicKey

__all__ = ["EvidenceProblem", "EvidenceStore", "node_checkpoints", "verify_evidence"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    stored_at TEXT NOT NULL,
    node_id TEXT NOT NULL,
    query_id TEXT NOT NULL,
    query_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('answer', 'chunk')),
    sequence INTEGER NOT NULL,
    request BLOB NOT NULL,  -- empty on a chunk stream's rows after its first (sequence 0)
    response BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_by_query ON evidence (query_id, sequence);
-- A stored request with its attested blocks cut out: where they go back, and their digests
-- (32 bytes each, in order) in attested_blocks, where each block is kept once.
CREATE TABLE IF NOT EXISTS request_blocks (
    evidence_id INTEGER PRIMARY KEY REFERENCES evidence (id),
    position INTEGER NOT NULL,
    digests BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attested_blocks (
    digest BLOB PRIMARY KEY,
    entry BLOB NOT NULL  -- the block as a query holds it: field tag, length, message
);
-- Questions a node left unanswered (a refusal, a deadline, an answer that did not verify),
-- with the signed request: what the AEO scorecard counts as asked but not answered.
CREATE TABLE IF NOT EXISTS unanswered (
    id INTEGER PRIMARY KEY,
    stored_at TEXT NOT NULL,
    node_id TEXT NOT NULL,
    query_id TEXT NOT NULL,
    query_name TEXT NOT NULL,
    request BLOB NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL
);
-- The seed of each screening run's green-lane compliance sample, with the rule and the
-- certificates that counted: anyone holding it recomputes which shipments were sampled.
CREATE TABLE IF NOT EXISTS green_lane_runs (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    manifest TEXT NOT NULL,
    seed TEXT NOT NULL,
    settings TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class EvidenceProblem:
    row_id: int
    node_id: str
    query_id: str
    problem: str


class EvidenceStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:  # e.g. a file owned by another user: read-only to us
            raise ConfigError(
                f"cannot open the evidence store for writing ({exc}); the coordinator must be "
                "able to write it and its folder (check owner and mode)",
                path=path,
            ) from exc
        self._lock = threading.Lock()  # screening stores answers from several threads

    def add(
        self,
        *,
        node_id: str,
        query_id: str,
        query_name: str,
        request: Envelope,
        responses: list[Envelope],
        kind: str,
        attestations: Sequence[Envelope] = (),
        serialized: bytes | None = None,
    ) -> None:
        """Store one answer (kind 'answer') or a whole chunk stream (kind 'chunk');
        ``attestations`` are the blocks ``request`` carries (kept once for all requests),
        ``serialized`` the request's envelope serialized, if the caller already has it."""
        stored, cut = cut_blocks(request, attestations, serialized)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [(now, node_id, query_id, query_name, kind, seq,
                 b"" if seq else stored,  # the request is kept once, on the first row
                 envelope_to_proto(resp).SerializeToString())
                for seq, resp in enumerate(responses)]
        insert = ("INSERT INTO evidence (stored_at, node_id, query_id, query_name, kind, "
                  "sequence, request, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        with self._lock, self._conn:
            first = self._conn.execute(insert, rows[0]).lastrowid
            self._conn.executemany(insert, rows[1:])
            if cut is not None:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO attested_blocks (digest, entry) VALUES (?, ?)",
                    cut.entries)
                self._conn.execute(
                    "INSERT INTO request_blocks (evidence_id, position, digests) "
                    "VALUES (?, ?, ?)", (first, cut.position, cut.digests))

    def add_unanswered(self, *, node_id: str, query_id: str, query_name: str,
                       request: Envelope, code: str, reason: str) -> None:
        """Keep a question ``node_id`` did not answer (``code``: gRPC status or error kind)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO unanswered (stored_at, node_id, query_id, query_name, request, code,"
                " reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, node_id, query_id, query_name,
                 envelope_to_proto(request).SerializeToString(), code, reason))

    def unanswered_rows(self) -> Iterator[tuple[str, str, Envelope, str]]:
        """(node id, query name, signed request, code) of every unanswered question."""
        for node_id, query_name, request, code in self._conn.execute(
                "SELECT node_id, query_name, request, code FROM unanswered ORDER BY id"):
            yield node_id, query_name, _parse(request), code

    def record_green_lane(self, manifest: str, seed_hex: str, settings: str) -> None:
        """Keep a green-lane run's sample seed and settings (JSON) before its first decision."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO green_lane_runs (recorded_at, manifest, seed, settings) "
                "VALUES (?, ?, ?, ?)", (now, manifest, seed_hex, settings))

    def green_lane_runs(self) -> list[tuple[str, str, str, str]]:
        """(recorded_at, manifest, seed hex, settings JSON) of every green-lane run."""
        return [tuple(row) for row in self._conn.execute(
            "SELECT recorded_at, manifest, seed, settings FROM green_lane_runs ORDER BY id")]

    def rows(self) -> Iterator[tuple[int, str, str, str, int, Envelope, Envelope]]:
        """(id, node, query id, kind, sequence, request, response) of every stored answer
        and chunk, a stream's rows together and in order, each with its stream's request."""
        stream: tuple[str, str] | None = None
        request = _parse(b"")
        for row_id, node_id, query_id, kind, seq, req, position, digests, resp in \
                self._conn.execute(
                    "SELECT e.id, e.node_id, e.query_id, e.kind, e.sequence, e.request, "
                    "r.position, r.digests, e.response FROM evidence e "
                    "LEFT JOIN request_blocks r ON r.evidence_id = e.id "
                    "ORDER BY e.query_id, e.node_id, e.sequence, e.id"):
            if req or stream != (query_id, node_id):
                # a stream's first row; a row that lost its request (or one of its blocks)
                # shows one that is empty, which no signature verifies
                if digests is not None:
                    req = self._spliced(req, position, digests)
                stream, request = (query_id, node_id), _parse(req)
            yield row_id, node_id, query_id, kind, seq, request, _parse(resp)

    def _spliced(self, stored: bytes, position: int, digests: bytes) -> bytes:
        """A request with its blocks put back (empty if one of them is not in the store)."""
        entries = []
        for start in range(0, len(digests), DIGEST_BYTES):
            found = self._conn.execute("SELECT entry FROM attested_blocks WHERE digest = ?",
                                       (digests[start:start + DIGEST_BYTES],)).fetchone()
            if found is None:
                return b""
            entries.append(found[0])
        return splice_blocks(stored, position, entries)

    def incomplete_requests(self) -> dict[int, str]:
        """Evidence row id -> the digest (hex) of an attested block its request names that
        the store does not hold."""
        kept = {digest for (digest,) in self._conn.execute("SELECT digest FROM attested_blocks")}
        incomplete = {}
        for row_id, digests in self._conn.execute(
                "SELECT evidence_id, digests FROM request_blocks ORDER BY evidence_id"):
            for start in range(0, len(digests), DIGEST_BYTES):
                if digests[start:start + DIGEST_BYTES] not in kept:
                    incomplete[row_id] = digests[start:start + DIGEST_BYTES].hex()
                    break
        return incomplete

    def count(self) -> int:
        (n,) = self._conn.execute("SELECT count(*) FROM evidence").fetchone()
        return int(n)

    def close(self) -> None:
        self._conn.close()


def _parse(data: bytes) -> Envelope:
    message = envelope_pb2.Envelope()
    message.ParseFromString(data)
    return envelope_from_proto(message)


def _checkpoints(
    store: EvidenceStore, node_keys: Mapping[str, PublicKey], problems: list[EvidenceProblem]
) -> tuple[int, dict[str, dict[bytes, tuple[Envelope, Checkpoint]]]]:
    """Verify every stored answer; collect the audit checkpoints they carry, per node."""
    checked = 0
    found: dict[str, dict[bytes, tuple[Envelope, Checkpoint]]] = {}
    streams: dict[tuple[str, str], list[tuple[int, Envelope, Envelope]]] = {}
    incomplete = store.incomplete_requests()

    def lost(row_id: int, node_id: str, query_id: str) -> bool:
        """Is the request of ``row_id`` missing one of its attested blocks (a problem)?"""
        if row_id in incomplete:
            problems.append(EvidenceProblem(
                row_id, node_id, query_id,
                f"its request names attested block {incomplete[row_id][:16]}... that is not in "
                "the evidence store (attested_blocks): the store was altered or truncated; "
                "restore it from a backup"))
        return row_id in incomplete

    def keep(message: query_pb2.Answer | query_pb2.AnswerChunk, node_id: str) -> None:
        carried = carried_checkpoint(message, node_id=node_id, node_key=node_keys[node_id])
        if carried is not None:
            found.setdefault(node_id, {})[carried[0].payload] = carried

    for row_id, node_id, query_id, kind, _seq, request, response in store.rows():
        checked += 1
        key = node_keys.get(node_id)
        if key is None:
            problems.append(
                EvidenceProblem(
                    row_id, node_id, query_id, "node is not in the config; cannot check its key"
                )
            )
            continue
        if kind == "chunk":
            streams.setdefault((node_id, query_id), []).append((row_id, request, response))
            continue
        if lost(row_id, node_id, query_id):
            continue
        try:
            keep(verify_answer(response, request=request, node_id=node_id, node_key=key),
                 node_id)
        except FedtradeError as exc:
            problems.append(EvidenceProblem(row_id, node_id, query_id, str(exc)))
    for (node_id, query_id), rows in streams.items():
        if lost(rows[0][0], node_id, query_id):
            continue
        try:
            chunks = verify_chunk_chain(
                [r for _, _, r in rows],
                request=rows[0][1],
                node_id=node_id,
                node_key=node_keys[node_id],
            )
            keep(chunks[-1], node_id)
        except FedtradeError as exc:
            problems.append(EvidenceProblem(rows[0][0], node_id, query_id, str(exc)))
    return checked, found


def verify_evidence(
    store: EvidenceStore, node_keys: Mapping[str, PublicKey]
) -> tuple[int, list[EvidenceProblem]]:
    """Re-verify every stored answer and the audit checkpoints they carry.

    Returns (rows checked, problems found). Checkpoints of one node that
    contradict each other (fewer entries later, or two hashes for one entry)
    show that the node's audit log was truncated or rewritten in between.
    """
    problems: list[EvidenceProblem] = []
    checked, found = _checkpoints(store, node_keys, problems)
    for node_id, carried in sorted(found.items()):
        try:
            check_consistent(checkpoint for _, checkpoint in carried.values())
        except TruncationError as exc:
            problems.append(EvidenceProblem(0, node_id, "", str(exc)))
    return checked, problems


def node_checkpoints(
    store: EvidenceStore, node_id: str, node_key: PublicKey
) -> list[Envelope]:
    """Every distinct verified audit checkpoint of ``node_id`` in the evidence, oldest first."""
    _, found = _checkpoints(store, {node_id: node_key}, [])
    carried = found.get(node_id, {}).values()
    return [envelope for envelope, _ in sorted(carried, key=lambda item: item[1].signed_at)]
