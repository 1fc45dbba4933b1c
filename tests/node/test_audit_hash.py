"""The audit entry hash: its fast writer must produce exactly the canonical JSON it is
defined by, or stored chains would stop verifying."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from fedtrade.node.audit import AuditEntry, canonical_json, entry_hash

_text = st.text(max_size=40)  # any code point, surrogates and controls included
_entries = st.builds(AuditEntry, *([_text] * len(AuditEntry.__dataclass_fields__)))


@given(entry=_entries, seq=st.integers(min_value=0, max_value=2**63), prev=_text)
def test_entry_hash_covers_exactly_the_canonical_json(entry: AuditEntry, seq: int,
                                                      prev: str) -> None:
    canonical = canonical_json(seq, entry, prev)
    assert entry_hash(seq, entry, prev) == hashlib.sha256(canonical.encode("ascii")).hexdigest()


def test_a_non_text_field_read_from_a_database_hashes_by_the_definition() -> None:
    fields = dict.fromkeys(AuditEntry.__dataclass_fields__, "x")
    entry = AuditEntry(**{**fields, "reason": 7})  # type: ignore[arg-type]
    canonical = canonical_json(3, entry, "0" * 64)
    assert '"reason":7' in canonical
    assert entry_hash(3, entry, "0" * 64) == hashlib.sha256(canonical.encode()).hexdigest()
