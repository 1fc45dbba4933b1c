"""Several marketplaces of differing data-sharing quality, cut from one generated world.

A generated world has one marketplace. ``split_marketplace`` deals its orders
out to several marketplace stakeholders (each order to one, by a keyed hash, in
proportion to ``share``); each stakeholder then withholds a share of its own
orders (they never reach its node: lower coverage) and mislabels the HS hint of
a share of its listings at chapter level (lower consistency with the carrier
and broker, and false misclassification hints). Reference data (sellers, their
links, recalls) goes to every stakeholder. The same seed gives the same files.

Not simulated: timeliness (a generated manifest is screened after its arrival
days, so every node scores 0 there) and several carriers (the one carrier files
and attests the whole manifest).
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fedtrade.trust.errors import DataError

__all__ = ["DEFAULT_MARKETPLACES", "SharingQuality", "split_marketplace"]

_REFERENCE = ("sellers.csv", "seller_links.csv", "recalled_products.csv")
# Chapters a mislabelled hint is moved to (apparel, electronics, toys, footwear, plastics).
_WRONG_CHAPTERS = ("61", "85", "95", "64", "39")


@dataclass(frozen=True)
class SharingQuality:
    node_id: str
    share: float  # share of the world's orders this marketplace handles
    withheld: float  # share of its own orders it does not put in its node
    hs_error_rate: float  # share of its listings whose HS hint is wrong at chapter level


DEFAULT_MARKETPLACES = (
    SharingQuality("marketplace-1", share=0.6, withheld=0.0, hs_error_rate=0.0),
    SharingQuality("marketplace-2", share=0.4, withheld=0.3, hs_error_rate=0.25),
)


def _draw(seed: int, *labels: str) -> float:
    """A reproducible number in [0, 1) for ``labels``."""
    data = hashlib.sha256(":".join([str(seed), *labels]).encode()).digest()
    return int.from_bytes(data[:8], "big") / 2**64


def _owner(seed: int, order_id: str, stakeholders: Sequence[SharingQuality]) -> int:
    point, total = _draw(seed, "owner", order_id), 0.0
    for index, stakeholder in enumerate(stakeholders):
        total += stakeholder.share
        if point < total:
            return index
    return len(stakeholders) - 1


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)


def _mislabel(seed: int, node_id: str, row: dict[str, str], rate: float) -> dict[str, str]:
    hint = row.get("hs6_hint", "")
    if len(hint) != 6 or _draw(seed, "hs", node_id, row["listing_id"]) >= rate:
        return row
    wrong = next(c for c in _WRONG_CHAPTERS if c != hint[:2])
    return {**row, "hs6_hint": wrong + hint[2:]}


def split_marketplace(
    marketplace: Path, out: Path, stakeholders: Sequence[SharingQuality] = DEFAULT_MARKETPLACES,
    *, seed: int = 1,
) -> dict[str, Path]:
    """Write one import folder per stakeholder under ``out``; node id -> folder."""
    if abs(sum(s.share for s in stakeholders) - 1.0) > 1e-9:
        raise DataError("the marketplaces' shares must add up to 1")
    header_orders, orders = _rows(marketplace / "orders.csv")
    header_lines, lines = _rows(marketplace / "order_lines.csv")
    header_fulfil, fulfilments = _rows(marketplace / "fulfillments.csv")
    header_listings, listings = _rows(marketplace / "listings.csv")
    folders = {}
    for index, stakeholder in enumerate(stakeholders):
        folder = out / stakeholder.node_id
        folder.mkdir(parents=True, exist_ok=False)
        kept = {o["order_id"] for o in orders
                if _owner(seed, o["order_id"], stakeholders) == index
                and _draw(seed, "withheld", o["order_id"]) >= stakeholder.withheld}
        _write(folder / "orders.csv", header_orders,
               [o for o in orders if o["order_id"] in kept])
        _write(folder / "order_lines.csv", header_lines,
               [line for line in lines if line["order_id"] in kept])
        _write(folder / "fulfillments.csv", header_fulfil,
               [f for f in fulfilments if f["order_id"] in kept])
        _write(folder / "listings.csv", header_listings,
               [_mislabel(seed, stakeholder.node_id, row, stakeholder.hs_error_rate)
                for row in listings])
        for name in _REFERENCE:
            if (marketplace / name).exists():
                shutil.copyfile(marketplace / name, folder / name)
        folders[stakeholder.node_id] = folder
    return folders
