"""`fedtrade-node`: the stakeholder's command line (init, serve, check config, import,
audit, attest, budget)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from fedtrade.node.config import load_node_config
from fedtrade.node.logs import configure_logging
from fedtrade.protocol.collector import settle_collector
from fedtrade.trust.cli import CommandParser, add_json_option, print_json, run_command
from fedtrade.trust.errors import ConfigError, FedtradeError, VerificationError
from fedtrade.trust.expiry import expiry_warnings
from fedtrade.trust.files import not_regular
from fedtrade.trust.keys import SigningKey

if TYPE_CHECKING:
    from fedtrade.node.scaffold import Scaffold
    from fedtrade.node.server import NodeServer
    from fedtrade.node.state import NodeState

# Each command imports what it runs inside its function: every node process and every
# `attest` run starts this module, and the parser and --help need none of it (a SQLite
# node never loads psycopg, `attest` never loads the server and OpenDP).

__all__ = ["main"]

log = logging.getLogger("fedtrade.node")

GRACE_SECONDS = 10.0


def _write_port(path: Path, port: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


def _announce(args: argparse.Namespace, message: str, **fields: object) -> None:
    """A start or stop line: plain on stdout, or with JSON logging one JSON log line like all."""
    if args.log_format == "json":
        log.info(message, extra=fields)
    else:
        print(message, flush=True)


def _run_until_signal(server: NodeServer, state: NodeState, args: argparse.Namespace) -> None:
    """Serve (and follow config edits) until SIGTERM or Ctrl-C, then drain and stop."""
    from fedtrade.node.reload import ConfigWatcher

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping: no new requests, finishing those in flight",
                 signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    watcher = ConfigWatcher(state)
    server.start()
    watcher.start()
    try:
        if args.port_file is not None:
            _write_port(args.port_file, server.port)
        config = state.config
        host = (args.listen or config.listen).rpartition(":")[0]
        _announce(args, f"node {config.node_id} ({config.role}) listening on "
                  f"{host}:{server.port}" + (" (mutual TLS)" if config.tls else " (PLAINTEXT)"),
                  event="listening", node_id=config.node_id, role=config.role,
                  address=f"{host}:{server.port}", tls=config.tls is not None)
        # Wake up now and then: the kernel may deliver SIGTERM to one of gRPC's threads, and
        # Python runs the handler only when the main thread gets back to the interpreter.
        while not stop.wait(0.5):
            pass
    finally:
        watcher.stop()
        server.stop(GRACE_SECONDS)


def _serve(args: argparse.Namespace) -> int:
    from fedtrade.node.metrics import NodeMetrics
    from fedtrade.node.server import create_server
    from fedtrade.node.state import NodeState

    config = load_node_config(args.config)
    if config.tls is None:
        if not args.insecure:
            raise ConfigError(
                "node.tls is not configured: a node serves mutual TLS (see the README, "
                "'Operating a node'); pass --insecure to serve plaintext on a test network",
                path=args.config, key="node.tls")
        log.warning("serving PLAINTEXT gRPC (--insecure): queries and answers are signed but "
                    "not encrypted, any client can connect, and the binding of TLS client "
                    "certificates to requesters (tls_identities) is OFF")
    state = NodeState.open(config)
    metrics = state.metrics = NodeMetrics()
    try:
        metrics.observe_config(config)
        if args.metrics_port is not None:
            bound = metrics.start(args.metrics_port, args.metrics_address)
            log.info("metrics at http://%s:%d/metrics", args.metrics_address, bound)
        server = create_server(state, args.listen or config.listen)
        settle_collector()
        _run_until_signal(server, state, args)
    finally:
        metrics.stop()
        state.close()  # every answered request was committed to the audit log before answering
    _announce(args, f"node {config.node_id} stopped", event="stopped", node_id=config.node_id)
    return 0


def _health(args: argparse.Namespace) -> int:
    from fedtrade.node.health import probe

    material = load_node_config(args.tls_config).tls if args.tls_config else None
    status = probe(args.address, material, args.timeout)
    if args.json:
        print_json({"address": args.address, "status": status})
    else:
        print(status)
    return 0 if status == "SERVING" else 1


def _config_check(args: argparse.Namespace) -> int:
    config = load_node_config(args.file)
    SigningKey.from_file(config.signing_key)
    dates = [(f"requester {r.id}'s key {entry.key.key_id[:16]}…", entry.not_after)
             for r in config.requesters.values() for entry in r.keys if not entry.revoked]
    if config.tls is not None:
        dates += [("TLS certificate", config.tls.not_after),
                  ("federation CA certificate", config.tls.ca_not_after)]
    if config.aeo is not None:
        dates.append(("AEO certificate", config.aeo.certificate.valid_until))
    warnings = expiry_warnings(dates)
    if args.json:
        print_json({
            "file": str(args.file), "ok": True, "kind": "node", "node_id": config.node_id,
            "role": config.role, "version": config.version,
            "requesters": sorted(config.requesters),
            "tls_not_after": config.tls.not_after.isoformat() if config.tls else None,
            "warnings": warnings,
        })
        return 0
    for warning in warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    print(
        f"{args.file}: OK — node {config.node_id} ({config.role}), config version "
        f"{config.version}, {len(config.requesters)} requester(s)"
    )
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from fedtrade.node.audit import stored_hash, verify_chain
    from fedtrade.node.statestore import read_state
    from fedtrade.protocol.checkpoints import (
        check_consistent,
        check_log_extends,
        verify_checkpoint,
    )
    from fedtrade.protocol.envelope_files import read_envelope_lines

    config = load_node_config(args.config)
    # checkpoints first: a bad file is the user's to fix before anything is concluded
    public_key = SigningKey.from_file(config.signing_key).public_key
    checkpoints = []
    for path in args.checkpoint:
        for number, envelope in enumerate(read_envelope_lines(path, "checkpoint"), start=1):
            try:
                checkpoints.append(verify_checkpoint(envelope, node_id=config.node_id,
                                                     node_key=public_key))
            except FedtradeError as exc:  # say which file (and which checkpoint in it)
                raise VerificationError(f"{path}: checkpoint {number}: {exc}") from exc
    with read_state(config) as conn:
        count = verify_chain(conn)
        check_consistent(checkpoints)
        for checkpoint in sorted(checkpoints, key=lambda c: -c.sequence):  # newest first
            check_log_extends(checkpoint, lambda seq: stored_hash(conn, seq))
    newest = max((c.sequence for c in checkpoints), default=None)
    if args.json:
        print_json({"database": str(config.database), "ok": True, "entries": count,
                    "checkpoints": len(checkpoints), "newest_checkpoint_entry": newest})
    else:
        print(f"audit log OK: {count} entries, hash chain intact"
              + (f"; extends all {len(checkpoints)} checkpoint(s), newest at entry {newest}"
                 if checkpoints else ""))
    return 0


def _budget(args: argparse.Namespace) -> int:
    from fedtrade.node.privacy_ledger import Budget, spend_by_requester
    from fedtrade.node.statestore import read_state

    config = load_node_config(args.config)
    privacy = config.settings.privacy
    if privacy is None:
        raise FedtradeError(f"{args.config}: no privacy section, so no aggregate query is "
                            "answered and no budget is kept")
    budgets = {r.id: Budget(r.budget_epsilon or privacy.budget_epsilon, privacy.period_days)
               for r in config.requesters.values()}
    with read_state(config) as conn:
        spends = spend_by_requester(conn, config.node_id, budgets, time.time())
    print(f"privacy budget at node {config.node_id} over the last {privacy.period_days} days "
          f"(unit: {privacy.unit})")
    print(f"{'requester':<24} {'answers':>8} {'epsilon spent':>14} {'budget':>8} "
          f"{'remaining':>10} {'delta spent':>12}")
    for spend in spends:
        print(f"{spend.requester:<24} {spend.answers:>8} {spend.epsilon:>14.4g} "
              f"{spend.budget.epsilon:>8.4g} {spend.remaining:>10.4g} {spend.delta:>12.3g}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from fedtrade.node.store import pgdata
    from fedtrade.node.store.importer import RejectLimit, import_path

    config = load_node_config(args.config)
    if args.republish and not args.target:
        done = pgdata.republish(config.database, config.role, config.store)
        print(f"copied the whole store to PostgreSQL ({sum(done.rows.values()):,} rows, "
              f"publish {done.generation.number})")
        return 0
    if len(args.target) == 1:
        table, path = None, Path(args.target[0])
    elif len(args.target) == 2:
        table, path = args.target[0], Path(args.target[1])
    else:
        raise FedtradeError("give TABLE PATH for one file, or just a FOLDER")
    limit = None if args.max_rejects is None else RejectLimit.parse(args.max_rejects)
    kind = None if args.report is None else not_regular(args.report)
    if kind is not None:  # checked now: the report is written after the import committed
        raise FedtradeError(f"--report {args.report}: is {kind}, not a regular file; give a "
                            "file path")
    report = import_path(config.database, config.role, table, path,
                         quarantine=args.quarantine, max_rejects=limit,
                         publish=pgdata.publisher(config.role, config.store,
                                                  whole=args.republish))
    print(report.summary())
    if args.report is not None:
        try:
            args.report.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        except OSError as exc:
            raise FedtradeError(f"{args.report}: cannot write the report: {exc.strerror}") from exc
    return 0


def _attest(args: argparse.Namespace) -> int:
    from fedtrade.node.attest import attest_manifest

    config = load_node_config(args.config)
    blocks = attest_manifest(
        args.manifest, args.out, SigningKey.from_file(config.signing_key), config.node_id,
        block_lines=args.block_lines, valid_hours=args.valid_hours)
    print(f"attested {args.manifest} as {config.node_id} in {blocks} signed block(s): {args.out}")
    return 0


def _next_steps(made: Scaffold, requester: str) -> list[str]:
    steps = []
    if made.tls_csr is not None:
        steps.append(f"send {made.tls_csr} to the federation CA's holder, who runs `fedtrade pki "
                     f"issue --ca CA_DIR --csr {made.tls_csr.name} --out DIR`; put the "
                     f"{made.node_id}.tls.crt you get back in {made.tls_key.parent}/, and the "
                     f"federation's ca.crt at {made.ca_cert}")
    steps += [
        f"copy the coordinator's public key ({requester}.pub, from its operator) to "
        f"{made.requester_key}",
        *(f"copy the trusted filer's public key (from its operator) to {key}"
          for key in made.filer_keys),
        f"copy the federation's linkage secret (from another node's operator, over a secure "
        f"channel) to {made.linkage_secret} (mode 0600); the first node creates it with "
        "`fedtrade linkage-secret`",
        f"send the coordinator's operator: id {made.node_id}, role {made.role}, the address it "
        f"reaches this node at (listening on {made.listen}), and {made.public_key} (key id "
        f"{made.key_id[:16]}…); they add it with `fedtrade nodes add`",
        f"import your data: fedtrade-node import --config {made.config} FOLDER",
        f"check, then start: fedtrade-node config check {made.config} && "
        f"fedtrade-node serve --config {made.config}",
    ]
    return steps


def _init(args: argparse.Namespace) -> int:
    from fedtrade.node.scaffold import init_node

    made = init_node(args.out, args.id, args.role, listen=args.listen,
                     requester=args.requester, ca_dir=args.ca,
                     filers=tuple(args.trusted_filer))
    steps = _next_steps(made, args.requester)
    written = [made.config, made.signing_key, made.public_key, made.tls_key]
    written += [p for p in (made.tls_cert, made.tls_csr) if p is not None]
    if args.ca is not None:
        written.append(made.ca_cert)
    if args.json:
        print_json({"node_id": made.node_id, "role": made.role, "listen": made.listen,
                    "config": made.config, "public_key": made.public_key,
                    "key_id": made.key_id, "written": written,
                    "missing": made.missing(), "next_steps": steps})
        return 0
    print(f"node {made.node_id} ({made.role}) created in {args.out}:")
    for path in written:
        print(f"  {path}")
    print("next steps:")
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="fedtrade-node",
        version=True,
        description="Run a fedtrade stakeholder node: answer signed queries from the coordinator "
        "over your own SQLite data, as allowed by your YAML trust config.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text for a terminal, json (one object per line) for collectors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve signed queries until SIGTERM/Ctrl-C")
    serve.add_argument("--config", type=Path, required=True, help="node trust config (YAML)")
    serve.add_argument("--port-file", type=Path,
                       help="write the port actually bound here (useful with listen port 0)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="override node.listen")
    serve.add_argument("--insecure", action="store_true",
                       help="allow plaintext gRPC when node.tls is not configured (testing only)")
    serve.add_argument("--metrics-port", type=int, metavar="PORT",
                       help="serve Prometheus metrics over HTTP on this port (0: a free one)")
    serve.add_argument("--metrics-address", default="127.0.0.1",
                       help="address of the metrics endpoint (default: %(default)s)")
    serve.set_defaults(run=_serve)

    init = commands.add_parser(
        "init", help="create a new node: keys, TLS certificate or request, commented config",
        description="Create OUT/config/node.yaml (granting what the coordinator's screening "
        "asks), OUT/keys (Ed25519 signing key pair, TLS key and certificate, or a request "
        "without --ca) and OUT/data, then print what to do next. Nothing is overwritten.")
    init.add_argument("--role", required=True, choices=("marketplace", "carrier", "broker"))
    init.add_argument("--id", required=True, help="the new node's id, e.g. carrier-2")
    init.add_argument("--out", type=Path, required=True, help="new folder for the node")
    init.add_argument("--ca", type=Path, metavar="CA_DIR",
                      help="the federation CA folder (pki init): issue the TLS certificate "
                      "now; without it, write a request (ID.tls.csr) for the CA's holder")
    init.add_argument("--listen", default="127.0.0.1:50051", metavar="HOST:PORT",
                      help="node.listen (default: %(default)s); one port per node on a host")
    init.add_argument("--requester", default="cbp-coordinator",
                      help="the coordinator's requester id (default: %(default)s)")
    init.add_argument("--trusted-filer", action="append", default=[], metavar="FILER_ID",
                      help="a carrier or broker node whose manifest attestations this node "
                      "answers for (repeatable); its public key goes in OUT/config/FILER_ID.pub")
    add_json_option(init)
    init.set_defaults(run=_init)

    config = commands.add_parser("config", help="work with trust configs")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser(
        "check", help="validate a node config (and its key files) without starting anything"
    )
    check.add_argument("file", type=Path, help="node trust config (YAML)")
    add_json_option(check)
    check.set_defaults(run=_config_check)

    audit = commands.add_parser("audit", help="work with the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify", help="check the audit hash chain; exits 1 on any edit, deletion or reordering"
    )
    verify.add_argument("--config", type=Path, required=True, help="node trust config (YAML)")
    verify.add_argument(
        "--checkpoint", type=Path, action="append", default=[], metavar="FILE",
        help="also check the log against the signed checkpoints in FILE (JSON lines, from "
        "`fedtrade evidence checkpoints` or the node's own .checkpoints.jsonl); detects "
        "deleted newest entries (repeatable)")
    add_json_option(verify)
    verify.set_defaults(run=_audit_verify)

    budget = commands.add_parser(
        "budget", help="show each requester's privacy budget spend in the current period")
    budget.add_argument("--config", type=Path, required=True, help="node trust config (YAML)")
    budget.set_defaults(run=_budget)

    health_cmd = commands.add_parser(
        "health", help="ask a node's standard gRPC health service; exit 0 only when SERVING")
    health_cmd.add_argument("--address", required=True, metavar="HOST:PORT")
    health_cmd.add_argument("--tls-config", type=Path, metavar="NODE_CONFIG",
                            help="connect with the mutual TLS files of this node config")
    health_cmd.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    add_json_option(health_cmd)
    health_cmd.set_defaults(run=_health)

    imp = commands.add_parser(
        "import",
        help="import CSV/JSON Lines into this node's store, atomically",
        description="Import one file into a table (TABLE PATH) or every <table>.csv/.jsonl of a "
        "folder (FOLDER). Every row is validated; a bad file changes nothing.",
    )
    imp.add_argument("--config", type=Path, required=True, help="node trust config (YAML)")
    imp.add_argument(
        "target", nargs="*", metavar="[TABLE] PATH", help="table name and file, or a folder"
    )
    imp.add_argument("--republish", action="store_true",
                     help="store.data: postgresql: copy the whole store to PostgreSQL instead "
                     "of what the import changed (the recovery after a lost publish); "
                     "without PATH, copy it and import nothing")
    imp.add_argument("--quarantine", type=Path, metavar="REJECTS",
                     help="import the valid rows and write the refused ones here, in the input's "
                     "format plus an import_error column (a folder when importing a folder)")
    imp.add_argument("--max-rejects", metavar="N|P%",
                     help="with --quarantine: refuse the import when more rows are refused")
    imp.add_argument("--report", type=Path, metavar="REPORT.json",
                     help="write what the import did as JSON: rows read, inserted, unchanged, "
                     "refused by reason, normalisations and the values they changed")
    imp.set_defaults(run=_import)

    attest = commands.add_parser(
        "attest",
        help="sign the manifest this node filed, in blocks, for the requester's questions",
        description="Sign the lines of a manifest file this node (carrier or broker) filed: "
        "one Ed25519 signature per block. Nodes that list this node under trusted_filers "
        "answer questions about these lines only.",
    )
    attest.add_argument("--config", type=Path, required=True, help="node trust config (YAML)")
    attest.add_argument("--manifest", type=Path, required=True, help="the filed manifest (CSV)")
    attest.add_argument("--out", type=Path, required=True,
                        help="write the signed blocks here (DSSE JSON lines)")
    attest.add_argument("--block-lines", type=int, default=1_000, metavar="N",
                        help="lines per signed block (default %(default)s)")
    attest.add_argument("--valid-hours", type=float, default=72.0, metavar="H",
                        help="hours the blocks stay valid (default %(default)s)")
    attest.set_defaults(run=_attest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(json=args.log_format == "json", verbose=args.verbose)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
