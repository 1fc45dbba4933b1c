"""`fedtrade aeo ...`: issue, revoke and list AEO certificates; scorecards.

The AEO authority signs with its own key (``fedtrade keygen --name cbp-aeo``),
kept apart from the coordinator's query-signing key. Its register (one file of
signed envelope lines) holds every certificate and revocation; the coordinator
and the nodes read revocations from it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from fedtrade.coordinator.aeo_config import MEASURES
from fedtrade.coordinator.config import load_coordinator_config
from fedtrade.coordinator.evidence import EvidenceStore
from fedtrade.coordinator.render import console
from fedtrade.coordinator.scorecard import compute_scorecards
from fedtrade.coordinator.scorecard_files import sign_scorecard, verify_scorecard, write_scorecard
from fedtrade.protocol.aeo import (
    AeoAuthority,
    CertificateError,
    append_to_register,
    check_certificate,
    issue_certificate,
    read_certificate,
    read_register,
    revoke_certificate,
)
from fedtrade.protocol.envelope_files import write_envelope_lines
from fedtrade.trust.cli import CommandParser, add_json_option, print_json
from fedtrade.trust.errors import ConfigError, FedtradeError
from fedtrade.trust.keys import SigningKey, load_public_key

__all__ = ["add_aeo_commands"]


def _moment(text: str) -> datetime:
    """A date (midnight UTC) or ISO date-time (UTC unless it names a zone), for --valid-*."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date such as 2026-12-31 or 2026-12-31T23:59:59Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _authority(args: argparse.Namespace) -> tuple[SigningKey, AeoAuthority]:
    key = SigningKey.from_file(args.key)
    return key, AeoAuthority(args.authority_id, key.public_key)


