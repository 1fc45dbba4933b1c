"""`fedtrade-node attest`: the filer signs the manifest it filed, in blocks.

A carrier (or broker) node reads the manifest file it submitted, normalises
each line as every party does (``fedtrade.protocol.normalize``) and signs the
lines in blocks with its node key: one signature per block. The consignee is
kept only as a pseudonymous reference (normalised a block at a time,
``fedtrade.protocol.consignee_columns``). Lines are read, signed and written
one block at a time, so memory holds one block, not the manifest; the output
file appears only when every line is good and no house bill is listed twice
(the bills seen so far are kept as one compact column to check that). The
output file goes to the requester (CBP), whose questions then carry the blocks
they are about.

Why a command and not an RPC the coordinator calls: the filer signs what it
filed, when it filed it; a signing service CBP could call on demand would let
the requester choose what gets attested.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fedtrade.protocol import normalize
from fedtrade.protocol.attestation import MAX_BLOCK_LINES, sign_blocks, write_attestations
from fedtrade.protocol.consignee_columns import consignee_material, normalize_consignees
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey

__all__ = ["ATTESTED_COLUMNS", "attest_manifest", "manifest_blocks", "manifest_lines"]

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


def _line(row: Sequence[str], consignee: bytes) -> attestation_pb2.ManifestLine | str:
    """``row``: the ``ATTESTED_COLUMNS`` of one manifest line, in that order; ``consignee``:
    its consignee's ``linkage.consignee_material``."""
    raw_bill, mawb, _, _, raw_value, currency, raw_hs6, raw_day = row
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
    reference = hashlib.blake2b(consignee, digest_size=16).hexdigest()
    return attestation_pb2.ManifestLine(
        house_bill=bill, master_bill=_compact(mawb), declared_value=value,
        currency=_code(currency), hs6=hs6, consignee_ref=reference, arrival_date=day)


# Per attested column (by position), the values normalising leaves as they are and the
# checks accept; the arrival date is checked per distinct value (``_plain``).
_PLAIN = {0: r"^[A-Z0-9]{4,35}$", 1: r"^[A-Z0-9]*$", 4: r"^[0-9]{1,15}(\.[0-9]{1,2})?$",
          5: r"^[A-Z]{3}$", 6: r"^[0-9]{6}$"}


def _plain(columns: Sequence[pa.Array]) -> npt.NDArray[np.bool_]:
    """Per row of a block: is every attested field already as ``_line`` would write it
    (and accepted)? Those rows skip the per-row normalisation."""
    plain = np.ones(len(columns[0]), bool)
    for at, pattern in _PLAIN.items():
        plain &= np.asarray(pc.match_substring_regex(columns[at], pattern), bool)
    days = columns[7].dictionary_encode()
    good = np.array([day.strip() == day and _is_day(day) for day in days.dictionary.to_pylist()],
                    bool)
    plain &= good[np.asarray(days.indices, np.int64)]
    return plain


def _plain_line(row: Sequence[str], consignee: bytes) -> attestation_pb2.ManifestLine:
    """``_line`` of a row ``_plain`` accepts: its fields as written."""
    bill, mawb, _, _, value, currency, hs6, day = row
    return attestation_pb2.ManifestLine(
        house_bill=bill, master_bill=mawb, declared_value=value, currency=currency, hs6=hs6,
        consignee_ref=hashlib.blake2b(consignee, digest_size=16).hexdigest(), arrival_date=day)


def _rows(path: Path) -> Iterator[tuple[int, Sequence[str]]]:
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
            pick = itemgetter(*at)
            for row in reader:
                if not row:
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield reader.line_num, pick(row)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid CSV ({exc})") from None


def _chunks(path: Path, size: int) -> Iterator[list[tuple[int, Sequence[str]]]]:
    chunk: list[tuple[int, Sequence[str]]] = []
    for item in _rows(path):
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _refuse_repeats(path: Path, bills: list[pa.Array], numbers: list[npt.NDArray[np.int64]]
                    ) -> None:
    """DataError naming the first line whose house bill an earlier line has."""
    if not bills:
        return
    seen = pa.concat_arrays(bills)
    if len(seen) < 2:
        return
    order = np.asarray(pc.sort_indices(seen), np.int64)  # a stable sort: earlier first
    ranked = seen.take(pa.array(order))
    again = np.asarray(pc.equal(ranked.slice(1), ranked.slice(0, len(seen) - 1)), bool)
    if again.any():
        first = int(order[1:][again].min())
        number = int(np.concatenate(numbers)[first])
        raise DataError(f"{path}:{number}: house bill {seen[first]} is listed twice")


def manifest_blocks(path: Path, block_lines: int) -> Iterator[list[attestation_pb2.ManifestLine]]:
    """Every line of a manifest file normalised, ``block_lines`` at a time; DataError names
    the first bad line (a repeated house bill: once every line is read, or at a bad line)."""
    bills: list[pa.Array] = []  # of the lines given so far, to find a repeated one
    numbers: list[npt.NDArray[np.int64]] = []
    for chunk in _chunks(path, block_lines):
        columns = [pa.array(values, pa.string())
                   for values in zip(*(row for _, row in chunk), strict=True)]
        consignees = consignee_material(*normalize_consignees(columns[2], columns[3]))
        lines: list[attestation_pb2.ManifestLine] = []
        for (number, row), consignee, plain in zip(chunk, consignees, _plain(columns).tolist(),
                                                   strict=True):
            line = _plain_line(row, consignee) if plain else _line(row, consignee)
            if isinstance(line, str):
                bills.append(pa.array([done.house_bill for done in lines], pa.string()))
                numbers.append(np.array([n for n, _ in chunk[:len(lines)]], np.int64))
                _refuse_repeats(path, bills, numbers)
                raise DataError(f"{path}:{number}: {line}; fix the manifest, nothing was attested")
            lines.append(line)
        bills.append(pa.array([line.house_bill for line in lines], pa.string()))
        numbers.append(np.array([n for n, _ in chunk], np.int64))
        yield lines
    if not bills:
        raise DataError(f"{path}: the manifest has no lines")
    _refuse_repeats(path, bills, numbers)


def manifest_lines(path: Path) -> list[attestation_pb2.ManifestLine]:
    """Every line of a manifest file, normalised; DataError names the first bad line."""
    return [line for block in manifest_blocks(path, MAX_BLOCK_LINES) for line in block]


def attest_manifest(
    manifest: Path, out: Path, key: SigningKey, filer_id: str, *, block_lines: int,
    valid_hours: float,
) -> int:
    """Sign ``manifest`` in blocks into ``out``; return the number of blocks. ``out``
    appears only when the whole manifest is signed."""
    if not 1 <= block_lines <= MAX_BLOCK_LINES:
        raise DataError(f"a block holds 1 to {MAX_BLOCK_LINES} lines, not {block_lines}")
    if not out.parent.is_dir():
        raise DataError(f"{out}: folder {out.parent} does not exist; create it or choose "
                        "another path")
    now, signed = datetime.now(UTC), 0

    def blocks() -> Iterator[Envelope]:
        nonlocal signed
        for lines in manifest_blocks(manifest, block_lines):
            yield from sign_blocks(key, filer_id, lines, block_lines=block_lines,
                                   valid_from=now, valid_until=now + timedelta(hours=valid_hours))
            signed += 1

    partial = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    try:
        write_attestations(partial, blocks())
        os.replace(partial, out)
    except OSError as exc:
        raise DataError(f"{out}: cannot write the attestations: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return signed
