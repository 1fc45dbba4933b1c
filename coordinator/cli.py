"""`fedtrade`: the coordinator's and operator's command line."""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

from rich.table import Table

from fedtrade.coordinator.aeo_cli import add_aeo_commands
from fedtrade.coordinator.attested import load_attested
from fedtrade.coordinator.client import Coordinator, QueryContext, VerifiedAnswer
from fedtrade.coordinator.config import CoordinatorConfig, load_coordinator_config
from fedtrade.coordinator.enrol import NodeProposal, add_node
from fedtrade.coordinator.evidence import EvidenceStore, node_checkpoints, verify_evidence
from fedtrade.coordinator.params import parse_params
from fedtrade.coordinator.render import answer_json, answer_table, console, summary_table
from fedtrade.coordinator.report import write_report
from fedtrade.coordinator.result_files import (
    ResultWriter,
    atomic_text_file,
    check_output_path,
    write_worklist,
)
from fedtrade.coordinator.screening import screen_manifest
from fedtrade.protocol.collector import settle_collector
from fedtrade.protocol.envelope_files import read_envelope_lines, write_envelope_lines
from fedtrade.protocol.wire import PAYLOAD_QUERY, parse_payload
from fedtrade.protos import query_pb2
from fedtrade.trust.cli import CommandParser, add_json_option, print_json, run_command
from fedtrade.trust.envelope import Envelope, sign, verify
from fedtrade.trust.errors import (
    ConfigError,
    FedtradeError,
    MalformedRequestError,
    VerificationError,
)
from fedtrade.trust.expiry import expiry_warnings
from fedtrade.trust.files import not_regular
from fedtrade.trust.keys import SigningKey, generate_keypair
from fedtrade.trust.linkage import generate_linkage_secret
from fedtrade.trust.pki import init_ca, issue_certificate, issue_from_csr
from fedtrade.trust.yamlconfig import load_yaml

__all__ = ["main"]


def _keygen(args: argparse.Namespace) -> int:
    private, public = generate_keypair(args.out, args.name)
    key = SigningKey.from_file(private)
    print(f"wrote {private} (private, mode 0600) and {public}")
    print(f"key id {key.key_id}")
    return 0


def _is_node_config(path: Path) -> bool:
    try:
        root = load_yaml(path)
    except ConfigError:
        return False
    return root.has("node") and not root.has("coordinator")


def _config_check(args: argparse.Namespace) -> int:
    """Check a coordinator config; point at `fedtrade-node config check` for a node config."""
    try:
        config = load_coordinator_config(args.file)
    except ConfigError:
        if _is_node_config(args.file):
            raise ConfigError(
                f"this is a node config; check it with `fedtrade-node config check {args.file}`",
                path=args.file,
            ) from None
        raise
    SigningKey.from_file(config.signing_key)
    kind = not_regular(config.evidence_db)
    if kind is not None:
        raise ConfigError(f"{config.evidence_db} is {kind}, not the evidence store's file",
                          path=args.file, key="coordinator.evidence_db")
    warnings = expiry_warnings(
        [("TLS certificate", config.tls.not_after),
         ("federation CA certificate", config.tls.ca_not_after)] if config.tls else [])
    if args.json:
        print_json({
            "file": str(args.file), "ok": True, "kind": "coordinator",
            "requester_id": config.requester_id, "version": config.version,
            "nodes": sorted(config.nodes), "warnings": warnings,
        })
        return 0
    for warning in warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    print(
        f"{args.file}: OK — coordinator {config.requester_id}, config version "
        f"{config.version}, {len(config.nodes)} node(s): {', '.join(sorted(config.nodes))}"
    )
    return 0


def _context(args: argparse.Namespace, config: CoordinatorConfig) -> QueryContext:
    return QueryContext(
        purpose=args.purpose,
        case_id=args.case,
        officer_id=args.officer or getpass.getuser(),
        legal_basis=args.legal_basis or config.legal_basis,
    )


