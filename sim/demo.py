"""The demo federation, end to end (run by scripts/demo).

Creates keys and configs in a fresh folder, generates a synthetic world, loads
each node's store through the importer, starts three node processes on free
loopback ports, sends them signed queries, prints the verified answers, screens the generated
manifest across the federation (results, HTML report, evaluation against the
ground truth), with AEO certificates for two of the three stakeholders, the green lane
and this month's signed data-sharing scorecards, and stops every process it started —
on success, failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.table import Table

from fedtrade.coordinator.aeo_config import MEASURES
from fedtrade.coordinator.attested import load_attested
from fedtrade.coordinator.client import Coordinator, ParamValue, QueryContext
from fedtrade.coordinator.config import (
    MAX_DEADLINE_SECONDS,
    MIN_DEADLINE_SECONDS,
    CoordinatorConfig,
    load_coordinator_config,
)
from fedtrade.coordinator.evidence import EvidenceStore, verify_evidence
from fedtrade.coordinator.render import answer_table, summary_table
from fedtrade.coordinator.report import write_report
from fedtrade.coordinator.result_files import ResultWriter, atomic_text_file, read_results
from fedtrade.coordinator.scorecard import compute_scorecards
from fedtrade.coordinator.scorecard_files import sign_scorecard, verify_scorecard, write_scorecard
from fedtrade.coordinator.screening import screen_manifest
from fedtrade.node.attest import attest_manifest
from fedtrade.node.config import load_node_config
from fedtrade.node.store.importer import import_path
from fedtrade.protocol.tables import decode_table
from fedtrade.sim.aeo import AUTHORITY_ID, DEFAULT_TIERS, add_coordinator_aeo, certify_node
from fedtrade.sim.evaluate import evaluate, format_evaluation
from fedtrade.sim.federation import NODE_IDS, Federation, create_federation
from fedtrade.sim.green_lane_eval import evaluate_green_lane, format_green_lane
from fedtrade.sim.synth import generate
from fedtrade.sim.synth.confounders import MIXES, mix_named
from fedtrade.sim.synth.shipments import MAX_SHIPMENTS
from fedtrade.trust.cli import describe_os_error
from fedtrade.trust.errors import FedtradeError, RemoteError
from fedtrade.trust.keys import SigningKey

__all__ = ["main"]

console = Console()
START_TIMEOUT = 30.0
# Gold chains with a score below 20 are facilitated; 5 % of them are still inspected.
GREEN_LANE = {"tiers": ["gold"], "score_below": 20, "compliance_sample_rate": 0.05}
# The default tiers, except that silver does not ask for timeliness: a replayed, generated
# manifest is always screened after its arrival days.
DEMO_TIERS = [{k: v for k, v in DEFAULT_TIERS[0].items() if k != "timeliness"},
              DEFAULT_TIERS[1]]


def _load_world(federation: Federation, shipments: int, seed: int, mix: str) -> Path:
    world = federation.root / "world"
    with console.status(f"generating a synthetic world of {shipments} shipments"):
        generate(world, shipments=shipments, seed=seed, progress=False,
                 confounders=mix_named(mix))
    for role, node_id in NODE_IDS.items():
        config = load_node_config(federation.node_configs[node_id])
        report = import_path(config.database, role, None, world / role, progress=False)
        console.print(f"[bold]{node_id}[/bold]: {report.summary()}")
    _import_messy_export(federation, world)
    return world


def _forwarders(world: Path) -> list[str]:
    """The world's known parcel-forwarding addresses (risk.split.forwarding_addresses)."""
    with (world / "forwarders.csv").open(newline="", encoding="utf-8") as f:
        return [row["address"] for row in csv.DictReader(f)]


# A late carrier export the way real systems write it: label-form and postal tracking
# numbers, lower-case codes, dotted HS codes, three-decimal money, and two bad rows.
_MESSY_BILLS = (
    ("qx-3100-001697", "usd", "556.636", "8518.30", "1 Late St"),
    ("9400 1000 0000 0000 0000 06", "eur", "12.5", "950300", "2 Late St"),
    ("RR 123 456 785 US", "USD", "40.00", "9503.00", ""),  # no consignee address
    ("LATE0004", "USD", "-3", "851830", "4 Late St"),  # negative value
)


