"""`fedtrade-node attest`: the filer signs the manifest it filed, in blocks.

A carrier (or broker) node reads the manifest file it submitted, normalises
each line as every party does (``fedtrade.protocol.normalize``) and signs the
lines in blocks with its node key: one signature per block. The consignee is
kept only as a pseudonymous reference. The output file goes to the requester
(CBP), whose questions then carry the blocks they are about.

Why a command and not an RPC the coordinator calls: the filer signs what it
filed, when it filed it; a signing service CBP could call on demand would let
the requester choose what gets attested.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fedtrade.protocol import normalize
from fedtrade.protocol.attestation import sign_blocks, write_attestations
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protos import attestation_pb2
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey
from fedtrade.trust.linkage import consignee_material

__all__ = ["ATTESTED_COLUMNS", "attest_manifest", "manifest_lines"]

ATTESTED_COLUMNS = ("house_bill", "mawb", "consignee_name", "consignee_address",
                    "declared_value", "currency", "hs6", "arrival_date")


def _line(row: dict[str, str]) -> attestation_pb2.ManifestLine | str:
    bill = normalize.house_bill(row["house_bill"] or "")
    hs6 = normalize.compact(row["hs6"] or "")
    value = normalize.money(row["declared_value"] or "")
    day = (row["arrival_date"] or "").strip()
    try:
        amount = float(value)
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return f"declared_value {value!r} or arrival_date {day!r} is not valid"
    if not HOUSE_BILL.fullmatch(bill):
        return f"house_bill {bill!r} is not 4-35 uppercase letters/digits"
    if not HS6.fullmatch(hs6):
        return f"hs6 {hs6!r} is not 6 digits"
    if not amount >= 0:
        return f"declared_value {value!r} is not an amount >= 0"
    reference = hashlib.blake2b(
        consignee_material(row["consignee_name"] or "", row["consignee_address"] or ""),
        digest_size=16).hexdigest()
    return attestation_pb2.ManifestLine(
        house_bill=bill, master_bill=normalize.compact(row["mawb"] or ""), declared_value=value,
        currency=normalize.code(row["currency"] or ""), hs6=hs6, consignee_ref=reference,
        arrival_date=day)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ATTESTED_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise DataError(f"{path}:1: the header lacks {', '.join(missing)}")
            for row in reader:
                yield reader.line_num, row
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid CSV ({exc})") from None


def manifest_lines(path: Path) -> list[attestation_pb2.ManifestLine]:
    """Every line of a manifest file, normalised; DataError names the first bad line."""
    lines, seen = [], set()
    for number, row in _rows(path):
        line = _line(row)
        if isinstance(line, str):
            raise DataError(f"{path}:{number}: {line}; fix the manifest, nothing was attested")
        if line.house_bill in seen:
            raise DataError(f"{path}:{number}: house bill {line.house_bill} is listed twice")
        seen.add(line.house_bill)
        lines.append(line)
    if not lines:
        raise DataError(f"{path}: the manifest has no lines")
    return lines


def attest_manifest(
    manifest: Path, out: Path, key: SigningKey, filer_id: str, *, block_lines: int,
    valid_hours: float,
) -> int:
    """Sign ``manifest`` in blocks into ``out``; return the number of blocks."""
    now = datetime.now(UTC)
    blocks = sign_blocks(key, filer_id, manifest_lines(manifest), block_lines=block_lines,
                         valid_from=now, valid_until=now + timedelta(hours=valid_hours))
    write_attestations(out, blocks)
    return len(blocks)