def _issue(args: argparse.Namespace) -> int:
    key, authority = _authority(args)
    envelope = issue_certificate(
        key, authority_id=authority.id, node_id=args.node, role=args.role,
        legal_name=args.legal_name, tier=args.tier, valid_from=args.valid_from,
        valid_until=args.valid_until, conditions=args.condition,
        issued_at=datetime.now(UTC))
    certificate = read_certificate(envelope, authority)
    append_to_register(args.register, authority, envelope)
    write_envelope_lines(args.out, [envelope])
    if args.json:
        print_json({**certificate.summary(), "file": str(args.out),
                    "register": str(args.register)})
        return 0
    print(f"issued AEO certificate {certificate.certificate_id} ({certificate.tier}) to "
          f"{certificate.node_id} ({certificate.legal_name}), valid "
          f"{certificate.valid_from:%Y-%m-%d} to {certificate.valid_until:%Y-%m-%d}; wrote "
          f"{args.out} (give it to the node's operator: aeo.certificate in its config) and "
          f"added it to {args.register}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    key, authority = _authority(args)
    if not args.register.exists():
        raise FedtradeError(f"{args.register}: no such register; check the path")
    register = read_register(args.register, authority)
    matches = [c for c in register.certificates
               if c.certificate_id.startswith(args.certificate.lower())]
    if len(matches) != 1:
        raise FedtradeError(
            f"{len(matches)} certificates in {args.register} have an id starting with "
            f"{args.certificate!r}; give more of the id (fedtrade aeo list shows them)")
    (certificate,) = matches
    if certificate.certificate_id in register.revocations:
        raise FedtradeError(f"certificate {certificate.certificate_id} is already revoked")
    now = datetime.now(UTC)
    envelope = revoke_certificate(key, certificate, reason=args.reason, revoked_at=now)
    append_to_register(args.register, authority, envelope)
    if args.json:
        print_json({"certificate_id": certificate.certificate_id, "node_id": certificate.node_id,
                    "reason": args.reason, "revoked_at": now.isoformat(),
                    "register": str(args.register)})
        return 0
    print(f"revoked AEO certificate {certificate.certificate_id} of {certificate.node_id} "
          f"({args.reason}); distribute {args.register} to the coordinator and the nodes")
    return 0


def _list(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    if config.aeo is None:
        raise ConfigError("no aeo section: add aeo.authority and aeo.register (see "
                          "configs/coordinator.yaml)", path=args.config)
    at = args.at or datetime.now(UTC)
    register, authority = config.aeo.register, config.aeo.authority
    rows = []
    for certificate in register.certificates:
        try:
            check_certificate(certificate.envelope, authority, node_id=certificate.node_id,
                              role=certificate.role, at=at, register=register)
            status = "valid"
        except CertificateError as exc:
            status = str(exc)
        rows.append((certificate, status))
    if args.json:
        print_json({"at": at.isoformat(), "certificates": [
            {**c.summary(), "status": status} for c, status in rows]})
        return 0
    table = Table("certificate", "node", "role", "legal name", "tier", "valid from",
                  "valid until", "status", title=f"AEO certificates at {at:%Y-%m-%d %H:%M} UTC")
    for c, status in rows:
        table.add_row(c.certificate_id[:16], c.node_id, c.role, c.legal_name, c.tier,
                      f"{c.valid_from:%Y-%m-%d}", f"{c.valid_until:%Y-%m-%d}", status)
    console().print(table)
    return 0


def _scorecard(args: argparse.Namespace) -> int:
    config = load_coordinator_config(args.config)
    if not config.evidence_db.exists():
        raise ConfigError("no evidence store yet; screen or query first", path=args.config,
                          key="coordinator.evidence_db")
    store = EvidenceStore(config.evidence_db)
    try:
        document = compute_scorecards(config, store, args.period, args.node)
    finally:
        store.close()
    envelope = sign_scorecard(document, SigningKey.from_file(config.signing_key))
    stem = args.out or Path(f"scorecard-{args.period}" + (f"-{args.node}" if args.node else ""))
    json_path, html_path = write_scorecard(stem, document, envelope)
    if args.json:
        print_json({"json": str(json_path), "html": str(html_path), "scorecard": document})
        return 0
    table = Table("node", "certificate", "evidence supports", *MEASURES, "integrity",
                  "falls short (next tier)", title=f"AEO scorecards, {args.period}")
    for card in document["nodes"]:
        short = next((t for t in card["tiers"] if t["shortfalls"]), None)
        table.add_row(
            card["node_id"], (card["certificate"] or {}).get("tier", "none"),
            card["supported_tier"] or "no tier",
            *(_shown(card["measures"][m]["value"]) for m in MEASURES),
            "ok" if card["integrity"]["ok"] else "FAILED",
            f"{short['name']}: {'; '.join(short['shortfalls'])}" if short else "")
    console().print(table)
    print(f"signed scorecards written to {json_path} and {html_path}; a stakeholder checks "
          f"them with: fedtrade aeo verify-scorecard {html_path} --coordinator-key KEY.pub")
    return 0


def _shown(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _verify_scorecard(args: argparse.Namespace) -> int:
    document = verify_scorecard(args.file, load_public_key(args.coordinator_key))
    if args.json:
        print_json({"ok": True, "scorecard": document})
        return 0
    nodes = ", ".join(f"{c['node_id']} ({c['supported_tier'] or 'no tier'})"
                      for c in document["nodes"])
    print(f"{args.file}: OK — signed by coordinator {document['coordinator']} on "
          f"{document['generated_at']}, period {document['period']}: {nodes}")
    return 0


def _authority_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", type=Path, required=True,
                        help="the AEO authority's private key (fedtrade keygen --name cbp-aeo)")
    parser.add_argument("--authority-id", default="cbp-aeo",
                        help="the authority's id, as configs list it (default: %(default)s)")
    parser.add_argument("--register", type=Path, required=True, metavar="REGISTER.jsonl",
                        help="the authority's register of certificates and revocations "
                        "(created if missing)")


def add_aeo_commands(commands: argparse._SubParsersAction[CommandParser]) -> None:
    aeo = commands.add_parser("aeo", help="AEO certificates and data-sharing scorecards")
    actions = aeo.add_subparsers(dest="aeo_command", required=True, metavar="ACTION")

    issue = actions.add_parser(
        "issue", help="sign an AEO certificate for a node and add it to the register",
        description="Sign a certificate naming the node (id, role, legal name), its tier, "
        "validity window and conditions with the AEO authority's key.")
    _authority_options(issue)
    issue.add_argument("--node", required=True, metavar="NODE_ID")
    issue.add_argument("--role", required=True, choices=("marketplace", "carrier", "broker"))
    issue.add_argument("--legal-name", required=True)
    issue.add_argument("--tier", required=True, help="a tier name of aeo.tiers")
    issue.add_argument("--valid-from", type=_moment, required=True, metavar="DATE")
    issue.add_argument("--valid-until", type=_moment, required=True, metavar="DATE")
    issue.add_argument("--condition", action="append", default=[], metavar="TEXT",
                       help="a condition of the certificate (repeatable)")
    issue.add_argument("--out", type=Path, required=True, metavar="CERT.jsonl",
                       help="the certificate file for the node's operator")
    add_json_option(issue)
    issue.set_defaults(run=_issue)

    revoke = actions.add_parser("revoke", help="revoke a certificate (signed, in the register)")
    _authority_options(revoke)
    revoke.add_argument("--certificate", required=True, metavar="ID",
                        help="the certificate id, or a unique start of it")
    revoke.add_argument("--reason", required=True)
    add_json_option(revoke)
    revoke.set_defaults(run=_revoke)

    listing = actions.add_parser(
        "list", help="the register's certificates and whether each counts now",
        description="Verify the register named by the coordinator config's aeo section and "
        "show each certificate with its status: valid, expired, not yet valid or revoked.")
    listing.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    listing.add_argument("--at", type=_moment, metavar="DATE",
                         help="check validity at this moment (default: now)")
    add_json_option(listing)
    listing.set_defaults(run=_list)

    scorecard = actions.add_parser(
        "scorecard", help="each node's data-sharing scorecard for a month, signed",
        description="Compute availability, coverage, timeliness, consistency, integrity and "
        "refusals per node for one month, only from the evidence store, check them against "
        "aeo.tiers, and write OUT.json and OUT.html signed by the coordinator.")
    scorecard.add_argument("--config", type=Path, required=True, help="coordinator config (YAML)")
    scorecard.add_argument("--period", required=True, metavar="YYYY-MM",
                           help="the month of the questions (issue time, UTC)")
    scorecard.add_argument("--node", metavar="NODE_ID", help="one node only (default: all)")
    scorecard.add_argument("--out", type=Path, metavar="STEM",
                           help="file name stem (default: scorecard-PERIOD[-NODE])")
    add_json_option(scorecard)
    scorecard.set_defaults(run=_scorecard)

    check = actions.add_parser(
        "verify-scorecard", help="check that a scorecard is the one the coordinator signed",
        description="Verify the coordinator's signature on a scorecard (.json or .html) and "
        "that its readable content is exactly what was signed.")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--coordinator-key", type=Path, required=True, metavar="KEY.pub",
                       help="the coordinator's public key (as your node config lists it)")
    add_json_option(check)
    check.set_defaults(run=_verify_scorecard)