def _import_messy_export(federation: Federation, world: Path) -> None:
    with (world / "carrier" / "masters.csv").open(newline="") as f:
        mawb = next(csv.DictReader(f))["mawb"]
    folder = federation.root / "late-export"
    folder.mkdir()
    with (folder / "house_bills.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["house_bill", "mawb", "shipper_name", "shipper_address", "shipper_country",
                      "consignee_name", "consignee_address", "pieces", "weight_kg",
                      "declared_value", "currency", "description", "hs6", "origin_country",
                      "known_shipper", "screened", "preload_status"])
        for bill, currency, value, hs6, address in _MESSY_BILLS:
            out.writerow([bill, mawb, "Late Shipper", "9 Dock Rd", "cn", "Late Consignee",
                          address, 1, 0.5, value, currency, "late parcel", hs6, "CN", 1, 1,
                          "accepted"])
    with (folder / "house_bill_items.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["house_bill", "item_no", "description", "hs6", "quantity", "value"])
        for bill, *_ in _MESSY_BILLS:
            out.writerow([bill, 1, "late parcel", "851830", 1, "10.00"])
    config = load_node_config(federation.node_configs[NODE_IDS["carrier"]])
    rejects = federation.root / "late-export-rejects"
    console.print(f"[bold]quarantine import[/bold] of a messy export {folder}")
    report = import_path(config.database, "carrier", None, folder, progress=False,
                         quarantine=rejects)
    console.print(report.summary())
    table = Table("file", "row as written (first cells)", "why it was refused")
    for path in sorted(rejects.iterdir()):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                error = row.pop("import_error")
                table.add_row(path.name, ",".join(list(row.values())[:3]),
                              error.split(": ", 1)[1])
    console.print(table)


@contextmanager
def _node_processes(federation: Federation) -> Iterator[dict[str, str]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        port_files = {}
        for node_id, config in federation.node_configs.items():
            port_file = federation.root / "data" / f"{node_id}.port"
            log = (federation.root / "data" / f"{node_id}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "fedtrade.node.cli",
                        "serve",
                        "--config",
                        str(config),
                        "--port-file",
                        str(port_file),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            port_files[node_id] = port_file
        yield {
            node_id: f"127.0.0.1:{_wait_for_port(path, federation)}"
            for node_id, path in port_files.items()
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        console.print(f"stopped {len(processes)} node process(es)")


def _wait_for_port(port_file: Path, federation: Federation) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while not port_file.exists():
        if time.monotonic() > deadline:
            raise FedtradeError(
                f"a node did not start within {START_TIMEOUT:.0f} s; see the logs in "
                f"{federation.root / 'data'}"
            )
        time.sleep(0.05)
    return int(port_file.read_text())


def _sample_house_bills(world: Path, count: int) -> list[str]:
    with (world / "manifest.csv").open(newline="") as f:
        return [row["house_bill"] for _, row in zip(range(count), csv.DictReader(f), strict=False)]


def _attest(federation: Federation, world: Path) -> Path:
    """The carrier filed the manifest: it signs it in blocks, as `fedtrade-node attest`."""
    out = federation.root / "manifest.attest.jsonl"
    config = load_node_config(federation.node_configs[federation.filer_id])
    blocks = attest_manifest(world / "manifest.csv", out, federation.filer_key(),
                             config.node_id, block_lines=1_000, valid_hours=24)
    console.print(f"[bold]attested[/bold]: {federation.filer_id} signed the manifest it filed "
                  f"in {blocks} blocks ({out.name}); nodes answer only for these lines")
    return out


def _guess(coordinator: Coordinator, context: QueryContext, attested: Path) -> None:
    """A house bill outside the attestation is refused (and audited by the node)."""
    blocks = load_attested(attested, coordinator.config.nodes).all_blocks()
    try:
        coordinator.ask("marketplace-1", "shipment_known", {"house_bills": ["NOTSHIPPED01"]},
                        context, attestations=blocks)
    except RemoteError as exc:
        console.print(f"[bold]guessed house bill NOTSHIPPED01[/bold]: refused, {exc.code}: "
                      f"{exc.details}")
        return
    raise FedtradeError("a guessed house bill was answered; the attestation check is off")


def _noisy_statistics(coordinator: Coordinator, world: Path, context: QueryContext) -> None:
    """One differentially private aggregate: noisy values, 95 % intervals, remaining budget."""
    with (world / "manifest.csv").open(newline="") as f:
        days = sorted({row["arrival_date"] for row in csv.DictReader(f)})
    params: dict[str, ParamValue] = {"group_by": ["week"], "date_from": days[0],
                                     "date_to": days[min(len(days), 28) - 1]}  # four weeks
    for _ in range(2):  # the repeat is answered from the node's cache, at no cost
        console.print(answer_table(coordinator.ask("broker-1", "trade_statistics", params,
                                                   context)))


def _screen(
    coordinator: Coordinator, world: Path, root: Path, context: QueryContext, attested: Path
) -> None:
    """Screen the generated manifest across the three nodes, report, and evaluate."""
    results, report, lane = root / "results.csv", root / "report.html", root / "lane.csv"
    console.print(f"[bold]screening[/bold] {world / 'manifest.csv'} across the federation")
    with ResultWriter(results) as writer, atomic_text_file(lane, newline="") as dispositions:
        summary = screen_manifest(coordinator, world / "manifest.csv", context,
                                  writer.write_batch,
                                  progress=console.is_terminal, attestations=attested,
                                  dispositions=dispositions)
    write_report(report, summary)
    console.print(summary_table(summary))
    truth = world / "ground_truth.csv"
    print(format_evaluation(evaluate(read_results(results), truth, world / "confounders.csv")))
    if summary.green_lane is not None:
        certified = ", ".join(f"{n}: {t}" for n, t in sorted(summary.green_lane.certification
                                                             .items()))
        console.print(f"[bold]AEO green lane[/bold] (certificates that counted: {certified})")
        bills = [r.house_bill for r in read_results(results)]
        print(format_green_lane([evaluate_green_lane(bills, truth, lane, "gold chains")]))
        console.print("The broker holds no certificate, so only shipments it knows nothing "
                      "about can be facilitated, and a missing entry hides exactly there: "
                      "aeo.green_lane.require_roles: \\[carrier, broker] closes that gap.")
    console.print(f"[bold]results[/bold]: {results}\n[bold]report[/bold]: {report}")


def _certify(federation: Federation) -> None:
    """The AEO authority certifies two of the three stakeholders (the broker is not)."""
    for node_id, tier in (("carrier-1", "gold"), ("marketplace-1", "gold")):
        path = certify_node(federation, node_id, tier)
        console.print(f"[bold]AEO[/bold]: {AUTHORITY_ID} issued {node_id} a {tier} certificate "
                      f"({path.name}); its node presents it in Describe")


def _scorecards(config: CoordinatorConfig, evidence: EvidenceStore, root: Path) -> None:
    """This month's signed scorecards, from the evidence just gathered, checked as a
    stakeholder would."""
    period = datetime.now(UTC).strftime("%Y-%m")
    document = compute_scorecards(config, evidence, period)
    envelope = sign_scorecard(document, SigningKey.from_file(config.signing_key))
    _, html = write_scorecard(root / f"scorecard-{period}", document, envelope)
    verify_scorecard(html, SigningKey.from_file(config.signing_key).public_key)
    cards = document["nodes"]
    table = Table("", *(c["node_id"] for c in cards),
                  title=f"AEO data-sharing scorecards, {period} (signed; verified)")
    table.add_row("certificate", *((c["certificate"] or {}).get("tier", "none") for c in cards))
    for measure in MEASURES:
        values = (c["measures"][measure]["value"] for c in cards)
        table.add_row(measure, *("—" if v is None else f"{v:.3f}" for v in values))
    table.add_row("integrity", *("ok" if c["integrity"]["ok"] else "FAILED" for c in cards))
    table.add_row("refusals", *(str(sum(c["refusals"].values())) for c in cards))
    table.add_row("evidence supports", *(c["supported_tier"] or "no tier" for c in cards))
    console.print(table)
    for card in cards:
        short = next((t for t in card["tiers"] if t["shortfalls"]), None)
        if short is not None:
            console.print(f"{card['node_id']} falls short of {short['name']}: "
                          f"{'; '.join(short['shortfalls'])}")
    console.print(f"[bold]scorecard[/bold]: {html} (a stakeholder checks it with fedtrade aeo "
                  "verify-scorecard). Timeliness is 0 here: the generated manifest arrived "
                  "before it was screened, so only gold asks for it in the demo.")


def _run(args: argparse.Namespace) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    root = (args.workdir or Path("demo-work") / f"run-{stamp}").resolve()
    if root.exists() and not root.is_dir():
        raise FedtradeError(f"{root} is a file; give a new folder as --workdir")
    if root.exists() and any(root.iterdir()):
        raise FedtradeError(f"{root} is not empty; give a new --workdir")
    federation = create_federation(root)
    console.print(f"[bold]working folder[/bold]: {root} (keys, configs, stores, evidence)")
    _certify(federation)
    world = _load_world(federation, args.shipments, args.seed, args.confounders)
    bills = _sample_house_bills(world, 5)
    attested = _attest(federation, world)
    context = QueryContext(
        purpose="TARGETING", case_id=f"DEMO-{stamp}", officer_id="demo", legal_basis="19 USC 1415"
    )
    with _node_processes(federation) as addresses:
        federation.write_coordinator_config(addresses, deadline_seconds=args.deadline,
                                            forwarding_addresses=_forwarders(world))
        add_coordinator_aeo(federation, green_lane=GREEN_LANE, tiers=DEMO_TIERS)
        config = load_coordinator_config(federation.coordinator_config)
        evidence = EvidenceStore(config.evidence_db)
        coordinator = Coordinator(config, evidence=evidence)
        try:
            known: dict[str, dict[str, object]] = {b: {} for b in bills}
            console.print(answer_table(coordinator.ask("carrier-1", "describe", {}, context)))
            for node_id in addresses:
                result = coordinator.ask(
                    node_id, "shipment_known", {"house_bills": bills}, context,
                    attestations=load_attested(attested, config.nodes).blocks_for(bills))
                for bill, flag in decode_table(result.answer.table).rows():
                    known[str(bill)][node_id] = flag
            table = Table(
                "house bill",
                *addresses,
                title="shipment_known — verified signed answers from three nodes",
            )
            for bill, flags in known.items():
                table.add_row(bill, *("yes" if flags[n] else "no" for n in addresses))
            console.print(table)
            _guess(coordinator, context, attested)
            _noisy_statistics(coordinator, world, context)
            _screen(coordinator, world, root, context, attested)
        finally:
            coordinator.close()
        _scorecards(config, evidence, root)
        checked, problems = verify_evidence(
            evidence, {n.id: n.public_key for n in config.nodes.values()}
        )
        evidence.close()
        if problems:
            raise FedtradeError(f"{len(problems)} stored answers fail verification")
        console.print(
            f"[green]evidence verified[/green]: {checked} signed answers in {config.evidence_db}"
        )
    return 0


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument(
        "--workdir", type=Path, help="new folder to work in (default: demo-work/run-<time>)"
    )
    parser.add_argument("--shipments", type=int, default=2000, help="size of the synthetic world")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic world")
    parser.add_argument("--mix", "--confounders", dest="confounders", default="none",
                        choices=list(MIXES),
                        help="confounder mix of the synthetic world (default: %(default)s)")
    parser.add_argument("--deadline", type=float, default=30.0,
                        help="seconds each node may take per batch (default: %(default)s)")
    args = parser.parse_args(argv)
    # checked before anything is made, each naming its option
    if not 1 <= args.shipments <= MAX_SHIPMENTS:
        parser.error(f"argument --shipments: give a whole number from 1 to {MAX_SHIPMENTS:,}")
    if args.seed < 0:
        parser.error("argument --seed: give a whole number >= 0")
    if not MIN_DEADLINE_SECONDS <= args.deadline <= MAX_DEADLINE_SECONDS:  # nan too
        parser.error(f"argument --deadline: give seconds from {MIN_DEADLINE_SECONDS} to "
                     f"{MAX_DEADLINE_SECONDS:g}")
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return _run(args)
    except FedtradeError as exc:
        console.print(f"[red]error[/red]: {exc}")
        return 1
    except OSError as exc:  # e.g. a working folder that cannot be made
        console.print(f"[red]error[/red]: {describe_os_error(exc)}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]; all node processes were stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
