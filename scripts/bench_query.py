"""Benchmark: a signed, authorized, audited query vs a bare gRPC echo of the same size.

Both servers run as separate processes on loopback, both over the same mutual
TLS (the node's certificate, the coordinator's client certificate); the client alternates
blocks of calls to each so machine noise hits both alike, and reports medians
and their ratio (target: at most 2x).

``--floor`` also times a third server on the same transport whose handler does only what
the guarantees cost: the caller signs the request, the server verifies it, checks and
records its id and a hash-chained audit row in one SQLite commit (WAL, as the state store
runs it) and signs the reply, which the caller verifies: the least a signed, audited
query can take in this stack, and its ratio to the bare echo.

``--profile`` instead answers signed queries in-process under cProfile and
reports the node's CPU time per answer for each piece of the pipeline
(signature checks, replay reservation, audit commit, signing, the query,
conversions, logging, the enumeration alarm) and the glue between them;
``--profile coordinator`` does the same for the coordinator's ``ask`` (the node
answering in the same thread, its CPU left out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from concurrent import futures
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import grpc
import yaml
from nacl.signing import SigningKey

from fedtrade.coordinator.client import Coordinator, QueryContext
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.tls import secure_channel
from fedtrade.node.tls import server_credentials
from fedtrade.protocol.attestation import sign_blocks
from fedtrade.protocol.wire import PyValue, envelope_to_proto
from fedtrade.protos import attestation_pb2, node_pb2
from fedtrade.sim.federation import COORDINATOR_ID, create_federation
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.pki import load_tls_files

ECHO_METHOD = "/bench.Echo/Echo"
NODE = "carrier-1"
CONTEXT = QueryContext(
    purpose="TARGETING", case_id="BENCH", officer_id="bench", legal_basis="bench"
)


def _serve_echo(port_file: Path, root: Path) -> None:
    """Child process: a gRPC server (the node's mutual TLS identity) whose one method
    returns a reply of the asked size."""

    def echo(request: bytes, _context: grpc.ServicerContext) -> bytes:
        size = int.from_bytes(request[:4], "big")
        return request[4 : 4 + size].ljust(size, b"\0")

    _serve_handler("bench.Echo", "Echo", echo, port_file, root)


def _serve_handler(service: str, method: str, handler: Callable[[bytes, grpc.ServicerContext],
                                                                bytes],
                   port_file: Path, root: Path) -> None:
    """Serve one raw-bytes unary method with the node's mutual TLS identity."""
    handlers = grpc.method_handlers_generic_handler(
        service, {method: grpc.unary_unary_rpc_method_handler(handler)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handlers,))
    keys = root / "keys"
    material = load_tls_files(keys / f"{NODE}.tls.crt", keys / f"{NODE}.tls.key",
                              root / "ca" / "ca.crt")
    port = server.add_secure_port("127.0.0.1:0", server_credentials(material))
    server.start()
    port_file.write_text(str(port))
    server.wait_for_termination()


# Keys of the floor's caller and server (benchmark only: fixed, both ends know both).
_FLOOR_CALLER, _FLOOR_SERVER = b"\x01" * 32, b"\x02" * 32
FLOOR_METHOD = "/bench.Floor/Floor"


def _serve_floor(port_file: Path, root: Path) -> None:
    """Child process: like the echo, but the handler does the guarantees' work alone: verify
    the caller's Ed25519 signature, refuse a query id seen before, commit the id and a
    hash-chained audit row to SQLite (WAL, ``synchronous=NORMAL``, as the state store runs
    it), sign the reply."""
    import hashlib
    import sqlite3
    import threading

    caller = SigningKey(_FLOOR_CALLER).verify_key
    signer = SigningKey(_FLOOR_SERVER)
    database = sqlite3.connect(root / "floor.db", check_same_thread=False, isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=NORMAL")
    database.execute("CREATE TABLE seen (query_id BLOB PRIMARY KEY)")
    database.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, entry TEXT, hash TEXT)")
    lock = threading.Lock()
    head = ["0" * 64]

    def floor(request: bytes, _context: grpc.ServicerContext) -> bytes:
        payload = caller.verify(request[64:], request[:64])
        size, query_id = int.from_bytes(payload[:4], "big"), payload[4:20]
        entry = f'{{"query_id":"{query_id.hex()}","decision":"answered","prev":"{head[0]}"}}'
        with lock:
            if database.execute("SELECT 1 FROM seen WHERE query_id = ?", (query_id,)).fetchone():
                raise ValueError("replayed query id")
            head[0] = hashlib.sha256(entry.encode()).hexdigest()
            database.execute("BEGIN IMMEDIATE")
            database.execute("INSERT INTO seen VALUES (?)", (query_id,))
            database.execute("INSERT INTO audit (entry, hash) VALUES (?, ?)", (entry, head[0]))
            database.execute("COMMIT")
        return bytes(signer.sign(payload[20:20 + size - 64].ljust(size - 64, b"\0")))

    _serve_handler("bench.Floor", "Floor", floor, port_file, root)


def _start(args: list[str], port_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen([sys.executable, *args])
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit(f"server {args} did not start")
        time.sleep(0.05)
    return process, f"127.0.0.1:{port_file.read_text().strip()}"


def _lift_rate_limit(config_path: Path) -> None:
    """The benchmark sends thousands of queries a minute, far over the default limit, about
    house bills its empty store does not hold (which would trip the enumeration alarm)."""
    config = yaml.safe_load(config_path.read_text())
    config["requesters"][COORDINATOR_ID]["rate_limit"] = {
        "queries_per_minute": 10_000_000, "shipments_per_minute": 10_000_000}
    config["enumeration_alarm"] = {"max_unknown_share": 1.0}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def _time_block(call: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


# Where the time goes: pieces of each side's work, by the function that does each (and, where
# that function serves several pieces, the function that calls it).
_PIECES: dict[str, dict[str, tuple[str, ...]]] = {
    "node": {
        "verify query signature": ("envelope.py", "verify_threshold", "pipeline.py", "_identify"),
        "verify attestation blocks": ("attestation.py", "verify_attestations"),
        "replay reservation": ("sqlite.py", "reserve_query_id"),
        "audit commit (replay id, rates, entry)": ("sqlite.py", "record"),
        "param digest (audit)": ("pipeline.py", "_param_digest"),
        "sign answer": ("envelope.py", "sign", "pipeline.py", "_sign_answer"),
        "run query (SQL)": ("pipeline.py", "_run"),
        "parse + check payload": ("wire.py", "parse_payload"),
        "validate params": ("params.py", "validate_params"),
        "encode answer table": ("tables.py", "encode_rows"),
        "log + metrics": ("pipeline.py", "_observe"),
        "enumeration alarm": ("enumeration.py", "observe"),
        "proto <-> envelope": ("wire.py", "envelope_from_proto"),
    },
    "coordinator": {
        "sign query (Ed25519)": ("envelope.py", "sign", "client.py", "sign_query"),
        "params to Values": ("client.py", "_param_value"),
        "verify answer signature (Ed25519)": ("envelope.py", "verify", "verify.py",
                                              "verify_answer"),
        "parse answer": ("wire.py", "parse_payload", "verify.py", "verify_answer"),
        "binding to the request": ("verify.py", "_check_binding"),
        "answer limit": ("client.py", "_limit"),
        "checkpoint carried (verified once)": ("verify.py", "_verified_checkpoint_message"),
        "request envelope to message": ("wire.py", "envelope_to_proto", "client.py", "send"),
        "answer message to envelope": ("wire.py", "envelope_from_proto", "client.py", "send"),
    },
}


# What ``--without`` can take away from the node, each piece replaced by the least that lets
# the pipeline go on (the removal method of issue 15: a piece's cost is what its removal saves).
REMOVABLE = ("log-metrics", "audit", "ed25519")


@contextmanager
def _removed(state: Any, pieces: Collection[str]) -> Iterator[None]:
    """Take ``pieces`` out of the node's answer (and Ed25519 out of the coordinator's
    ``ask`` too) for the duration (benchmark only)."""
    from fedtrade.coordinator import client, verify
    from fedtrade.node import pipeline
    from fedtrade.trust.envelope import Signature, Verified

    with ExitStack() as stack:
        if "log-metrics" in pieces:
            stack.enter_context(patch.object(pipeline, "_observe", lambda *_: None))
        if "audit" in pieces:
            def record(_entry: object, seen: str | None = None, _rates: object = None) -> None:
                if seen is not None:
                    state.store._replay.release(seen)

            stack.enter_context(patch.object(state.store, "record", record))
        if "ed25519" in pieces:
            def unverified(envelope: Envelope, trusted: Any, **_: object) -> Verified:
                signers = frozenset(trusted[s.key_id].key_id for s in envelope.signatures
                                    if s.key_id in trusted)
                return Verified(envelope.payload, signers)

            def unsigned(payload_type: str, payload: bytes, keys: Any) -> Envelope:
                return Envelope(payload_type, payload, (Signature(keys[0].key_id, bytes(64)),))

            def unchecked(envelope: Envelope, trusted: Any, **_: object) -> bytes:
                return envelope.payload

            stack.enter_context(patch.object(pipeline, "verify_threshold", unverified))
            stack.enter_context(patch.object(pipeline, "sign", unsigned))
            # the coordinator's signature of the query and its check of the answer's
            stack.enter_context(patch.object(client, "sign", unsigned))
            stack.enter_context(patch.object(verify, "verify", unchecked))
        yield


@contextmanager
def _in_process(
    batch: int,
) -> Iterator[tuple[Coordinator, Any, list[Envelope], dict[str, PyValue]]]:
    """A carrier node's state and a coordinator in this process (logging to /dev/null, metrics
    as ``serve`` sets them up), the filer's block for ``batch`` house bills, the parameters."""
    from fedtrade.node import peers
    from fedtrade.node.config import load_node_config
    from fedtrade.node.logs import configure_logging
    from fedtrade.node.metrics import NodeMetrics
    from fedtrade.node.pipeline import request_log
    from fedtrade.node.state import NodeState

    with open(os.devnull, "w") as devnull, \
            tempfile.TemporaryDirectory(prefix="fedtrade-profile-") as tmp:
        configure_logging(json=False, verbose=False, stream=devnull)
        federation = create_federation(Path(tmp), roles=("carrier",))
        _lift_rate_limit(federation.node_configs[NODE])
        federation.write_coordinator_config({NODE: "127.0.0.1:1"})
        coordinator = Coordinator(load_coordinator_config(federation.coordinator_config))
        config = load_node_config(federation.node_configs[NODE])
        state = NodeState.open(config)
        state.metrics = NodeMetrics()
        bills = [f"HB{i:08d}" for i in range(batch)]
        now = datetime.now(UTC)
        blocks = sign_blocks(
            federation.filer_key(), federation.filer_id,
            [attestation_pb2.ManifestLine(house_bill=b, declared_value="1", currency="USD",
                                          hs6="610910") for b in bills],
            block_lines=1_000, valid_from=now, valid_until=now + timedelta(hours=1))
        # what the intake interceptor sets per call
        peers._PEER_IDS.set(frozenset(config.requesters[COORDINATOR_ID].tls_identities))
        try:
            yield coordinator, state, blocks, {"house_bills": bills}
        finally:
            request_log.flush()  # the lines still queued, before /dev/null closes under them
            coordinator.close()
            state.close()


class _NodeInProcess:
    """Stands in for a node's gRPC stub: the node's servicer in this thread, the messages
    serialised and parsed as on the wire; ``cpu`` sums the node's side (its parse, its answer,
    its serialisation) so the coordinator's share can be told apart."""

    def __init__(self, state: Any) -> None:
        from fedtrade.node.server import NodeServicer

        self._servicer = NodeServicer(state)
        self.cpu = 0.0

    def Query(self, request: node_pb2.QueryRequest, timeout: float) -> node_pb2.QueryResponse:
        return node_pb2.QueryResponse.FromString(self._node(request.SerializeToString()))

    def _node(self, raw: bytes) -> bytes:
        started = time.thread_time()
        reply = self._servicer.Query(node_pb2.QueryRequest.FromString(raw), None)  # type: ignore[arg-type]
        answer = reply.SerializeToString()
        self.cpu += time.thread_time() - started
        return answer


def _profile(side: str, calls: int, batch: int, top: int, without: Collection[str],
             rounds: int, cprofile: bool) -> None:
    """In-process, no gRPC transport (the TLS identity check still runs): the CPU time per
    signed query of the node's answer (``side`` "node") or of the coordinator's ``ask``
    ("coordinator": signing, the request and answer messages, verifying; the node answers in
    the same thread through ``_NodeInProcess`` and its CPU is left out).

    Prints the CPU time per answer without the profiler (median of ``rounds`` rounds of
    ``calls`` answers, with ``without`` taken out of both sides), then (``cprofile``) one round
    under cProfile with each piece's cumulative CPU time per answer; "other" is the glue
    between them. The node's request log lines are written by a background thread: the CPU
    of the process and of the answering thread alone are both printed.
    """
    import cProfile
    import pstats

    from fedtrade.node.pipeline import answer_query, request_log
    from fedtrade.protocol.wire import envelope_from_proto

    with _in_process(batch) as (coordinator, state, blocks, params):
        node = _NodeInProcess(state)
        if side == "coordinator":
            coordinator._stub = lambda _node: node  # type: ignore[assignment,method-assign,return-value]

            def answer() -> None:
                coordinator.ask(NODE, "shipment_known", params, CONTEXT, attestations=blocks)
        else:
            requests = iter([
                envelope_to_proto(coordinator.sign_query(
                    coordinator.config.node(NODE), "shipment_known", params, CONTEXT,
                    attestations=blocks)[1])
                for _ in range((rounds + 1) * calls + 100)
            ])

            def answer() -> None:
                # what the servicer does: convert, answer, convert back
                envelope_to_proto(answer_query(state, envelope_from_proto(next(requests))))

        for _ in range(100):  # warm up
            answer()
        cpu: list[float] = []
        own: list[float] = []  # the answering thread's alone: what an answer waits for
        with _removed(state, without):
            for _ in range(rounds):
                node.cpu = 0.0
                started, alone = time.process_time(), time.thread_time()
                for _ in range(calls):
                    answer()
                own.append((time.thread_time() - alone - node.cpu) / calls)
                request_log.flush()  # the lines are written by a thread: count them in
                cpu.append((time.process_time() - started - node.cpu) / calls)
        # CPU time: steadier on a busy host; the coordinator's thread alone (the node's request
        # log lines are written by another thread of this process)
        profiler = cProfile.Profile(time.thread_time if side == "coordinator"
                                    else time.process_time)
        started = time.perf_counter()
        if cprofile:
            profiler.enable()
            for _ in range(calls):
                answer()
            profiler.disable()
        wall = time.perf_counter() - started
    removed = f" without {', '.join(sorted(without))}" if without else ""
    if cpu:
        print(f"{side} CPU per answer{removed}, no profiler, {rounds} rounds of {calls}: "
              f"median {statistics.median(cpu) * 1e6:.0f} us "
              f"(rounds: {', '.join(f'{c * 1e6:.0f}' for c in cpu)}); the answering "
              f"thread's alone: median {statistics.median(own) * 1e6:.0f} us")
    if not cprofile:
        return
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]

    def spent(file_name: str, function: str, *caller: str) -> float:
        """Cumulative seconds in ``function`` of ``file_name`` (only when called by
        ``caller``, a file name and function, if given)."""
        total = 0.0
        for key, row in table.items():
            if not (key[0].endswith(file_name) and key[2] == function):
                continue
            if not caller:
                total += row[3]
            else:
                total += sum(by[3] for where, by in row[4].items()
                             if where[0].endswith(caller[0]) and where[2] == caller[1])
        return total

    pieces = _PIECES[side]
    total = spent("bench_query.py", "answer") - spent("bench_query.py", "_node")
    print(f"under cProfile (all pieces in): {wall / calls * 1e6:.0f} us wall per answer"
          + (" (node included)" if side == "coordinator" else ""))
    print(f"{'piece':<42} {'us/answer':>10} {'share':>7}")
    for label, where in pieces.items():
        print(f"{label:<42} {spent(*where) / calls * 1e6:>10.0f} {spent(*where) / total:>6.1%}")
    glue = total - sum(spent(*where) for where in pieces.values())
    print(f"{'other (glue)':<42} {glue / calls * 1e6:>10.0f} {glue / total:>6.1%}")
    print(f"{'total (' + side + ')':<42} {total / calls * 1e6:>10.0f}")
    if top:
        stats.sort_stats("tottime").print_stats(top)


def _serve(args: argparse.Namespace) -> int:
    """Child process: the echo, or the node (``serve``, as the CLI runs it); with ``--stamps``,
    its calls stamped and the stamps saved when it stops."""
    import signal

    stamps = _Stamps(args.stamps) if args.stamps else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the node's CLI sets its own
    try:
        if args.echo_server:
            _serve_echo(*args.echo_server)
            return 0
        if args.floor_server:
            _serve_floor(*args.floor_server)
            return 0
        from fedtrade.node.cli import main as node_main

        config, port_file = args.node_server
        return node_main(["serve", "--config", str(config), "--port-file", str(port_file)])
    finally:
        if stamps is not None:
            stamps.save()


class _Stamps:
    """``time.perf_counter`` stamps (one clock for every process of the machine) of gRPC's
    unary server calls in this process: when a worker thread takes the call, and when it
    starts and ends sending the answer (``--timeline``; benchmark only)."""

    def __init__(self, path: Path) -> None:
        import grpc._server as server

        self._path = path
        self.taken: list[float] = []
        self.sends: list[tuple[float, float]] = []
        take, send = server._unary_response_in_pool, server._status

        def taken(*args: Any) -> None:
            self.taken.append(time.perf_counter())
            take(*args)

        def sent(*args: Any) -> None:
            begun = time.perf_counter()
            try:
                send(*args)
            finally:
                self.sends.append((begun, time.perf_counter()))

        server._unary_response_in_pool = taken  # type: ignore[assignment]
        server._status = sent  # type: ignore[assignment]

    def save(self) -> None:
        self._path.write_text(json.dumps([self.taken, self.sends]))


# Where one call's time goes, from the stamps of both processes.
_SEGMENTS = ("caller before the call (sign, build)", "to the server's worker thread",
             "server's worker until it sends", "its send until the caller has the answer",
             "caller after the answer (verify)", "server's send returns after the caller has it")


def _timeline(calls: dict[str, list[tuple[float, float, float, float]]],
              stamps: dict[str, Path]) -> list[str]:
    """The median of each of ``_SEGMENTS`` per kind of call, as lines to print. ``calls``
    holds, per kind, (started, call sent, answer received, done) on the caller's side."""
    import bisect

    lines = ["where one call's time goes (medians, us; the last line is off the path):",
             f"{'':<48} {'signed':>8} {'echo':>8}"]
    columns = []
    for kind in ("signed", "bare"):
        taken, sends = json.loads(stamps[kind].read_text())
        begins = [begun for begun, _ in sends]
        rows = []
        for started, sent, received, done in calls[kind]:
            at = bisect.bisect_left(taken, sent)
            send = bisect.bisect_left(begins, taken[at]) if at < len(taken) else len(begins)
            if send == len(begins) or begins[send] > received:
                continue  # not matched (a call the server did not stamp)
            begun, ended = sends[send]
            rows.append((sent - started, taken[at] - sent, begun - taken[at], received - begun,
                         done - received, ended - received))
        columns.append([statistics.median(row[i] for row in rows) for i in range(6)])
    lines += [f"{label:<48} {columns[0][i] * 1e6:>8.0f} {columns[1][i] * 1e6:>8.0f}"
              for i, label in enumerate(_SEGMENTS)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per kind (default 2000)")
    parser.add_argument("--batch", type=int, default=10, help="house bills per query (default 10)")
    parser.add_argument("--echo-server", type=Path, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--node-server", type=Path, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floor-server", type=Path, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--stamps", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--timeline", action="store_true",
                        help="also time each stretch of a call in both processes (caller, "
                             "transport, server's worker, send) and print the medians")
    parser.add_argument("--floor", action="store_true",
                        help="also time the guarantees alone (Ed25519 on both ends, replay "
                             "check, audit commit) over the same transport: the floor")
    parser.add_argument("--profile", nargs="?", const="node", choices=("node", "coordinator"),
                        help="instead: profile the node's answer (default) or the "
                             "coordinator's ask in-process, per piece")
    parser.add_argument("--top", type=int, default=0,
                        help="with --profile: also list the N functions with most own time")
    parser.add_argument("--without", action="append", choices=REMOVABLE, default=[],
                        help="with --profile: take this piece out of the node's answer "
                             "(ed25519: the coordinator's too; repeatable) to measure what "
                             "it costs")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --profile: rounds timed without the profiler (default 3)")
    parser.add_argument("--cprofile", action=argparse.BooleanOptionalAction, default=True,
                        help="with --profile: also a round under cProfile, per piece (default)")
    args = parser.parse_args()
    if args.profile:
        _profile(args.profile, args.calls, args.batch, args.top, args.without, args.rounds,
                 args.cprofile)
        return 0
    if args.echo_server or args.node_server or args.floor_server:
        return _serve(args)

    with tempfile.TemporaryDirectory(prefix="fedtrade-bench-") as tmp:
        root = Path(tmp)
        federation = create_federation(root, roles=("carrier",))
        _lift_rate_limit(federation.node_configs[NODE])
        stamps = {"signed": root / "node.stamps", "bare": root / "echo.stamps"}
        node, node_address = _start(
            [__file__, "--node-server", str(federation.node_configs[NODE]), str(root / "node.port"),
             *(["--stamps", str(stamps["signed"])] if args.timeline else [])],
            root / "node.port",
        )
        echo, echo_address = _start(
            [__file__, "--echo-server", str(root / "echo.port"), str(root),
             *(["--stamps", str(stamps["bare"])] if args.timeline else [])],
            root / "echo.port",
        )
        floor, floor_address = _start(
            [__file__, "--floor-server", str(root / "floor.port"), str(root)],
            root / "floor.port",
        ) if args.floor else (None, "")
        try:
            federation.write_coordinator_config({NODE: node_address})
            coordinator = Coordinator(load_coordinator_config(federation.coordinator_config))
            bills = [f"HB{i:08d}" for i in range(args.batch)]
            params: dict[str, PyValue] = {"house_bills": bills}
            # the carrier filed these lines: it answers for its own attestation
            now = datetime.now(UTC)
            blocks = sign_blocks(
                federation.filer_key(), federation.filer_id,
                [attestation_pb2.ManifestLine(house_bill=b, declared_value="1", currency="USD",
                                              hs6="610910") for b in bills],
                block_lines=1_000, valid_from=now, valid_until=now + timedelta(hours=1))

            # Same sizes on the wire: the echo sends a request as large as a Query
            # request (the signed query envelope) and gets back as many bytes as a signed answer.
            sample = coordinator.ask(NODE, "shipment_known", params, CONTEXT, attestations=blocks)
            _, request = coordinator.sign_query(
                coordinator.config.node(NODE), "shipment_known", params, CONTEXT,
                attestations=blocks,
            )
            request_size = node_pb2.QueryRequest(envelope=envelope_to_proto(request)).ByteSize()
            answer_size = sample.answer.ByteSize() + 150  # plus envelope and signature
            echo_request = answer_size.to_bytes(4, "big") + b"x" * (request_size - 4)
            assert coordinator.config.tls is not None
            channel = secure_channel(echo_address, NODE, coordinator.config.tls)
            echo_call = channel.unary_unary(ECHO_METHOD, None, None)

            floor_channel = secure_channel(floor_address, NODE, coordinator.config.tls) \
                if args.floor else None
            floor_call = floor_channel.unary_unary(FLOOR_METHOD, None, None) \
                if floor_channel is not None else None
            floor_samples: list[float] = []
            caller_key, server_key = SigningKey(_FLOOR_CALLER), SigningKey(_FLOOR_SERVER).verify_key

            def guarantees_alone() -> object:
                assert floor_call is not None
                payload = (answer_size.to_bytes(4, "big") + os.urandom(16)).ljust(
                    request_size - 64, b"x")
                reply = floor_call(bytes(caller_key.sign(payload)), timeout=10)
                return server_key.verify(reply)

            calls: dict[str, list[tuple[float, float, float, float]]] = {"signed": [],
                                                                          "bare": []}
            call_stamps: list[float] = []  # the stub call of the ask in progress
            stub = coordinator._stub(coordinator.config.node(NODE))
            query = stub.Query

            def stamped_query(*args: Any, **kwargs: Any) -> Any:
                call_stamps.append(time.perf_counter())
                reply = query(*args, **kwargs)
                call_stamps.append(time.perf_counter())
                return reply

            if args.timeline:
                stub.Query = stamped_query  # type: ignore[assignment]

            def signed() -> object:
                started = time.perf_counter()
                answer = coordinator.ask(NODE, "shipment_known", params, CONTEXT,
                                         attestations=blocks)
                if args.timeline:
                    calls["signed"].append((started, call_stamps[0], call_stamps[1],
                                            time.perf_counter()))
                    call_stamps.clear()
                return answer

            def bare() -> object:
                started = time.perf_counter()
                reply = echo_call(echo_request, timeout=10)
                if args.timeline:
                    done = time.perf_counter()
                    calls["bare"].append((started, started, done, done))
                return reply

            for call in (signed, bare, *([guarantees_alone] if args.floor else [])):
                _time_block(call, 200)  # warm up connections and caches
            signed_samples: list[float] = []
            bare_samples: list[float] = []
            block = 100
            for _ in range(max(1, args.calls // block)):
                signed_samples += _time_block(signed, block)
                bare_samples += _time_block(bare, block)
                if args.floor:
                    floor_samples += _time_block(guarantees_alone, block)
            coordinator.close()
            channel.close()
            if floor_channel is not None:
                floor_channel.close()
        finally:
            for process in (node, echo, *([floor] if floor else [])):
                process.terminate()
                process.wait(timeout=15)
        timeline = _timeline(calls, stamps) if args.timeline else []

    signed_ms = statistics.median(signed_samples) * 1000
    bare_ms = statistics.median(bare_samples) * 1000
    print(f"request {request_size} B, answer ~{answer_size} B, {len(signed_samples)} calls each")
    print(
        f"bare gRPC echo        median {bare_ms:.3f} ms   p90 "
        f"{statistics.quantiles(bare_samples, n=10)[-1] * 1000:.3f} ms"
    )
    print(
        f"signed audited query  median {signed_ms:.3f} ms   p90 "
        f"{statistics.quantiles(signed_samples, n=10)[-1] * 1000:.3f} ms"
    )
    print(f"ratio signed/bare: {signed_ms / bare_ms:.2f}x  (target <= 2x)")
    if floor_samples:
        floor_ms = statistics.median(floor_samples) * 1000
        print(f"guarantees alone      median {floor_ms:.3f} ms   p90 "
              f"{statistics.quantiles(floor_samples, n=10)[-1] * 1000:.3f} ms   "
              f"(the floor: {floor_ms / bare_ms:.2f}x the echo)")
    print("\n".join(timeline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
