"""Apply an edited trust config to a running node, all or nothing.

A watcher thread checks the config file every ``interval`` seconds. A changed
file is loaded and validated in full; only then does it replace the config in
force, in one assignment, so requests see either the old or the new config. A
broken edit is logged with its error and the previous config stays in force.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from fedtrade.node.config import NodeConfig, check_unchanged, load_node_config
from fedtrade.node.state import NodeState
from fedtrade.trust.errors import FedtradeError

__all__ = ["ConfigWatcher", "reload_config"]

log = logging.getLogger("fedtrade.node.reload")


def _fingerprint(path: Path) -> bytes | None:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None


def reload_config(state: NodeState) -> NodeConfig | None:
    """Load the config file again and put it in force; return it, or None if refused."""
    current = state.config
    try:
        new = load_node_config(current.path)
        check_unchanged(current, new)
    except FedtradeError as exc:
        log.error("config change refused, version %d stays in force: %s", current.version, exc)
        return None
    state.config = new
    if state.metrics is not None:
        state.metrics.observe_config(new)
    log.info("config version %d now in force (was %d)", new.version, current.version)
    return new


class ConfigWatcher:
    def __init__(self, state: NodeState, interval: float = 1.0) -> None:
        self._state = state
        self._interval = interval
        self._stop = threading.Event()
        self._seen = _fingerprint(state.config.path)
        self._thread = threading.Thread(target=self._run, name="config-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        previous = self._seen
        while not self._stop.wait(self._interval):
            fingerprint = _fingerprint(self._state.config.path)
            # Load only a file that stayed the same for one interval: an editor may be
            # halfway through writing it.
            stable = fingerprint == previous
            previous = fingerprint
            if stable and fingerprint is not None and fingerprint != self._seen:
                self._seen = fingerprint
                reload_config(self._state)
