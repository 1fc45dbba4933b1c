"""Real `fedtrade-node serve` processes answering from the PostgreSQL data store.

The broker of the synthetic world answers a signed Screen batch from its SQLite file;
then its data is published to PostgreSQL by `fedtrade-node import` (``store.data:
postgresql``), the SQLite file is deleted, and two replicas on the one PostgreSQL
store answer the same batch, alternately: the same rows, cell by cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.node.cli import main as node_main
from fedtrade.node.config import load_node_config
from fedtrade.protocol.tables import decode_table
from fedtrade.protocol.wire import PyValue, table_value
from fedtrade.sim.federation import Federation
from fedtrade.trust.envelope import Envelope
from tests.conftest import CONTEXT, World, attest
from tests.node.test_node_process import start, stop, two_replicas
from tests.pg import write_dsn_file

NODE = "broker-1"
QUERY_ID = re.compile(r"\b[0-9a-f]{32}\b")
BATCH = 600


def screen(federation: Federation, target: str, bills: list[str], blocks: list[Envelope],
           times: int = 1) -> list[list[tuple[PyValue, ...]]]:
    """The rows of ``times`` answers to one batch (new query ids), over one channel."""
    federation.write_coordinator_config({NODE: target})
    coordinator = Coordinator(load_coordinator_config(federation.coordinator_config))
    answers = []
    try:
        for _ in range(times):
            chunks = coordinator.screen(NODE, "shipment_indicators",
                                        {"shipments": table_value({"house_bill": bills})},
                                        CONTEXT, attestations=blocks)
            answers.append([tuple(record.values()) for chunk in chunks
                            for record in decode_table(chunk.table).records()])
    finally:
        coordinator.close()
    return answers


def use_postgresql_data(config: Path, dsn: str) -> None:
    data = yaml.safe_load(config.read_text())
    data["store"] = {"backend": "postgresql", "dsn_file": "pg.dsn", "data": "postgresql"}
    write_dsn_file(config.parent / "pg.dsn", dsn)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.slow
def test_two_replicas_on_postgresql_data_answer_a_screen_batch_as_sqlite(
    world_federation: Federation, world: World, pg_dsn: str
) -> None:
    federation = world_federation
    config = federation.node_configs[NODE]
    lines = world.manifest()[:BATCH]
    bills = [line["house_bill"] for line in lines] + ["ZZ0000000001"]
    blocks = attest(federation.filer_key(), federation.filer_id,
                    [*lines, {"house_bill": "ZZ0000000001"}])
    process, address = start(config, federation.root / "port-0")
    try:
        (expected,) = screen(federation, address, bills, blocks)
    finally:
        stop(process)
    assert sum(1 for row in expected if row[1]) > BATCH // 2  # known to the broker
    assert expected[-1][1] is False

    use_postgresql_data(config, pg_dsn)
    assert node_main(["import", "--config", str(config), str(world.folder / "broker")]) == 0
    database = load_node_config(config).database
    for suffix in ("", "-wal", "-shm"):  # the replicas have no data file of their own
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    with two_replicas(config, federation.root) as (target, outputs):
        answers = screen(federation, target, bills, blocks, times=6)
    assert all(QUERY_ID.search(output) for output in outputs)  # both replicas answered
    for answer in answers:
        assert answer == expected
