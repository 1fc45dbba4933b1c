"""A hostile node attacking the coordinator: its answers are validly signed with the node's
real key and bound to the request, but too long, too many, too large or endless.

The coordinator cuts each such answer off at the first chunk over its bound
(coordinator.bounds), cancels the call so the node stops sending, and a
screening run goes on with that node marked failed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import grpc
import pytest
import yaml

from fedtrade.coordinator.cli import main as fedtrade_main
from fedtrade.coordinator.client import Coordinator
from fedtrade.node.server import NodeServicer
from fedtrade.node.state import NodeState
from fedtrade.protocol.limits import CHUNK_ROWS, DEFAULT_MESSAGE_BYTES
from fedtrade.protocol.tables import encode_columns
from fedtrade.protocol.wire import PAYLOAD_ANSWER, PAYLOAD_CHUNK, digest, envelope_to_proto
from fedtrade.protos import envelope_pb2, node_pb2, query_pb2
from fedtrade.sim.federation import Federation
from fedtrade.trust.envelope import sign
from fedtrade.trust.errors import RemoteError, VerificationError
from tests.conftest import CONTEXT, LiveFederation, World, live_federation, wait_for
from tests.coordinator.test_screening import BROKER, run_screening, serve

# What the hostile node sends for a request asking about n shipments: (table, last) pairs.
Script = Callable[[int], Iterable[tuple[query_pb2.Table, bool]]]
ASKED = ["HB0000000001", "HB0000000002", "HB0000000003"]


def rows(count: int, text: str = "x") -> query_pb2.Table:
    return encode_columns({"house_bill": [f"HB{i:010d}" for i in range(count)],
                           "note": [text] * count})


def endless(_: int) -> Iterator[tuple[query_pb2.Table, bool]]:
    return itertools.repeat((rows(0), False))


def more_rows_than_asked(asked: int) -> list[tuple[query_pb2.Table, bool]]:
    return [(rows(asked + 1), True)]


def more_chunks_than_needed(asked: int) -> list[tuple[query_pb2.Table, bool]]:
    return [(rows(1), False) for _ in range(asked - 1)] + [(rows(1), True)]


def too_many_bytes(asked: int) -> list[tuple[query_pb2.Table, bool]]:
    return [(rows(asked, "x" * 100_000), True)]  # 300 kB where 3 rows get at most 76 KiB


def over_the_receive_limit(asked: int) -> list[tuple[query_pb2.Table, bool]]:
    return [(rows(asked, "x" * (DEFAULT_MESSAGE_BYTES // asked + 1)), True)]


class HostileNode(NodeServicer):
    """Signs with the node's real key and chains its chunks; sends what ``script`` says.

    ``open_streams`` counts Screen streams still being sent: a cancelled one ends.
    """

    def __init__(self, state: NodeState, script: Script) -> None:
        super().__init__(state)
        self._script = script
        self.open_streams = 0
        self._lock = threading.Lock()

    def _bound(self, envelope: envelope_pb2.Envelope) -> tuple[query_pb2.Query, bytes, int]:
        query = query_pb2.Query.FromString(envelope.payload)
        asked = max((len(v.texts.values) or v.table.row_count for v in query.params.values()),
                    default=0)
        return query, digest(envelope.payload), asked

    def Screen(self, request: node_pb2.ScreenRequest,
               context: grpc.ServicerContext) -> Iterator[node_pb2.ScreenResponse]:
        query, request_digest, asked = self._bound(request.envelope)
        previous = b""
        with self._lock:
            self.open_streams += 1
        try:
            for sequence, (table, last) in enumerate(self._script(asked)):
                chunk = query_pb2.AnswerChunk(
                    request_digest=request_digest, query_id=query.query_id,
                    node_id=self._state.config.node_id, sequence=sequence,
                    previous_chunk_digest=previous, last=last, table=table)
                signed = sign(PAYLOAD_CHUNK, chunk.SerializeToString(deterministic=True),
                              [self._state.signing_key])
                previous = digest(signed.payload)
                yield node_pb2.ScreenResponse(envelope=envelope_to_proto(signed))
        finally:
            with self._lock:
                self.open_streams -= 1

    def streams_end(self) -> bool:
        """Whether every Screen stream ends within a few seconds (a cancelled one ends)."""
        return wait_for(lambda: self.open_streams == 0)

    def Query(self, request: node_pb2.QueryRequest,
              context: grpc.ServicerContext) -> node_pb2.QueryResponse:
        query, request_digest, asked = self._bound(request.envelope)
        answer = query_pb2.Answer(
            request_digest=request_digest, query_id=query.query_id,
            node_id=self._state.config.node_id, status=query_pb2.ANSWER_STATUS_OK,
            table=rows(asked + 1))
        signed = sign(PAYLOAD_ANSWER, answer.SerializeToString(deterministic=True),
                      [self._state.signing_key])
        return node_pb2.QueryResponse(envelope=envelope_to_proto(signed))


def with_hostile_broker(
    federation: Federation, script: Script, max_answer_rows: int | None = None
) -> Iterator[tuple[LiveFederation, HostileNode]]:
    """A live federation whose coordinator reaches a hostile servicer for the broker."""
    for live in live_federation(federation):
        state = live.nodes[BROKER].state
        hostile = HostileNode(state, script)
        server, port = serve(hostile, state)
        config = live.coordinator.config
        nodes = dict(config.nodes)
        nodes[BROKER] = replace(nodes[BROKER], address=f"127.0.0.1:{port}")
        live.coordinator.close()
        screening = replace(config.screening, max_answer_rows=max_answer_rows
                            or config.screening.max_answer_rows)
        live.coordinator = Coordinator(replace(config, nodes=nodes, screening=screening))
        try:
            yield live, hostile
        finally:
            live.coordinator.close()
            server.stop(None).wait()


@pytest.mark.parametrize(("script", "message"), [
    (endless, "more than 1 chunks for 3 shipments asked"),
    (more_rows_than_asked, "more than 3 rows for 3 shipments asked"),
    (more_chunks_than_needed, "more than 1 chunks for 3 shipments asked"),
    (too_many_bytes, "more than 77824 bytes for 3 shipments asked"),  # 3 x 4 KiB + 64 KiB
])
def test_a_stream_beyond_what_was_asked_is_cut_off(
    federation: Federation, script: Script, message: str
) -> None:
    for live, hostile in with_hostile_broker(federation, script):
        with pytest.raises(VerificationError) as caught:
            live.coordinator.screen(BROKER, "shipment_known", {"house_bills": ASKED}, CONTEXT)
        assert f"{BROKER} sent {message}" in str(caught.value)
        assert "cut off" in str(caught.value)
        # the call was cancelled: the node's stream ended (an endless one included)
        assert hostile.streams_end()


def test_an_endless_stream_without_a_batch_stops_at_the_configured_rows(
    federation: Federation,
) -> None:
    max_rows = 3 * CHUNK_ROWS
    for live, hostile in with_hostile_broker(federation, endless, max_answer_rows=max_rows):
        with pytest.raises(VerificationError, match="more than 3 chunks for a consignee"):
            live.coordinator.screen(BROKER, "consignee_daily_totals",
                                    {"date_from": "2025-01-01", "date_to": "2025-01-02"},
                                    CONTEXT)
        assert hostile.streams_end()


def test_a_message_over_the_receive_limit_is_refused(federation: Federation) -> None:
    for live, _ in with_hostile_broker(federation, over_the_receive_limit):
        with pytest.raises(RemoteError) as caught:
            live.coordinator.screen(BROKER, "shipment_known", {"house_bills": ASKED}, CONTEXT)
        assert caught.value.code == "RESOURCE_EXHAUSTED"


def test_a_single_answer_with_more_rows_than_asked_is_refused(federation: Federation) -> None:
    for live, _ in with_hostile_broker(federation, endless):
        with pytest.raises(VerificationError, match="sent more than 3 rows for 3 shipments"):
            live.coordinator.ask(BROKER, "shipment_known", {"house_bills": ASKED}, CONTEXT)


def test_screening_goes_on_with_the_hostile_node_marked_failed(
    world_federation: Federation, world: World
) -> None:
    for live, hostile in with_hostile_broker(world_federation, endless,
                                             max_answer_rows=CHUNK_ROWS):
        results, summary = run_screening(live, world, batch_size=1_000)
        assert results
        for result in results:
            assert BROKER not in result.answered_by
            assert set(result.answered_by) == {"marketplace-1", "carrier-1"}
            (missing,) = result.no_answer
            assert missing.startswith(f"no answer from {BROKER} (")
            assert "more than 1 chunks" in missing or "treated as down" in missing
        stats = {n.node_id: n for n in summary.nodes}
        assert stats[BROKER].batches_answered == 0
        assert stats[BROKER].batches_failed > 0
        assert hostile.streams_end()


@pytest.mark.parametrize(("key", "value"), [
    ("max_answer_rows", 0), ("max_answer_rows", "many"), ("max_answer_bytes", 1024),
])
def test_answer_bounds_are_validated_strictly(
    federation: Federation, key: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    path = federation.write_coordinator_config({n: "127.0.0.1:1" for n in federation.node_configs})
    document = yaml.safe_load(path.read_text())
    document["screening"][key] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    assert fedtrade_main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:" in err
    assert f"screening.{key}" in err
    assert "Traceback" not in err
