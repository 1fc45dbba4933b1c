"""`fedtrade-node attest`: the filer signs the manifest it filed, in blocks.

A carrier (or broker) node reads the manifest file it submitted
(``fedtrade.node.attest_rows``), normalises each line as every party does
(``fedtrade.protocol.normalize``) and signs the lines in blocks with its node key: one
signature per block. The consignee is kept only as a pseudonymous reference
(normalised a run of rows at a time, ``fedtrade.protocol.consignee_columns``). A row
whose fields are already canonical is recognised and serialized column-wise
(``manifest_lines.line_records``); any other goes through the per-row normalisation.
Rows are read, signed and written a few blocks at a time, so memory holds those, not
the manifest; the output file appears only when every line is good and no house bill
is listed twice (the bills seen so far are kept as one compact column to check that).
The output file goes to the requester (CBP), whose questions then carry the blocks
they are about.

Why a command and not an RPC the coordinator calls: the filer signs what it
filed, when it filed it; a signing service CBP could call on demand would let
the requester choose what gets attested.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import reprlib
import secrets
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from fedtrade.node.attest_rows import ATTESTED_COLUMNS, Rows, manifest_rows
from fedtrade.protocol import normalize
from fedtrade.protocol.arrow_memory import return_freed_arrow_pages
from fedtrade.protocol.arrow_text import text_bytes, value_offsets
from fedtrade.protocol.attestation import MAX_BLOCK_LINES, sign_block, write_attestations
from fedtrade.protocol.consignee_columns import consignee_material, normalize_consignees
from fedtrade.protocol.limits import HOUSE_BILL, HS6
from fedtrade.protocol.manifest_lines import line_records
from fedtrade.protos import attestation_pb2
from fedtrade.trust.envelope import Envelope
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey

__all__ = ["ATTESTED_COLUMNS", "attest_manifest", "manifest_blocks", "manifest_lines"]


@functools.lru_cache(maxsize=4096)
def _is_day(text: str) -> bool:
    """A manifest holds few distinct arrival dates: each is parsed once."""
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


# a value quoted in an error: enough to find it in the file, not the whole of a long one
_QUOTE = reprlib.Repr()
_QUOTE.maxstring = 60
_quoted = _QUOTE.repr

# codes repeat from line to line (a few currencies, HS6 codes, master bills)
_code = functools.lru_cache(maxsize=4096)(normalize.code)
_compact = functools.lru_cache(maxsize=4096)(normalize.compact)


def _line(row: Sequence[str], reference: str) -> attestation_pb2.ManifestLine | str:
    """``row``: the ``ATTESTED_COLUMNS`` of one manifest line, in that order; ``reference``:
    its consignee reference."""
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
        return f"declared_value {_quoted(value)} or arrival_date {_quoted(day)} is not valid"
    if not HOUSE_BILL.fullmatch(bill):
        return f"house_bill {_quoted(bill)} is not 4-35 uppercase letters/digits"
    if not HS6.fullmatch(hs6):
        return f"hs6 {_quoted(hs6)} is not 6 digits"
    if not (math.isfinite(amount) and amount >= 0):  # as a node checks it (node.attestation)
        return f"declared_value {_quoted(value)} is not an amount >= 0"
    return attestation_pb2.ManifestLine(
        house_bill=bill, master_bill=_compact(mawb), declared_value=value,
        currency=_code(currency), hs6=hs6, consignee_ref=reference, arrival_date=day)


# Per attested column (by position), the values normalising leaves as they are and the
# checks accept (each under 128 bytes, as ``line_records`` needs); the arrival date is
# checked per distinct value (``_plain``).
_PLAIN = {0: r"^[A-Z0-9]{4,35}$", 1: r"^[A-Z0-9]{0,127}$", 4: r"^[0-9]{1,15}(\.[0-9]{1,2})?$",
          5: r"^[A-Z]{3}$", 6: r"^[0-9]{6}$"}


def _plain(columns: Sequence[pa.Array]) -> npt.NDArray[np.bool_]:
    """Per row: is every attested field already as ``_line`` would write it (and
    accepted)? Those rows skip the per-row normalisation."""
    plain = np.ones(len(columns[0]), bool)
    for at, pattern in _PLAIN.items():
        plain &= np.asarray(pc.match_substring_regex(columns[at], pattern), bool)
    days = columns[7].dictionary_encode()
    good = np.array([day.strip() == day and _is_day(day) for day in days.dictionary.to_pylist()],
                    bool)
    plain &= good[np.asarray(days.indices, np.int64)]
    return plain


def _references(columns: Sequence[pa.Array]) -> pa.Array:
    """Per row, the consignee reference: one consignee however the manifest spells it, as
    the nodes' consignee tokens."""
    materials = consignee_material(*normalize_consignees(columns[2], columns[3]))
    return pa.array([hashlib.blake2b(material, digest_size=16).hexdigest()
                     for material in materials], pa.string())


_WINDOW = 1 << 16


