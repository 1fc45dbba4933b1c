"""Column-wise consignee keys equal the per-row normalisation's (protocol.matching)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.coordinator.consignee_keys import consignee_keys
from fedtrade.protocol.matching import normalize_consignee

_PIECES = ["Jane", "ROE,", "mr", "Dr.", "  ", "#4", "Apt", "apartment", "Street", "st.",
           "12", "Main", "\u015eenol", "M\u00fcller", "-", "Suite", "unit", "APT", "o'neil", ""]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=7).map(" ".join) | st.text(max_size=12)


def _expected(name: str, address: str) -> tuple[int, str]:
    normal_name, normal_address = normalize_consignee(name, address)
    digest = hashlib.blake2b(f"{normal_name}\x1f{normal_address}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big"), normal_address


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=40))
def test_keys_match_the_per_row_normalisation(rows: list[tuple[str, str]]) -> None:
    expected = [_expected(n, a) for n, a in rows]
    forwarders = frozenset(address for _, address in expected[::3])
    keys, at_forwarder = consignee_keys(pa.array([n for n, _ in rows], pa.string()),
                                        pa.array([a for _, a in rows], pa.string()),
                                        forwarders)
    assert keys.tolist() == [key for key, _ in expected]
    assert at_forwarder.tolist() == [address in forwarders for _, address in expected]
