"""Signed audit checkpoints: a node's signed statement of the head of its audit log.

A node signs (sequence, entry hash) of its newest committed audit entry now and
then and at shutdown, and every answer carries the latest one. Whoever holds a
checkpoint can later show that the node's log was truncated or rewritten: the
log must still hold entry ``sequence`` with that hash (``check_log_extends``),
and no checkpoint of the same node may contradict another (``check_consistent``).
Checkpoint files hold one JSON envelope per line (``protocol.envelope_files``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from fedtrade.protocol.wire import PAYLOAD_CHECKPOINT, parse_payload, timestamp, to_datetime
from fedtrade.protos import query_pb2
from fedtrade.trust.envelope import Envelope, sign, verify
from fedtrade.trust.errors import VerificationError
from fedtrade.trust.keys import PublicKey, SigningKey

__all__ = [
    "Checkpoint",
    "TruncationError",
    "check_consistent",
    "check_log_extends",
    "sign_checkpoint",
    "verify_checkpoint",
]

class TruncationError(VerificationError):
    """An audit log or a checkpoint contradicts a checkpoint the node signed earlier."""


@dataclass(frozen=True)
class Checkpoint:
    node_id: str
    sequence: int
    entry_hash: str
    signed_at: datetime

    def __str__(self) -> str:
        return (f"checkpoint of {self.node_id} at entry {self.sequence} "
                f"(signed {self.signed_at.isoformat(timespec='seconds')})")


def sign_checkpoint(
    key: SigningKey, node_id: str, sequence: int, entry_hash: str, at: datetime
) -> Envelope:
    message = query_pb2.AuditCheckpoint(node_id=node_id, sequence=sequence, entry_hash=entry_hash)
    message.signed_at.CopyFrom(timestamp(at))
    return sign(PAYLOAD_CHECKPOINT, message.SerializeToString(deterministic=True), [key])


def verify_checkpoint(envelope: Envelope, *, node_id: str, node_key: PublicKey) -> Checkpoint:
    """Verify ``node_key``'s signature and that the checkpoint is about ``node_id``."""
    payload = verify(envelope, {node_key.key_id: node_key}, payload_type=PAYLOAD_CHECKPOINT)
    message = parse_payload(query_pb2.AuditCheckpoint, payload)
    if message.node_id != node_id:
        raise VerificationError(
            f"the audit checkpoint names node {message.node_id[:64]!r}, expected {node_id!r}")
    return Checkpoint(message.node_id, message.sequence, message.entry_hash,
                      to_datetime(message.signed_at))


def check_log_extends(checkpoint: Checkpoint, hash_at: Callable[[int], str | None]) -> None:
    """Raise TruncationError unless the log still holds the checkpoint's entry and hash.

    ``hash_at(seq)`` returns the stored hash of entry ``seq``, or None if there is none.
    """
    if checkpoint.sequence == 0:
        return
    found = hash_at(checkpoint.sequence)
    if found is None:
        raise TruncationError(
            f"the audit log ends before entry {checkpoint.sequence}, but the node signed a "
            f"{checkpoint}: its newest entries were deleted; keep the database and the "
            "checkpoint as evidence and investigate")
    if found != checkpoint.entry_hash:
        raise TruncationError(
            f"entry {checkpoint.sequence} does not have the hash of the {checkpoint}: the log "
            "was truncated and continued, or rewritten; keep the database and the checkpoint "
            "as evidence and investigate")


def check_consistent(checkpoints: Iterable[Checkpoint]) -> None:
    """Raise TruncationError if two checkpoints of one node contradict each other.

    A later checkpoint must not name fewer entries than an earlier one, and two
    checkpoints at the same entry must name the same hash.
    """
    newest: dict[str, Checkpoint] = {}
    by_entry: dict[tuple[str, int], Checkpoint] = {}
    for checkpoint in sorted(checkpoints, key=lambda c: c.signed_at):
        seen = by_entry.setdefault((checkpoint.node_id, checkpoint.sequence), checkpoint)
        if seen.entry_hash != checkpoint.entry_hash:
            raise TruncationError(
                f"the {checkpoint} names another hash for entry {checkpoint.sequence} than the "
                f"{seen}: the node's audit log was truncated and continued, or rewritten")
        previous = newest.get(checkpoint.node_id)
        if previous is not None and checkpoint.sequence < previous.sequence:
            raise TruncationError(
                f"the {checkpoint} names fewer entries than the earlier {previous}: the "
                "node's audit log lost entries (truncated, or restored from an old copy)")
        newest[checkpoint.node_id] = checkpoint
