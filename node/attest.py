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
import functools
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fedtrade.protocol import normalize
from fedtrade.protocol.attestation import sign_blocks, write_attestations
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.matching import normalize_consignee
from fedtrade.protos import attestation_pb2
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey
from fedtrade.trust.linkage import consignee_material

__all__ = ["ATTESTED_COLUMNS", "attest_manifest", "manifest_lines"]

ATTESTED_COLUMNS = ("house_bill", "mawb", "consignee_name", "consignee_address",
                    "declared_value", "currency", "hs6", "arrival_date")


@functools.lru_cache(maxsize=4096)
def _is_day(text: str) -> bool:
    """A manifest holds few distinct arrival dates: each is parsed once."""
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


# codes repeat from line to line (a few currencies, HS6 codes, master bills)
_code = functools.lru_cache(maxsize=4096)(normalize.code)
_compact = functools.lru_cache(maxsize=4096)(normalize.compact)


def _line(row: Sequence[str]) -> attestation_pb2.ManifestLine | str:
    """``row``: the ``ATTESTED_COLUMNS`` of one manifest line, in that order."""
    raw_bill, mawb, name, address, raw_value, currency, raw_hs6, raw_day = row
    bill = normalize.house_bill(raw_bill)
    hs6 = _compact(raw_hs6)
    value = normalize.money(raw_value)
    day = raw_day.strip()
    try:
        amount = float(value)
    except ValueError:
        amount = None
    if amount is None or not _is_day(day):
        return f"declared_value {value!r} or arrival_date {day!r} is not valid"
    if not HOUSE_BILL.fullmatch(bill):
        return f"house_bill {bill!r} is not 4-35 uppercase letters/digits"
    if not HS6.fullmatch(hs6):
        return f"hs6 {hs6!r} is not 6 digits"
    if not amount >= 0:
        return f"declared_value {value!r} is not an amount >= 0"
    # one consignee however the manifest spells it, as the nodes' consignee tokens
    reference = hashlib.blake2b(consignee_material(*normalize_consignee(name, address)),
                                digest_size=16).hexdigest()
    return attestation_pb2.ManifestLine(
        house_bill=bill, master_bill=_compact(mawb), declared_value=value,
        currency=_code(currency), hs6=hs6, consignee_ref=reference, arrival_date=day)


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, the ``ATTESTED_COLUMNS`` of the row) of every row that is not blank;
    a short row's missing fields are empty."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            missing = [c for c in ATTESTED_COLUMNS if c not in header]
            if missing:
                raise DataError(f"{path}:1: the header lacks {', '.join(missing)}")
            # as csv.DictReader reads it: a repeated column name means its last place
            at = [len(header) - 1 - header[::-1].index(c) for c in ATTESTED_COLUMNS]
            width = max(at) + 1
            for row in reader:
                if not row:
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield reader.line_num, [row[i] for i in at]
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