def _pki_init(args: argparse.Namespace) -> int:
    files = init_ca(args.out, days=args.days)
    print(f"wrote {files.cert} (give it to every party) and {files.key} (mode 0600; keep it "
          "offline: it issues every certificate of the federation)")
    return 0


def _pki_issue(args: argparse.Namespace) -> int:
    if args.csr is not None:
        files = issue_from_csr(args.ca, args.csr, args.out, days=args.days)
        print(f"wrote {files.cert}, valid until {files.not_after:%Y-%m-%d}, naming "
              f"{files.cert.name.removesuffix('.tls.crt')}: send it back to the node's operator")
        return 0
    files = issue_certificate(args.ca, args.name, args.out, days=args.days)
    print(f"wrote {files.cert} and {files.key} (mode 0600), valid until "
          f"{files.not_after:%Y-%m-%d}, naming {args.name}")
    return 0


def _nodes_add(args: argparse.Namespace) -> int:
    proposal = NodeProposal(args.id, args.role, args.address, args.public_key, args.deadline)
    entry, config = add_node(args.config, proposal, apply=args.apply)
    key_id = config.nodes[args.id].public_key.key_id
    if args.json:
        print_json({"config": args.config, "applied": args.apply, "node_id": args.id,
                    "role": args.role, "address": args.address, "key_id": key_id,
                    "entry": entry})
        return 0
    print(entry, end="")
    where = f"added to {args.config}" if args.apply else \
        f"checked against {args.config}, not written (add --apply to write it in)"
    print(f"# {args.id}: {where}; key id {key_id[:16]}…")
    return 0


def _linkage_secret(args: argparse.Namespace) -> int:
    generate_linkage_secret(args.out)
    print(f"wrote {args.out} (mode 0600): copy it to every node over a secure channel; the "
          "coordinator must never hold it")
    return 0


def _add_context_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--insecure", action="store_true",
                        help="allow plaintext gRPC when coordinator.tls is not configured")
    parser.add_argument("--purpose", required=True, help="purpose code, e.g. TARGETING")
    parser.add_argument("--case", required=True, help="case id recorded with every query")
    parser.add_argument("--officer", help="officer id (default: your login name)")
    parser.add_argument("--legal-basis", help="legal basis (default: from the config)")


