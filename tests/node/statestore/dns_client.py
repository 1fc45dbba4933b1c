"""The coordinator side of the DNS round-robin test, run as its own process inside a mount
namespace whose /etc/hosts names both replicas (so only this process resolves the name).

    python -m tests.node.statestore.dns_client COORDINATOR_CONFIG NODE COUNT

One Coordinator (one channel to NODE) sends COUNT signed describes, then one signed
request four times at once; prints {"answered": [query ids], "duplicates": [outcomes]}.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
from pathlib import Path

from fedtrade.coordinator.client import Coordinator
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.protocol.catalogue import DESCRIBE
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import RemoteError
from tests.conftest import CONTEXT


def outcome(coordinator: Coordinator, query: query_pb2.Query, request: Envelope) -> str:
    try:
        coordinator.send(query, request)
    except RemoteError as exc:
        return "replay" if "already used" in str(exc) else str(exc)
    return "answered"


def main(config: Path, node_id: str, count: int) -> dict[str, list[str]]:
    coordinator = Coordinator(load_coordinator_config(config))
    try:
        answered = [coordinator.ask(node_id, DESCRIBE, {}, CONTEXT).query.query_id.hex()
                    for _ in range(count)]
        query, request = coordinator.sign_query(
            coordinator.config.node(node_id), DESCRIBE, {}, CONTEXT)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            duplicates = list(pool.map(lambda _: outcome(coordinator, query, request), range(4)))
    finally:
        coordinator.close()
    return {"answered": answered, "duplicates": duplicates}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))))
