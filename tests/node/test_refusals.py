"""Refusals before authentication: counted per peer and reason, drained as bounded rows."""

from __future__ import annotations

from fedtrade.node.peers import MAX_PEER_CHARS, peer_host
from fedtrade.node.refusals import MAX_EXAMPLE_CHARS, UNAUTHENTICATED, RefusalTally


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_row_per_peer_and_reason_per_interval() -> None:
    clock = Clock()
    tally = RefusalTally(interval=60.0, clock=clock)
    for _ in range(300):
        tally.add("ipv4:10.0.0.1", "UnknownKeyError", "x" * 100_000)
    tally.add("ipv4:10.0.0.1", "BadSignatureError", "bad")
    tally.add("ipv4:10.0.0.2", "UnknownKeyError", "unknown")
    assert not tally.due()
    clock.now = 60.0
    assert tally.due()
    rows = tally.drain()
    assert [(row.requester, row.decision) for row in rows] == [(UNAUTHENTICATED, "refused")] * 3
    reasons = [row.reason for row in rows]
    assert reasons[1].startswith(
        "300 request(s) refused before authentication from ipv4:10.0.0.1 between ")
    assert ": UnknownKeyError; last reason: " + "x" * MAX_EXAMPLE_CHARS in reasons[1]
    assert all(len(reason) < 400 for reason in reasons)
    assert not tally.due()
    assert tally.drain() == []


def test_peers_beyond_the_bound_are_counted_together() -> None:
    tally = RefusalTally(max_peers=3)
    for n in range(100):
        tally.add(f"ipv6:[2001:db8::{n:x}]", "UnknownKeyError", "unknown")
    rows = tally.drain()
    assert len(rows) == 4
    assert rows[-1].reason.startswith("97 request(s) refused before authentication from other ")


def test_peer_host_drops_the_port_and_caps_length() -> None:
    assert peer_host("ipv4:127.0.0.1:50123") == "ipv4:127.0.0.1"
    assert peer_host("ipv6:[::1]:50123") == "ipv6:[::1]"
    assert peer_host("unix:/tmp/socket") == "unix:/tmp/socket"
    assert len(peer_host("unix:" + "a" * 1000)) == MAX_PEER_CHARS