class _Seen:
    """The house bills of the lines accepted so far and their line numbers, to name the
    first line that repeats one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bills: list[pa.Array] = []
        self.numbers: list[npt.NDArray[np.int64] | range] = []

    def add(self, bills: pa.Array, numbers: npt.NDArray[np.int64]) -> None:
        self.bills.append(bills)
        # lines one after another (a run pyarrow read) are kept as their range
        if len(numbers) and numbers[-1] - numbers[0] == len(numbers) - 1:
            self.numbers.append(range(int(numbers[0]), int(numbers[-1]) + 1))
        else:
            self.numbers.append(numbers)

    def refuse_repeats(self) -> None:
        """DataError naming the first line whose house bill an earlier line has: the
        bills in order (a stable sort: of equal ones the earlier first), each compared
        with the one before, a window at a time (a sorted copy of every bill would be the
        run's largest moment: about 16 MB at 1,000,000 lines)."""
        seen = pa.chunked_array(self.bills, pa.string())
        if len(seen) < 2:
            return
        order = np.asarray(pc.sort_indices(seen), np.int64)
        again: list[int] = []
        for start in range(0, len(order) - 1, _WINDOW):
            at = order[start : start + _WINDOW + 1]
            ranked = seen.take(pa.array(at))
            same = pc.equal(ranked.slice(1), ranked.slice(0, len(at) - 1)).to_numpy()
            again += at[1:][same.astype(bool)].tolist()
        if again:
            first = min(again)
            number = int(np.concatenate([np.asarray(n, np.int64) for n in self.numbers])[first])
            raise DataError(f"{self.path}:{number}: house bill {seen[first]} is listed twice")


def _in_order(done: pa.Array, others: list[object], plain: npt.NDArray[np.bool_],
              kind: pa.DataType) -> pa.Array:
    """The values of the plain rows (``done``) and of the others (the rows not ``plain``,
    in order) as one array in row order."""
    if not others:
        return done
    at = np.concatenate([np.flatnonzero(plain), np.flatnonzero(~plain)[:len(others)]])
    joined = pa.concat_arrays([done.cast(kind), pa.array(others, kind)])
    return joined.take(pa.array(np.argsort(at, kind="stable")))


def _records(rows: Rows, seen: _Seen) -> pa.Array:
    """The ``line_records`` of every row of ``rows``, their house bills added to ``seen``;
    DataError naming the first bad line."""
    columns = rows.columns
    references = _references(columns)
    plain = _plain(columns)
    fields = [columns[0], columns[1], columns[4], columns[5], columns[6], references,
              columns[7]]
    if plain.all():
        seen.add(columns[0], rows.numbers)
        return line_records(fields)
    keep = pa.array(plain)
    others = np.flatnonzero(~plain)
    picked = [column.take(pa.array(others)).to_pylist() for column in columns]
    records: list[object] = []
    bills: list[object] = []
    for index, row, reference in zip(others.tolist(), zip(*picked, strict=True),
                                     references.take(pa.array(others)).to_pylist(), strict=True):
        line = _line(row, reference)
        if isinstance(line, str):
            before = plain[:index]
            seen.add(_in_order(columns[0].slice(0, index).filter(pa.array(before)), bills,
                               before, pa.string()), rows.numbers[:index])
            seen.refuse_repeats()
            raise DataError(f"{seen.path}:{rows.numbers[index]}: {line}; fix the manifest, "
                            "nothing was attested")
        records.append(attestation_pb2.ManifestBlock(lines=[line]).SerializeToString(
            deterministic=True))
        bills.append(line.house_bill)
    seen.add(_in_order(columns[0].filter(keep), bills, plain, pa.string()), rows.numbers)
    return _in_order(line_records([field.filter(keep) for field in fields]), records, plain,
                     pa.binary())


def manifest_blocks(path: Path, block_lines: int) -> Iterator[bytes]:
    """Every line of a manifest file normalised, ``block_lines`` at a time, each block's
    lines serialized as a ``ManifestBlock`` holds them; DataError names the first bad line
    (a repeated house bill: once every line is read, or at a bad line)."""
    seen = _Seen(path)
    for rows in manifest_rows(path, block_lines):
        records = _records(rows, seen)
        data, offsets = text_bytes(records), value_offsets(records)
        offsets = offsets - offsets[0]
        for start in range(0, len(records), block_lines):
            end = min(start + block_lines, len(records))
            yield data[offsets[start] : offsets[end]].tobytes()
    if not seen.bills:
        raise DataError(f"{path}: the manifest has no lines")
    seen.refuse_repeats()


def manifest_lines(path: Path) -> list[attestation_pb2.ManifestLine]:
    """Every line of a manifest file, normalised; DataError names the first bad line."""
    block = attestation_pb2.ManifestBlock.FromString(
        b"".join(manifest_blocks(path, MAX_BLOCK_LINES)))
    return list(block.lines)


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
    # 100,000 lines: peak 211 MiB with pyarrow's default pool, 177 MiB with this (about
    # 140 MiB of it the imports; measured)
    return_freed_arrow_pages()
    now, signed = datetime.now(UTC), 0

    def blocks() -> Iterator[Envelope]:
        nonlocal signed
        for lines in manifest_blocks(manifest, block_lines):
            yield sign_block(key, filer_id, lines, valid_from=now,
                             valid_until=now + timedelta(hours=valid_hours))
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
