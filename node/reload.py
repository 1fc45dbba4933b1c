"""Apply an edited trust config to a running node, all or nothing.

A watcher thread checks the config file every ``interval`` seconds. A changed
file is loaded and validated in full, and must carry a higher ``version`` than
the config in force; only then does it replace the config in force, in one
assignment, so requests see either the old or the new config. Any refused
edit, whatever the error, is logged and counted (``fedtrade_config_reloads_refused``),
the previous config stays in force, and the watcher keeps watching: a later
fixed edit, such as a key revocation, still applies.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from fedtrade.node.config import NodeConfig, check_unchanged, load_node_config
from fedtrade.node.state import NodeState
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.files import MAX_CONFIG_BYTES, FileShapeError, read_capped

__all__ = ["ConfigWatcher", "reload_config"]

log = logging.getLogger("fedtrade.node.reload")


def _fingerprint(path: Path) -> bytes | None:
    try:
        return hashlib.sha256(read_capped(path, MAX_CONFIG_BYTES)).digest()
    except (OSError, FileShapeError):
        return None


def reload_config(state: NodeState) -> NodeConfig | None:
    """Load the config file again and put it in force; return it, or None if refused."""
    current = state.config
    try:
        new = load_node_config(current.path)
        check_unchanged(current, new)
    except Exception as exc:  # a config file must never stop the node from watching
        if isinstance(exc, FedtradeError):
            log.error("config change refused, version %d stays in force: %s",
                      current.version, exc)
        else:
            log.exception("config change refused, version %d stays in force: unexpected "
                          "%s while loading it", current.version, type(exc).__name__)
        if state.metrics is not None:
            state.metrics.count_refused_reload()
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
            try:
                fingerprint = _fingerprint(self._state.config.path)
                # Load only a file that stayed the same for one interval: an editor may be
                # halfway through writing it (the README recommends replacing it by rename).
                stable = fingerprint == previous
                previous = fingerprint
                if stable and fingerprint is not None and fingerprint != self._seen:
                    self._seen = fingerprint
                    reload_config(self._state)
            except Exception:  # keep watching: the next edit may be the one that matters
                log.exception("config watcher: unexpected error, still watching")