def _query(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    params = parse_params(args.query, args.param)
    context = _context(args, config)
    blocks = () if args.attestations is None else \
        load_attested(args.attestations, config.nodes).all_blocks()
    if args.sign_only is not None:
        coordinator = Coordinator(config, insecure=True)  # signs only; connects to nothing
        query, request = coordinator.sign_query(config.node(args.node), args.query, params,
                                                context, attestations=blocks)
        write_envelope_lines(args.sign_only, [request])
        print(f"signed query {query.query_id.hex()} ({args.query} for {args.node}, purpose "
              f"{query.purpose}) written to {args.sign_only}, not sent; it expires at "
              f"{query.expires_at.ToDatetime().isoformat(timespec='seconds')}Z. Approvers: "
              f"fedtrade approve {args.sign_only} --key KEY; then: fedtrade send "
              f"{args.sign_only} --config {args.config}")
        return 0
    return _print_answer(args, config, lambda c: c.ask(args.node, args.query, params, context,
                                                       attestations=blocks))


def _print_answer(
    args: argparse.Namespace,
    config: CoordinatorConfig,
    ask: Callable[[Coordinator], VerifiedAnswer],
) -> int:
    evidence = EvidenceStore(config.evidence_db)
    coordinator = Coordinator(config, evidence=evidence, insecure=args.insecure)
    try:
        result = ask(coordinator)
    finally:
        coordinator.close()
        evidence.close()
    if args.json:
        print_json({**answer_json(result), "evidence_db": str(config.evidence_db)})
        return 0
    out = console()
    out.print(answer_table(result))
    out.print(
        f"[green]verified[/green]: signed by {result.node_id}, bound to query "
        f"{result.query.query_id.hex()}; stored as evidence in {config.evidence_db}"
    )
    return 0


def _pending_query(path: Path) -> tuple[query_pb2.Query, Envelope]:
    envelopes = read_envelope_lines(path, "signed query")
    if len(envelopes) > 1:  # approve would write back the first and drop the others
        raise FedtradeError(f"{path}: holds {len(envelopes)} envelopes, not one signed query; "
                            "use the file query --sign-only wrote")
    (envelope,) = envelopes
    if envelope.payload_type != PAYLOAD_QUERY:
        raise FedtradeError(f"{path}: holds a {envelope.payload_type[:64]!r}, not a signed query")
    try:
        return parse_payload(query_pb2.Query, envelope.payload), envelope
    except MalformedRequestError as exc:
        raise FedtradeError(f"{path}: {exc}; use the file query --sign-only wrote") from None


def _approve(args: argparse.Namespace) -> int:
    query, envelope = _pending_query(args.file)
    key = SigningKey.from_file(args.key)
    if any(s.key_id == key.key_id for s in envelope.signatures):
        raise FedtradeError(f"{args.file} is already signed by key {key.key_id[:16]}…; each "
                            "key counts once: another approver must sign")
    (signature,) = sign(envelope.payload_type, envelope.payload, [key]).signatures
    write_envelope_lines(args.file, [replace(envelope,
                                             signatures=(*envelope.signatures, signature))])
    print(f"approved query {query.query_id.hex()}: {query.query_name} for {query.audience}, "
          f"purpose {query.purpose}, case {query.case_id}, officer {query.officer_id}, asked "
          f"by {query.requester_id}; {len(envelope.signatures) + 1} signature(s) now")
    return 0


def _send(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    query, envelope = _pending_query(args.file)
    own = SigningKey.from_file(config.signing_key).public_key
    try:  # the approvers' signatures are the node's to check
        verify(envelope, {own.key_id: own}, payload_type=PAYLOAD_QUERY)
    except VerificationError as exc:
        raise FedtradeError(f"{args.file}: not signed by this coordinator's key, or altered "
                            f"since ({exc}); sign it again with query --sign-only") from None
    return _print_answer(args, config, lambda c: c.send(query, envelope))


def _screen(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    if args.dispositions is not None and (config.aeo is None or config.aeo.green_lane is None):
        raise ConfigError("--dispositions needs a green lane: add aeo.green_lane (see "
                          "configs/coordinator.yaml)", path=args.config)
    context = _context(args, config)
    for later in (args.report, args.worklist):  # written after the run: refused before it
        if later is not None:
            check_output_path(later)
    evidence = EvidenceStore(config.evidence_db)
    coordinator = Coordinator(config, evidence=evidence, insecure=args.insecure)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    settle_collector()
    try:
        lane_file = nullcontext(None) if args.dispositions is None else \
            atomic_text_file(args.dispositions, newline="")
        with ResultWriter(args.out, args.json) as writer, lane_file as dispositions:
            summary = screen_manifest(coordinator, args.manifest, context, writer.write_batch,
                                      progress=show_progress, rates_file=args.rates,
                                      quarantine=args.quarantine,
                                      attestations=args.attestations,
                                      attestations_wait=args.wait_attestations,
                                      dispositions=dispositions)
    finally:
        coordinator.close()
        evidence.close()
    if args.report is not None:
        write_report(args.report, summary)
    if args.worklist is not None:
        write_worklist(args.out, args.worklist)
    out = console()
    out.print(summary_table(summary))
    if summary.green_lane is not None:
        lane = summary.green_lane.by_disposition
        out.print(f"AEO green lane: {lane['facilitated']:,} facilitated, "
                  f"{lane['compliance_sample']:,} in the compliance sample, {lane['review']:,} "
                  "left in review")
    outputs = [str(p) for p in (args.out, args.json, args.report, args.worklist,
                                args.dispositions) if p is not None]
    out.print(f"results: {', '.join(outputs)}; signed answers kept in {config.evidence_db}")
    if args.quarantine is not None and args.quarantine.exists():
        with args.quarantine.open(newline="", encoding="utf-8") as rejects:
            bad = sum(1 for _ in csv.reader(rejects)) - 1
        out.print(f"{bad} bad manifest row(s) not screened, written to {args.quarantine}")
    failed = [n for n in summary.nodes if n.batches_failed]
    if failed and config.screening.require_all_nodes:
        print(f"error: {', '.join(n.node_id for n in failed)} did not answer every batch and the "
              "config requires all nodes (screening.require_all_nodes)", file=sys.stderr)
        return 3
    return 0


def _evidence_verify(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    if not config.evidence_db.exists():
        raise ConfigError(
            "no evidence store yet; run a query first",
            path=args.config,
            key="coordinator.evidence_db",
        )
    store = EvidenceStore(config.evidence_db)
    try:
        checked, problems = verify_evidence(
            store, {node.id: node.public_key for node in config.nodes.values()}
        )
    finally:
        store.close()
    if args.json:
        print_json({
            "ok": not problems, "checked": checked,
            "problems": [{"row": p.row_id, "node": p.node_id, "query_id": p.query_id,
                          "problem": p.problem} for p in problems],
        })
        return 1 if problems else 0
    if problems:
        table = Table("row", "node", "query id", "problem", title="evidence that does NOT verify")
        for p in problems:
            table.add_row(str(p.row_id), p.node_id, p.query_id, p.problem)
        console(stderr=True).print(table)
        print(f"{len(problems)} of {checked} stored responses fail verification", file=sys.stderr)
        return 1
    print(f"evidence OK: {checked} stored responses verified against the nodes' public keys")
    return 0


def _evidence_checkpoints(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    node = config.nodes.get(args.node)
    if node is None:
        raise FedtradeError(f"node {args.node!r} is not in {args.config}; it lists: "
                            f"{', '.join(sorted(config.nodes))}")
    if not config.evidence_db.exists():
        raise ConfigError("no evidence store yet; run a query first", path=args.config,
                          key="coordinator.evidence_db")
    store = EvidenceStore(config.evidence_db)
    try:
        envelopes = node_checkpoints(store, node.id, node.public_key)
    finally:
        store.close()
    if not envelopes:
        raise FedtradeError(f"the evidence holds no audit checkpoint of {node.id} yet")
    write_envelope_lines(args.out, envelopes)
    print(f"{len(envelopes)} signed audit checkpoint(s) of {node.id} written to {args.out}; "
          f"its operator checks them with: fedtrade-node audit verify --checkpoint {args.out}")
    return 0


def _add_plugin_commands(commands: argparse._SubParsersAction[CommandParser]) -> None:
    """Commands other installed packages contribute (entry point group ``fedtrade.commands``).

    The tooling package (``fedtrade.sim``: synth, evaluate) registers its commands this way,
    so the product never imports it.
    """
    for entry in sorted(entry_points(group="fedtrade.commands"), key=lambda e: e.name):
        entry.load()(commands)


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="fedtrade",
        version=True,
        description="CBP side of fedtrade: sign queries to stakeholder nodes, verify their "
        "signed answers, keep them as evidence; plus key and data tooling for operators.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keygen = commands.add_parser("keygen", help="create an Ed25519 key pair (NAME.key, NAME.pub)")
    keygen.add_argument("--out", type=Path, required=True, help="folder for the key files")
    keygen.add_argument(
        "--name", default="coordinator", help="file name stem (default: %(default)s)"
    )
    keygen.set_defaults(run=_keygen)

    pki = commands.add_parser("pki", help="federation CA and TLS certificates")
    pki_commands = pki.add_subparsers(dest="pki_command", required=True, metavar="ACTION")
    pki_init = pki_commands.add_parser(
        "init", help="create a federation CA (ca.crt, ca.key)",
        description="Create the federation's certificate authority. Keep ca.key offline.")
    pki_init.add_argument("--out", type=Path, required=True, help="new folder for the CA")
    pki_init.add_argument("--days", type=int, default=3650, help="validity (default 3650)")
    pki_init.set_defaults(run=_pki_init)
    pki_issue = pki_commands.add_parser(
        "issue", help="issue a TLS certificate naming a node or coordinator id",
        description="Issue NAME.tls.crt and NAME.tls.key, with NAME (a node or coordinator id) "
        "as the certificate's name; valid for both ends of mutual TLS.")
    pki_issue.add_argument("--ca", type=Path, required=True, help="CA folder (pki init)")
    named = pki_issue.add_mutually_exclusive_group(required=True)
    named.add_argument("--name", help="node or coordinator id: a new key and its certificate")
    named.add_argument("--csr", type=Path, metavar="ID.tls.csr",
                       help="a node's certificate request (fedtrade-node init without --ca): "
                       "issue ID.tls.crt for the id it names; its key stays with the node")
    pki_issue.add_argument("--out", type=Path, required=True, help="folder for the files")
    pki_issue.add_argument("--days", type=int, default=365, help="validity (default 365)")
    pki_issue.set_defaults(run=_pki_issue)

    linkage = commands.add_parser(
        "linkage-secret", help="create the nodes' shared consignee linkage secret",
        description="Write a new random linkage secret (hex, mode 0600). Every node needs "
        "the same file (linkage.secret_file); the coordinator never holds it.")
    linkage.add_argument("--out", type=Path, required=True, help="file to create")
    linkage.set_defaults(run=_linkage_secret)

    nodes = commands.add_parser("nodes", help="the nodes this coordinator queries")
    nodes_commands = nodes.add_subparsers(dest="nodes_command", required=True, metavar="ACTION")
    nodes_add = nodes_commands.add_parser(
        "add", help="print, check and optionally write in the nodes: entry of a new node",
        description="Print the nodes: entry for a new node and check it: the whole config "
        "must load with it (its public key file, address, role, a new id). With --apply, "
        "write it at the end of the nodes: block (comments kept; atomic replace).")
    nodes_add.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    nodes_add.add_argument("--id", required=True, help="the node's id (its node.id)")
    nodes_add.add_argument("--role", required=True, choices=("marketplace", "carrier", "broker"))
    nodes_add.add_argument("--address", required=True, metavar="HOST:PORT",
                           help="where this coordinator reaches the node")
    nodes_add.add_argument("--public-key", type=Path, required=True, metavar="ID.pub",
                           help="the node's Ed25519 public key file (from its operator)")
    nodes_add.add_argument("--deadline", type=float, default=10.0, metavar="SECONDS",
                           help="seconds to wait for its answers (default: %(default)s)")
    nodes_add.add_argument("--apply", action="store_true", help="write the entry into --config")
    add_json_option(nodes_add)
    nodes_add.set_defaults(run=_nodes_add)

    config = commands.add_parser("config", help="work with configs")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser(
        "check", help="validate a coordinator config (and its key files) without starting anything")
    check.add_argument("file", type=Path, help="coordinator config (YAML)")
    add_json_option(check)
    check.set_defaults(run=_config_check)

    query = commands.add_parser(
        "query",
        help="send one signed query to one node and print the verified answer",
        description="Parameters are NAME=VALUE; a list takes comma-separated values or "
        "NAME=@FILE with one value per line. Questions about shipments name attested house "
        "bills (shipments=HB1,HB2) and carry the filer's blocks (--attestations). Use the "
        "query 'describe' to list what you may ask.",
    )
    query.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    query.add_argument("--node", required=True, help="node id from the config")
    query.add_argument("query", help="query name from the catalogue, or 'describe'")
    query.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="query parameter (repeatable)",
    )
    query.add_argument("--attestations", type=Path, metavar="BLOCKS.jsonl",
                       help="the filer's signed manifest blocks (fedtrade-node attest) the "
                       "question is about; needed for per-shipment and linkage queries")
    query.add_argument("--sign-only", type=Path, metavar="FILE",
                       help="write the signed query to FILE instead of sending it, for approvers "
                       "to co-sign (fedtrade approve) before fedtrade send")
    _add_context_options(query)
    add_json_option(query)
    query.set_defaults(run=_query)

    approve = commands.add_parser(
        "approve", help="co-sign a query written by query --sign-only (four eyes)",
        description="Print what the query asks and add your signature to FILE. A node that "
        "requires k of n approvers answers only when k distinct approver keys signed.")
    approve.add_argument("file", type=Path, metavar="FILE", help="from query --sign-only")
    approve.add_argument("--key", type=Path, required=True,
                         help="your approver private key (fedtrade keygen)")
    approve.set_defaults(run=_approve)

    send = commands.add_parser(
        "send", help="send a query written by query --sign-only, with its approvals")
    send.add_argument("file", type=Path, metavar="FILE", help="from query --sign-only")
    send.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    send.add_argument("--insecure", action="store_true",
                      help="allow plaintext gRPC when coordinator.tls is not configured")
    add_json_option(send)
    send.set_defaults(run=_send)

    screen = commands.add_parser(
        "screen", help="screen a manifest across all nodes: risk level and reasons per shipment",
        description="Validate the manifest, ask every configured node for its indicators "
        "(signed batch queries, verified answers) and the cross-node consignee totals, and "
        "write one result per shipment. A node that does not answer leaves its shipments "
        "marked, and the run goes on.")
    screen.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    screen.add_argument("manifest", type=Path, help="manifest CSV (see the README's columns)")
    screen.add_argument("--attestations", type=Path, required=True, metavar="BLOCKS.jsonl",
                        help="the filer's signed blocks of this manifest (fedtrade-node attest)")
    screen.add_argument("--wait-attestations", type=float, default=0.0, metavar="SECONDS",
                        help="the blocks are still being signed: validate the manifest "
                        "meanwhile and wait up to SECONDS more for BLOCKS.jsonl to appear "
                        "(moved in whole once written); default: it must be there")
    _add_context_options(screen)
    screen.add_argument("--out", type=Path, required=True, help="results CSV to write")
    screen.add_argument("--json", type=Path, help="also write results as JSON Lines")
    screen.add_argument("--report", type=Path, help="also write a self-contained HTML report")
    screen.add_argument("--worklist", type=Path,
                        help="also write the worklist: the shipments scored above zero, "
                        "highest score first (results CSV columns)")
    screen.add_argument("--dispositions", type=Path, metavar="LANE.csv",
                        help="with an AEO green lane configured (aeo.green_lane), also write "
                        "the shipments it takes out of review: facilitated or compliance sample")
    screen.add_argument("--rates", type=Path, metavar="RATES.csv",
                        help="dated currency rates (date,currency,per_usd), used over the "
                        "config's currency_per_usd from each rate's date on")
    screen.add_argument("--quarantine", type=Path, metavar="REJECTS.csv",
                        help="write bad manifest rows here (plus an import_error column) and "
                        "screen the rest; default: a bad row refuses the whole manifest")
    screen.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress (default: when stderr is a terminal)")
    screen.set_defaults(run=_screen)


    evidence = commands.add_parser("evidence", help="work with stored signed answers")
    evidence_commands = evidence.add_subparsers(
        dest="evidence_command", required=True, metavar="ACTION"
    )
    verify = evidence_commands.add_parser(
        "verify", help="re-verify every stored answer offline; exits 1 if any fails"
    )
    verify.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    add_json_option(verify)
    verify.set_defaults(run=_evidence_verify)
    checkpoints = evidence_commands.add_parser(
        "checkpoints", help="write a node's signed audit checkpoints kept with the evidence")
    checkpoints.add_argument("--config", type=Path, required=True,
                             help="coordinator config (YAML)")
    checkpoints.add_argument("--node", required=True, metavar="NODE_ID")
    checkpoints.add_argument("--out", type=Path, required=True, metavar="FILE",
                             help="JSON lines, for `fedtrade-node audit verify --checkpoint`")
    checkpoints.set_defaults(run=_evidence_checkpoints)

    add_aeo_commands(commands)
    _add_plugin_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
