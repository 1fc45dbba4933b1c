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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from google.protobuf.message import DecodeError

from fedtrade.coordinator.request_blocks import DIGEST_BYTES, cut_blocks, splice_blocks
from fedtrade.coordinator.verify import carried_checkpoint, verify_answer, verify_chunk_chain
from fedtrade.protocol.checkpoints import Checkpoint, TruncationError, check_consistent
from fedtrade.protocol.wire import envelope_from_proto, envelope_to_proto
from fedtrade.protos import envelope_pb2, query_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import ConfigError, DataError, FedtradeError
from fedtrade.trust.files import not_regular
from fedtrade.trust.keys import PublicKey

__all__ = ["EvidenceProblem", "EvidenceStore", "node_checkpoints", "verify_evidence"]

_DAMAGED = ("its stored request or answer is not a serialized signed envelope: the evidence "
            "store was altered or damaged; restore it from a backup")

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


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _check_kind(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database that is not an evidence store (a node's store, another program's,
    one of another version) before anything is written into it."""
    tables = _tables(conn)
    if not tables:
        return  # new or empty: the schema is created
    if "evidence" not in tables:
        raise ConfigError(
            f"not an evidence store: it has no evidence table but {', '.join(sorted(tables)[:5])}"
            f"{', ...' if len(tables) > 5 else ''} (a node's store?); point "
            "coordinator.evidence_db at the coordinator's own evidence store", path=path)
    expected = sqlite3.connect(":memory:")
    try:
        expected.executescript(_SCHEMA)
        for table in sorted(tables & _tables(expected)):
            missing = _columns(expected, table) - _columns(conn, table)
            if missing:
                raise ConfigError(
                    f"table {table} lacks the column(s) {', '.join(sorted(missing))}: written "
                    "by another program or altered; restore the evidence store from a backup",
                    path=path)
    finally:
        expected.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


class EvidenceStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        kind = not_regular(path)  # SQLite fails on a folder or a FIFO without saying so
        if kind is not None:
            raise ConfigError(f"cannot open the evidence store: it is {kind}, not a regular "
                              "file; give the path of a file", path=path,
                              key="coordinator.evidence_db")
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # text that is not UTF-8 (an altered row) reads as text, and then fails to verify
            self._conn.text_factory = _text
            _check_kind(self._conn, path)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:  # e.g. a file owned by another user
            raise ConfigError(
                f"cannot open the evidence store for writing ({exc}); the coordinator must be "
                "able to write it and its folder (check owner and mode)",
                path=path,
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"not an evidence store, or a damaged one ({exc}); point coordinator."
                "evidence_db at the coordinator's evidence store, or restore it from a backup",
                path=path,
            ) from exc
        self._path = path
        self._lock = threading.Lock()  # screening stores answers from several threads

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """An SQLite error while reading rows: the file is damaged (a page overwritten, the
        file cut short), which opening it cannot show."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self._path}: the evidence store is damaged ({exc}); restore it "
                            "from a backup") from exc

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
        with self._reading():
            for row_id, node_id, query_name, request, code in self._conn.execute(
                    "SELECT id, node_id, query_name, request, code FROM unanswered ORDER BY id"):
                envelope = _parse(request)
                if envelope is None:
                    raise DataError(
                        f"{self._path}: unanswered question {row_id} ({_label(node_id)}): "
                        f"{_DAMAGED}")
                yield _label(node_id), _label(query_name), envelope, _label(code)

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

    def rows(self) -> Iterator[tuple[int, str, str, str, int, Envelope | None,
                                     Envelope | None]]:
        """(id, node, query id, kind, sequence, request, response) of every stored answer
        and chunk, a stream's rows together and in order, each with its stream's request.
        A request or response that is not a serialized envelope (bytes of another type or
        shape: the store was altered or damaged) is None."""
        stream: tuple[str, str] | None = None
        request = _parse(b"")
        with self._reading():
            for row_id, node, query, kind, seq, req, position, digests, resp in \
                    self._conn.execute(
                        "SELECT e.id, e.node_id, e.query_id, e.kind, e.sequence, e.request, "
                        "r.position, r.digests, e.response FROM evidence e "
                        "LEFT JOIN request_blocks r ON r.evidence_id = e.id "
                        "ORDER BY e.query_id, e.node_id, e.sequence, e.id"):
                node_id, query_id = _label(node), _label(query)
                if req or stream != (query_id, node_id):
                    # a stream's first row; a row that lost its request (or one of its
                    # blocks) shows one that is empty, which no signature verifies
                    if digests is not None:
                        req = self._spliced(req, position, digests)
                    stream, request = (query_id, node_id), _parse(req)
                yield row_id, node_id, query_id, _label(kind), seq, request, _parse(resp)

    def _spliced(self, stored: object, position: object, digests: object) -> bytes | None:
        """A request with its blocks put back (empty if one of them is not in the store,
        None if the row is not of the types it was written with)."""
        if not (isinstance(stored, bytes) and isinstance(digests, bytes)
                and isinstance(position, int) and 0 <= position <= len(stored)):
            return None
        entries = []
        for start in range(0, len(digests), DIGEST_BYTES):
            found = self._conn.execute("SELECT entry FROM attested_blocks WHERE digest = ?",
                                       (digests[start:start + DIGEST_BYTES],)).fetchone()
            if found is None:
                return b""
            if not isinstance(found[0], bytes):
                return None
            entries.append(found[0])
        return splice_blocks(stored, position, entries)

    def incomplete_requests(self) -> dict[int, str]:
        """Evidence row id -> the digest (hex) of an attested block its request names that
        the store does not hold."""
        with self._reading():
            kept = {digest for (digest,) in
                    self._conn.execute("SELECT digest FROM attested_blocks")}
            rows = self._conn.execute(
                "SELECT evidence_id, digests FROM request_blocks ORDER BY evidence_id")
            incomplete = {}
            for row_id, digests in rows:
                if not isinstance(digests, bytes):
                    continue  # not a list of digests: rows() reads the request as damaged
                for start in range(0, len(digests), DIGEST_BYTES):
                    if digests[start:start + DIGEST_BYTES] not in kept:
                        incomplete[row_id] = digests[start:start + DIGEST_BYTES].hex()
                        break
        return incomplete

    def count(self) -> int:
        with self._reading():
            (n,) = self._conn.execute("SELECT count(*) FROM evidence").fetchone()
        return int(n)

    def close(self) -> None:
        self._conn.close()


