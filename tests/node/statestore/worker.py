"""A node process's state operations, run as a separate process by the replica tests.

    python -m tests.node.statestore.worker claim DSN DATABASE IDS_FILE GO_FILE
        claims each query id of IDS_FILE (one per line) once GO_FILE exists, recording an
        "answered" audit entry for the ids it won and a "refused" one for the others, as
        the node's pipeline does; prints the ids it won
    python -m tests.node.statestore.worker hold DSN DATABASE
        inserts an audit entry inside its transaction, prints "inserted" and waits to be
        killed before committing
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fedtrade.node.statestore import PostgresStateStore
from fedtrade.trust.errors import ReplayError
from tests.node.statestore.backends import ROLE, entry


def claim(store: PostgresStateStore, ids: list[str], go: Path) -> None:
    while not go.exists():
        time.sleep(0.005)
    for n, query_id in enumerate(ids):
        try:
            store.reserve_query_id(query_id)
        except ReplayError:
            store.record(entry(n, "refused"))
            continue
        store.record(entry(n), seen=query_id)
        print(query_id, flush=True)


def hold(store: PostgresStateStore) -> None:
    with store.transaction() as conn:
        store._append(conn, entry(0))
        print("inserted", flush=True)
        time.sleep(120)


def main(argv: list[str]) -> None:
    mode, dsn, database = argv[:3]
    store = PostgresStateStore(Path(database), ROLE, dsn)
    if mode == "claim":
        claim(store, Path(argv[3]).read_text().split(), Path(argv[4]))
    else:
        hold(store)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
