"""Real `fedtrade-node serve` processes answering from the PostgreSQL data store.

The broker of the synthetic world answers a signed Screen batch from its SQLite file;
then its data is published to PostgreSQL by `fedtrade-node import` (``store.data:
postgresql``), the SQLite file is moved away, and two replicas on the one PostgreSQL
store answer the same batch, alternately: the same rows, cell by cell. An amendment
imported while they run reaches their next answer, without a restart.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
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
    host = federation.root / "import-host"
    host.mkdir()
    files = [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]
    for path in files:  # the replicas have no data file of their own
        if path.exists():
            path.rename(host / path.name)
    with two_replicas(config, federation.root) as (target, outputs):
        answers = screen(federation, target, bills, blocks, times=6)
        for path in files:  # the import host publishes an amendment meanwhile
            if (host / path.name).exists():
                (host / path.name).rename(path)
        held = hold(world.folder / "broker" / "entries.csv", bills[:100],
                    federation.root / "entries-hold.csv")
        assert node_main(["import", "--config", str(config), "entries", str(held.path)]) == 0
        (amended,) = screen(federation, target, bills, blocks)
    assert all(QUERY_ID.search(output) for output in outputs)  # both replicas answered
    for answer in answers:
        assert answer == expected
    assert len(held.bills) > 10
    for bill, before, after in zip(bills, expected, amended, strict=True):
        if bill in held.bills:
            assert "hold" not in before, bill
            assert "hold" in after, bill
        else:
            assert after == before, bill


@dataclass(frozen=True)
class Held:
    path: Path
    bills: frozenset[str]


def hold(entries: Path, bills: list[str], out: Path) -> Held:
    """A versioned entries file putting on hold the entries of ``bills`` (each the only
    entry of its house bill, not on hold already)."""
    with entries.open(newline="") as f:
        rows = list(csv.DictReader(f))
    once = Counter(row["house_bill"] for row in rows)
    picked = [row for row in rows if row["house_bill"] in bills
              and once[row["house_bill"]] == 1 and row["release_status"] != "hold"]
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, [*rows[0], "version"])
        writer.writeheader()
        writer.writerows({**row, "release_status": "hold", "version": 1} for row in picked)
    return Held(out, frozenset(row["house_bill"] for row in picked))
