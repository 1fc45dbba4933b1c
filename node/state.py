"""The node's open resources: its state store (``node.statestore``) and its key.

Refusals before authentication are only counted here (``refusals``) and reach
the audit log aggregated, once per interval and at shutdown. The node signs a
checkpoint of its audit head at start, every ``CHECKPOINT_SECONDS`` while it
answers and at shutdown; answers carry the latest, and each one is appended to
the checkpoint file next to the database (``checkpoint_file``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fedtrade.node.attestation import AttestationCache
from fedtrade.node.config import NodeConfig
from fedtrade.node.enumeration import EnumerationAlarm
from fedtrade.node.metrics import NodeMetrics
from fedtrade.node.ratelimit import RateLimiter
from fedtrade.node.refusals import RefusalTally
from fedtrade.node.statestore import StateStore, open_state_store
from fedtrade.protocol.checkpoints import sign_checkpoint
from fedtrade.protocol.envelope_files import envelope_line
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import FedtradeError
from fedtrade.trust.files import not_regular
from fedtrade.trust.keys import SigningKey

__all__ = ["CHECKPOINT_SECONDS", "NodeState", "checkpoint_file"]

CHECKPOINT_SECONDS = 60.0


def checkpoint_file(database: Path) -> Path:
    """Where a node appends the audit checkpoints it signs: next to its database."""
    return database.with_name(database.name + ".checkpoints.jsonl")


@dataclass
class NodeState:
    """Everything a request handler needs; the config may be swapped on reload."""

    config: NodeConfig
    signing_key: SigningKey
    store: StateStore
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    metrics: NodeMetrics | None = None
    clock: Callable[[], float] = field(default=time.time)
    refusals: RefusalTally = field(default_factory=RefusalTally)
    alarm: EnumerationAlarm = field(default_factory=EnumerationAlarm)
    checkpoint: Envelope | None = None  # the latest signed audit checkpoint
    attested: AttestationCache = field(default_factory=AttestationCache)  # verified blocks
    _checkpoint_signed: float = field(default=float("-inf"), repr=False)

    @classmethod
    def open(cls, config: NodeConfig) -> NodeState:
        signing_key = SigningKey.from_file(config.signing_key)
        store = open_state_store(config)
        state = cls(config=config, signing_key=signing_key, store=store,
                    rate_limiter=store.rate_limiter())
        state.sign_checkpoint()
        return state

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._checkpoint_signed >= CHECKPOINT_SECONDS

    def sign_checkpoint(self) -> Envelope:
        """Sign the audit head, keep it for the answers and append it to the checkpoint file."""
        self._checkpoint_signed = time.monotonic()
        sequence, entry_hash = self.store.audit_head()
        envelope = sign_checkpoint(self.signing_key, self.config.node_id, sequence, entry_hash,
                                   datetime.fromtimestamp(self.clock(), UTC))
        path = checkpoint_file(self.config.database)
        kind = not_regular(path)  # opening a FIFO to append waits for a reader for ever
        if kind is not None:
            raise FedtradeError(f"{path}: is {kind}, not a regular file; the node appends its "
                                "signed audit checkpoints there: move it away")
        try:
            with path.open("a", encoding="ascii") as out:
                out.write(envelope_line(envelope) + "\n")
        except OSError as exc:
            raise FedtradeError(
                f"{path}: cannot append the audit checkpoint: {exc.strerror}; the node needs "
                "write access next to its database") from exc
        self.checkpoint = envelope
        return envelope

    def flush_refusals(self) -> None:
        """Write the aggregated refusals before authentication counted so far."""
        for entry in self.refusals.drain():
            self.store.record(entry)

    def close(self) -> None:
        try:
            self.flush_refusals()
            self.sign_checkpoint()
        finally:
            self.store.close()
