"""The consignee keys a store rebuilds column-wise equal the per-value function's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.node.store.indicators import consignee_keys
from fedtrade.protocol.matching import normalize_consignee
from fedtrade.trust.linkage import consignee_material

# Any unicode, and the spellings the normalisation folds (honorifics, street words, "#").
_TEXT = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(["Mr.", "dr", "Jane", "ROE,", "Şenol", "12", "Main", "Street",
                              "Apartment", "#4", "apt", "# ", "Straße", "北京", " ", "\t"]),
             max_size=8).map(" ".join),
)


# no deadline: whole-column calls pay pyarrow setup, and this machine is shared
@settings(deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=20))
def test_keys_equal_the_material_of_the_normalised_consignee(
    consignees: list[tuple[str, str]]
) -> None:
    names = [name for name, _ in consignees]
    addresses = [address for _, address in consignees]
    assert consignee_keys(names, addresses) == [
        consignee_material(*normalize_consignee(name, address))
        for name, address in consignees]
