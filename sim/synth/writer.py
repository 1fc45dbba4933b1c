"""``generate``: write a whole synthetic federation to a folder, in parallel chunks."""

from __future__ import annotations

import csv
import functools
import gc
import json
import math
import multiprocessing
import multiprocessing.pool
import os
import shutil
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from fedtrade.sim.synth.confounders import ConfounderMix
from fedtrade.sim.synth.patterns import PATTERNS, RiskRates
from fedtrade.sim.synth.shipments import (
    CHUNK_FILES,
    MAX_SHIPMENTS,
    ChunkResult,
    Tables,
    forwarders,
    generate_chunk,
    prepare,
)
from fedtrade.sim.synth.world import Params, World, build_world
from fedtrade.trust.errors import DataError

__all__ = ["CHUNK_SHIPMENTS", "COLUMNS", "SynthSummary", "generate"]

# Shipments per chunk. Part of the output's definition: each chunk has its own
# random stream, so changing this changes the data (not the layout).
CHUNK_SHIPMENTS = 10_000
MIN_SPLIT_THRESHOLD_USD = 25.0
FORMAT_VERSION = 1

COLUMNS: dict[str, tuple[str, ...]] = {
    "marketplace/sellers": (
        "seller_id", "legal_name", "address", "country", "tax_id", "kyc_verified",
        "kyc_verified_at", "high_volume", "registered_at", "status",
    ),
    "marketplace/seller_links": ("seller_id", "linked_seller_id", "reason"),
    "marketplace/listings": (
        "listing_id", "seller_id", "title", "category", "hs6_hint", "gtin", "brand", "model",
        "price", "currency", "origin_country",
    ),
    "marketplace/orders": (
        "order_id", "buyer_name", "buyer_address", "ordered_at", "total_paid", "currency",
    ),
    "marketplace/order_lines": (
        "order_id", "line_no", "listing_id", "quantity", "unit_price", "amount_paid",
    ),
    "marketplace/fulfillments": (
        "fulfillment_id", "order_id", "carrier_code", "house_bill", "shipped_at",
    ),
    "marketplace/recalled_products": ("gtin", "recall_id", "source", "recalled_at", "description"),
    "carrier/masters": (
        "mawb", "flight_no", "origin_airport", "destination_airport", "departure_at", "eta",
    ),
    "carrier/house_bills": (
        "house_bill", "mawb", "shipper_name", "shipper_address", "shipper_country",
        "consignee_name", "consignee_address", "pieces", "weight_kg", "declared_value",
        "currency", "description", "hs6", "origin_country", "known_shipper", "screened",
        "preload_status",
    ),
    "carrier/house_bill_items": ("house_bill", "item_no", "description", "hs6", "quantity",
                                 "value"),
    "broker/entries": (
        "entry_number", "entry_type", "importer_of_record", "consignee_name",
        "consignee_address", "port_code", "estimated_arrival", "mawb", "house_bill",
        "total_value_usd", "release_status",
    ),
    "broker/entry_lines": (
        "entry_number", "line_no", "hts10", "description", "origin_country", "quantity",
        "value_usd", "mid", "certificate_ref",
    ),
    "broker/entity_list": ("entity_id", "name", "country", "mid", "list_name", "added_at"),
    "manifest": (
        "house_bill", "mawb", "consignee_name", "consignee_address", "shipper_name",
        "shipper_country", "origin_country", "declared_value", "currency", "hs6",
        "arrival_date",
    ),
    "ground_truth": ("house_bill", "pattern"),
    "marketplace/parcel_lines": ("house_bill", "order_id", "line_no", "quantity"),
    "confounders": ("house_bill", "confounder"),
    "broker/entry_house_bills": ("entry_number", "house_bill"),
    "forwarders": ("name", "address"),
}


@dataclass(frozen=True)
class SynthSummary:
    """What ``generate`` wrote."""

    out_dir: Path
    shipments: int
    seed: int
    threshold_usd: float
    first_arrival: date
    last_arrival: date
    rows: Mapping[str, int]  # "carrier/house_bills" -> data rows written
    patterns: Mapping[str, int]  # pattern -> shipments carrying it

    def __str__(self) -> str:
        lines = [
            f"wrote {self.shipments:,} shipments (seed {self.seed}, arrivals "
            f"{self.first_arrival} to {self.last_arrival}) to {self.out_dir}",
            *(f"  {name}.csv: {count:,} rows" for name, count in self.rows.items()),
            "planted patterns (shipments):",
            *(f"  {name}: {count:,}" for name, count in self.patterns.items()),
        ]
        return "\n".join(lines)