def _parse(data: object) -> Envelope | None:
    """The envelope serialized in ``data``; None if it is not (bytes of) one."""
    if not isinstance(data, bytes):
        return None
    message = envelope_pb2.Envelope()
    try:
        message.ParseFromString(data)
    except DecodeError:
        return None
    return envelope_from_proto(message)


def _label(value: object) -> str:
    """A text column as text, whatever an altered row holds there (NULL, a number)."""
    return value if isinstance(value, str) else "" if value is None else str(value)


def _checkpoints(
    store: EvidenceStore, node_keys: Mapping[str, PublicKey], problems: list[EvidenceProblem]
) -> tuple[int, dict[str, dict[bytes, tuple[Envelope, Checkpoint]]]]:
    """Verify every stored answer; collect the audit checkpoints they carry, per node."""
    checked = 0
    found: dict[str, dict[bytes, tuple[Envelope, Checkpoint]]] = {}
    streams: dict[tuple[str, str], list[tuple[int, Envelope | None, Envelope | None]]] = {}
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
        if request is None or response is None:
            problems.append(EvidenceProblem(row_id, node_id, query_id, _DAMAGED))
            continue
        try:
            keep(verify_answer(response, request=request, node_id=node_id, node_key=key),
                 node_id)
        except FedtradeError as exc:
            problems.append(EvidenceProblem(row_id, node_id, query_id, str(exc)))
    for (node_id, query_id), rows in streams.items():
        if lost(rows[0][0], node_id, query_id):
            continue
        request, responses = rows[0][1], [r for _, _, r in rows if r is not None]
        if request is None or len(responses) < len(rows):
            problems.append(EvidenceProblem(rows[0][0], node_id, query_id, _DAMAGED))
            continue
        try:
            chunks = verify_chunk_chain(
                responses,
                request=request,
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
