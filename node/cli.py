"""`fedtrade-node`: the stakeholder's command line (serve, check config, import, audit,
attest)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from fedtrade.node.attest import attest_manifest
from fedtrade.node.audit import verify_chain
from fedtrade.node.config import load_node_config
from fedtrade.node.health import probe
from fedtrade.node.logs import configure_logging
from fedtrade.node.metrics import NodeMetrics
from fedtrade.node.reload import ConfigWatcher
from fedtrade.node.server import NodeServer, create_server
from fedtrade.node.state import NodeState
from fedtrade.node.store.importer import RejectLimit, import_path
from fedtrade.trust.cli import CommandParser, add_json_option, print_json, run_command
from fedtrade.trust.errors import ConfigError, FedtradeError
from fedtrade.trust.keys import SigningKey

__all__ = ["main"]

log = logging.getLogger("fedtrade.node")

GRACE_SECONDS = 10.0


def _write_port(path: Path, port: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


def _run_until_signal(server: NodeServer, state: NodeState, args: argparse.Namespace) -> None:
    """Serve (and follow config edits) until SIGTERM or Ctrl-C, then drain and stop."""
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
        print(f"node {config.node_id} ({config.role}) listening on {host}:{server.port}"
              + (" (mutual TLS)" if config.tls else " (PLAINTEXT)"), flush=True)
        # Wake up now and then: the kernel may deliver SIGTERM to one of gRPC's threads, and
        # Python runs the handler only when the main thread gets back to the interpreter.
        while not stop.wait(0.5):
            pass
    finally:
        watcher.stop()
        server.stop(GRACE_SECONDS)


def _serve(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    if config.tls is None:
        if not args.insecure:
            raise ConfigError(
                "node.tls is not configured: a node serves mutual TLS (see the README, "
                "'Operating a node'); pass --insecure to serve plaintext on a test network",
                path=args.config, key="node.tls")
        log.warning("serving PLAINTEXT gRPC (--insecure): queries and answers are signed but "
                    "not encrypted, and any client can connect")
    state = NodeState.open(config)
    metrics = state.metrics = NodeMetrics()
    try:
        metrics.observe_config(config)
        if args.metrics_port is not None:
            bound = metrics.start(args.metrics_port, args.metrics_address)
            log.info("metrics at http://%s:%d/metrics", args.metrics_address, bound)
        _run_until_signal(create_server(state, args.listen or config.listen), state, args)
    finally:
        metrics.stop()
        state.close()  # every answered request was committed to the audit log before answering
    print(f"node {config.node_id} stopped", flush=True)
    return 0


def _health(args: argparse.Namespace) -> int:
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
    if args.json:
        print_json({
            "file": str(args.file), "ok": True, "kind": "node", "node_id": config.node_id,
            "role": config.role, "version": config.version,
            "requesters": sorted(config.requesters),
            "tls_not_after": config.tls.not_after.isoformat() if config.tls else None,
        })
        return 0
    print(
        f"{args.file}: OK — node {config.node_id} ({config.role}), config version "
        f"{config.version}, {len(config.requesters)} requester(s)"
    )
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    if not config.database.exists():
        raise FedtradeError(f"{config.database} does not exist; has this node ever run?")
    try:
        conn = sqlite3.connect(f"{config.database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            count = verify_chain(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise FedtradeError(
            f"{config.database}: cannot read the audit log ({exc}); is it this node's store? "
            "restore it from backup if it is damaged"
        ) from exc
    if args.json:
        print_json({"database": str(config.database), "ok": True, "entries": count})
    else:
        print(f"audit log OK: {count} entries, hash chain intact")
    return 0


def _import(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    if len(args.target) == 1:
        table, path = None, Path(args.target[0])
    elif len(args.target) == 2:
        table, path = args.target[0], Path(args.target[1])
    else:
        raise FedtradeError("give TABLE PATH for one file, or just a FOLDER")
    limit = None if args.max_rejects is None else RejectLimit.parse(args.max_rejects)
    report = import_path(config.database, config.role, table, path,
                         quarantine=args.quarantine, max_rejects=limit)
    print(report.summary())
    if args.report is not None:
        try:
            args.report.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        except OSError as exc:
            raise FedtradeError(f"{args.report}: cannot write the report: {exc.strerror}") from exc
    return 0


def _attest(args: argparse.Namespace) -> int:
    config = load_node_config(args.config)
    blocks = attest_manifest(
        args.manifest, args.out, SigningKey.from_file(config.signing_key), config.node_id,
        block_lines=args.block_lines, valid_hours=args.valid_hours)
    print(f"attested {args.manifest} as {config.node_id} in {blocks} signed block(s): {args.out}")
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
    add_json_option(verify)
    verify.set_defaults(run=_audit_verify)

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
        "target", nargs="+", metavar="[TABLE] PATH", help="table name and file, or a folder"
    )
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