def _check_params(shipments: int, seed: int, threshold_usd: float, days: int,
                  rates: RiskRates) -> None:
    if isinstance(shipments, bool) or not isinstance(shipments, int) or not (
        1 <= shipments <= MAX_SHIPMENTS
    ):
        raise DataError(
            f"shipments={shipments!r} is out of range; give a whole number from 1 to "
            f"{MAX_SHIPMENTS:,}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"seed={seed!r} is not a whole number >= 0; give e.g. --seed 7")
    if not math.isfinite(threshold_usd) or threshold_usd < 0:
        raise DataError(
            f"threshold_usd={threshold_usd!r} is not an amount >= 0; give the de minimis "
            "threshold in USD (800 historically, 0 to disable split shipments)"
        )
    if 0 < threshold_usd < MIN_SPLIT_THRESHOLD_USD and rates.split_shipment > 0:
        raise DataError(
            f"threshold_usd={threshold_usd} is too low to plant split shipments (the "
            f"cheapest products cost a few dollars); use a threshold of at least "
            f"{MIN_SPLIT_THRESHOLD_USD:.0f}, 0 to disable them, or split_shipment=0"
        )
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise DataError(f"days={days!r} is out of range; give a window of 1 to 366 days")


def _make_out_dir(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DataError(f"{out_dir} exists and is not a folder; choose another --out path")
        if any(out_dir.iterdir()):
            raise DataError(
                f"{out_dir} is not empty; choose a new --out folder or empty this one "
                "(synth never overwrites existing files)"
            )
    for role in ("marketplace", "carrier", "broker"):
        (out_dir / role).mkdir(parents=True, exist_ok=True)


def _chunks(shipments: int) -> list[tuple[int, int, int]]:
    return [
        (chunk, start, min(start + CHUNK_SHIPMENTS, shipments))
        for chunk, start in enumerate(range(0, shipments, CHUNK_SHIPMENTS))
    ]


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_TABLES: Tables | None = None  # a worker process's tables, set by _init_worker


def _init_worker(world: World) -> None:
    # A forked worker inherits the parent's signal handlers. The demo's and the benchmark's
    # SIGTERM handler raises KeyboardInterrupt, which in a worker can fire while it holds
    # the pool's task-queue lock: the worker then dies holding it and Pool.terminate()
    # waits on that lock for ever. Workers therefore leave interrupts to the parent
    # (SIGINT ignored) and die at once on SIGTERM, as Pool.terminate() expects.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    global _TABLES
    _TABLES = prepare(world)


def _work(spec: tuple[int, int, int]) -> ChunkResult:
    assert _TABLES is not None, "worker used before _init_worker"
    return generate_chunk(_TABLES, *spec)


def _results(world: World, specs: list[tuple[int, int, int]], workers: int,
             stack: ExitStack) -> Iterator[ChunkResult]:
    if workers <= 1 or len(specs) <= 1:
        tables = prepare(world)
        return (generate_chunk(tables, *spec) for spec in specs)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    # Keep the garbage collector off the world's objects, so forked workers share
    # its memory pages instead of copying them.
    gc.freeze()
    stack.callback(gc.unfreeze)
    # Signals stay blocked until the pool is registered for shutdown (and, in a worker,
    # until it has set its own handlers), so no interrupt can leave workers unowned.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        pool = context.Pool(min(workers, len(specs)), initializer=_init_worker,
                            initargs=(world,))
        stack.push(functools.partial(_shut_down, pool))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return pool.imap(_work, specs)


def _shut_down(pool: multiprocessing.pool.Pool, failed: type[BaseException] | None,
               *_exc: object) -> None:
    """Let workers finish after success; on any failure or interrupt, stop them now."""
    if failed is None:
        pool.close()
    else:
        pool.terminate()
    pool.join()


def _write_table(path: Path, columns: Iterable[str], rows: Iterable[Iterable[object]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]synth[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("shipments"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def generate(
    out_dir: Path,
    *,
    shipments: int,
    seed: int,
    rates: RiskRates | None = None,
    threshold_usd: float = 800.0,
    days: int = 14,
    progress: bool | None = None,
    workers: int | None = None,
    confounders: ConfounderMix | None = None,
) -> SynthSummary:
    """Write one consistent synthetic federation to ``out_dir`` (README: "Synthetic federation").

    The same (shipments, seed, rates, threshold_usd, days) always give byte-identical
    files, whatever ``workers`` (default: one per CPU) is.
    """
    rates = rates or RiskRates()
    _check_params(shipments, seed, threshold_usd, days, rates)
    out_dir = Path(out_dir)
    existed = out_dir.exists()
    _make_out_dir(out_dir)
    try:
        params = Params(shipments, seed, rates, float(threshold_usd), days,
                        confounders or ConfounderMix())
        return _generate(out_dir, params,
                         show=sys.stderr.isatty() if progress is None else progress,
                         workers=workers if workers is not None else os.cpu_count() or 1)
    except BaseException:
        # Leave no half-written federation behind (the folder was empty or absent).
        if existed:
            for child in out_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        else:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _generate(out_dir: Path, params: Params, *, show: bool, workers: int) -> SynthSummary:
    shipments = params.shipments
    world = build_world(params)
    specs = _chunks(shipments)
    rows: dict[str, int] = {}
    pattern_counts = [0] * len(PATTERNS)
    used_masters: set[int] = set()

    with ExitStack() as stack:
        handles: list[IO[bytes]] = []
        for name in CHUNK_FILES:
            handle = stack.enter_context((out_dir / f"{name}.csv").open("wb"))
            handle.write((",".join(COLUMNS[name]) + "\n").encode())
            handles.append(handle)
            rows[name] = 0
        results = _results(world, specs, workers, stack)
        bar = stack.enter_context(_progress(show))
        task = bar.add_task("synth", total=shipments)
        for (_, start, stop), result in zip(specs, results, strict=True):
            for k, name in enumerate(CHUNK_FILES):
                handles[k].write(result.data[k])
                rows[name] += result.rows[k]
            for k, count in enumerate(result.patterns):
                pattern_counts[k] += count
            used_masters.update(result.masters_used)
            bar.update(task, advance=stop - start)

    tables: dict[str, Iterable[Iterable[object]]] = {
        "marketplace/sellers": world.sellers.rows,
        "marketplace/seller_links": world.link_rows,
        "marketplace/listings": world.listings.rows,
        "marketplace/recalled_products": world.recalled_rows,
        "carrier/masters": (world.masters.rows[m] for m in sorted(used_masters)),
        "broker/entity_list": world.entity_rows,
        # the world's parcel forwarders, for the coordinator's risk.split.forwarding_addresses
        "forwarders": ((name, f"{street}, {place}")
                       for name, _, street, _, place in forwarders(params.seed)),
    }
    for name, table_rows in tables.items():
        rows[name] = _write_table(out_dir / f"{name}.csv", COLUMNS[name], table_rows)

    first = world.day0 + timedelta(days=world.first_arrival)
    last = params.end_date
    settings = {
        "format": FORMAT_VERSION,
        "generator": "fedtrade synth",
        "shipments": shipments,
        "seed": params.seed,
        "threshold_usd": params.threshold_usd,
        "days": params.days,
        "first_arrival_date": first.isoformat(),
        "last_arrival_date": last.isoformat(),
        "chunk_shipments": CHUNK_SHIPMENTS,
        "rates": params.rates.as_dict(),
        "confounders": params.confounders.as_dict(),
        "split_shipment_enabled": params.threshold_usd > 0 and params.rates.split_shipment > 0,
    }
    (out_dir / "synth.json").write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
    return SynthSummary(
        out_dir=out_dir,
        shipments=shipments,
        seed=params.seed,
        threshold_usd=params.threshold_usd,
        first_arrival=first,
        last_arrival=last,
        rows=dict(sorted(rows.items())),
        patterns=dict(zip(PATTERNS, pattern_counts, strict=True)),
    )
