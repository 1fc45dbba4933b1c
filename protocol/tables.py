"""Column-oriented tables on the wire: encode rows into typed arrays, decode and check them.

Answers for a batch of 10,000 shipments would otherwise be tens of thousands
of small messages; packed arrays are encoded and parsed in C. Decoding checks
every length, because tables arrive from the network.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_
from typing import overload

from fedtrade.protocol.protobuf_fields import length_delimited
from fedtrade.protos import query_pb2
from fedtrade.trust.errors import MalformedRequestError

__all__ = ["ColumnRows", "DecodedTable", "PyValue", "decode_table", "encode_columns", "encode_rows"]

# Sequence and Mapping (not list and dict) so that list[str] is a PyValue too.
PyValue = str | int | float | bool | None | Sequence["PyValue"] | Mapping[str, "PyValue"]

_PLACEHOLDER: Mapping[int, PyValue] = {
    query_pb2.COLUMN_TYPE_TEXT: "",
    query_pb2.COLUMN_TYPE_INTEGER: 0,
    query_pb2.COLUMN_TYPE_NUMBER: 0.0,
    query_pb2.COLUMN_TYPE_FLAG: False,
    query_pb2.COLUMN_TYPE_TEXT_LIST: [],
}


class ColumnRows(Sequence[tuple[PyValue, ...]]):
    """Rows held as their columns (at least one, all of one length): a query that computes
    column by column hands its answer to ``encode_rows`` without building a tuple per row."""

    def __init__(self, columns: Sequence[Sequence[PyValue]]) -> None:
        if not columns or len({len(c) for c in columns}) != 1:
            raise ValueError("ColumnRows needs at least one column, all of one length")
        self.columns = tuple(columns)

    def __len__(self) -> int:
        return len(self.columns[0])

    @overload
    def __getitem__(self, index: int) -> tuple[PyValue, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> ColumnRows: ...
    def __getitem__(self, index: int | slice) -> tuple[PyValue, ...] | ColumnRows:
        if isinstance(index, slice):
            return ColumnRows([c[index] for c in self.columns])
        return tuple(c[index] for c in self.columns)

    def __iter__(self) -> Iterator[tuple[PyValue, ...]]:
        return zip(*self.columns, strict=True)


@dataclass(frozen=True)
class DecodedTable:
    names: tuple[str, ...]
    columns: Mapping[str, list[PyValue]]
    row_count: int

    def rows(self) -> Iterator[tuple[PyValue, ...]]:
        return zip(*(self.columns[n] for n in self.names), strict=True) if self.names else iter(())

    def records(self) -> Iterator[dict[str, PyValue]]:
        for row in self.rows():
            yield dict(zip(self.names, row, strict=True))


def _column_type(kinds: set[type]) -> int:
    """The column type of values of these Python types (None's aside)."""
    kinds = kinds - {type(None)}
    if not kinds or kinds == {str}:
        return query_pb2.COLUMN_TYPE_TEXT
    if kinds == {bool}:
        return query_pb2.COLUMN_TYPE_FLAG
    if kinds == {int}:
        return query_pb2.COLUMN_TYPE_INTEGER
    if kinds <= {int, float}:
        return query_pb2.COLUMN_TYPE_NUMBER
    if kinds == {list}:
        return query_pb2.COLUMN_TYPE_TEXT_LIST
    raise TypeError(f"a column cannot mix {', '.join(sorted(k.__name__ for k in kinds))}")


def _encode(column: query_pb2.Column, name: str, values: Sequence[PyValue]) -> None:
    """Fill ``column``, already in its table: a column built apart would be copied in."""
    kinds = set(map(type, values))
    kind = _column_type(kinds)
    column.name = name
    column.type = kind  # type: ignore[assignment]
    if type(None) in kinds:  # nulls are listed, and a placeholder of the type takes their place
        nulls = list(compress(range(len(values)), map(is_, values, repeat(None))))
        column.nulls.extend(nulls)
        placeholder = _PLACEHOLDER[kind]
        values = list(values)
        for index in nulls:
            values[index] = placeholder
    if kind == query_pb2.COLUMN_TYPE_TEXT:
        column.texts.extend(values)  # type: ignore[arg-type]
    elif kind == query_pb2.COLUMN_TYPE_INTEGER:
        column.integers.extend(values)  # type: ignore[arg-type]
    elif kind == query_pb2.COLUMN_TYPE_NUMBER:
        column.numbers.extend(values if int not in kinds else map(float, values))  # type: ignore[arg-type]
    elif kind == query_pb2.COLUMN_TYPE_FLAG:
        # as the packed field protobuf writes (a byte 0 or 1 per flag), parsed in C: a third
        # of extend's time, which converts flag by flag
        flags = bytes(values)  # type: ignore[arg-type]
        column.MergeFromString(length_delimited(query_pb2.Column.FLAGS_FIELD_NUMBER, flags))
    else:
        column.list_lengths.extend(map(len, values))  # type: ignore[arg-type]
        column.texts.extend(str(item) for v in values for item in v)  # type: ignore[union-attr]


def encode_columns(columns: Mapping[str, Sequence[PyValue]],
                   into: query_pb2.Table | None = None) -> query_pb2.Table:
    """Encode named columns of equal length; ``into``: an empty table inside the message
    that carries it (``chunk.table``), filled where it is rather than built and copied in."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError("all columns of a table need the same length")
    table = query_pb2.Table() if into is None else into
    table.row_count = lengths.pop() if lengths else 0
    for name, values in columns.items():
        _encode(table.columns.add(), name, values)
    return table


def encode_rows(names: Sequence[str], rows: Sequence[Sequence[PyValue]],
                into: query_pb2.Table | None = None) -> query_pb2.Table:
    if isinstance(rows, ColumnRows):
        columns: Sequence[Sequence[PyValue]] = rows.columns
    else:
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    table = encode_columns(dict(zip(names, columns, strict=True)), into)
    table.row_count = len(rows)
    return table


def _bad(name: str, problem: str) -> MalformedRequestError:
    return MalformedRequestError(f"table column {name!r}: {problem}")


def _decode(column: query_pb2.Column, rows: int) -> list[PyValue]:
    values: list[PyValue]
    match column.type:
        case query_pb2.COLUMN_TYPE_TEXT:
            values = list(column.texts)
        case query_pb2.COLUMN_TYPE_INTEGER:
            values = list(column.integers)
        case query_pb2.COLUMN_TYPE_NUMBER:
            values = list(column.numbers)
        case query_pb2.COLUMN_TYPE_FLAG:
            values = list(column.flags)
        case query_pb2.COLUMN_TYPE_TEXT_LIST:
            lengths = list(column.list_lengths)
            if sum(lengths) != len(column.texts):
                raise _bad(column.name, "list lengths do not add up to its items")
            texts, values, start = list(column.texts), [], 0
            for length in lengths:
                values.append(texts[start : start + length])
                start += length
        case _:
            raise _bad(column.name, f"unknown column type {column.type}")
    if len(values) != rows:
        raise _bad(column.name, f"has {len(values)} values for {rows} rows")
    for index in column.nulls:
        if index >= rows:
            raise _bad(column.name, f"null at row {index} of {rows}")
        values[index] = None
    return values


def decode_table(table: query_pb2.Table) -> DecodedTable:
    """Decode and check a table; raises MalformedRequestError on any inconsistency."""
    names = tuple(c.name for c in table.columns)
    if len(set(names)) != len(names):
        raise MalformedRequestError("a table names a column twice")
    columns = {c.name: _decode(c, table.row_count) for c in table.columns}
    return DecodedTable(names, columns, table.row_count)
