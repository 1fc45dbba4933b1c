"""A length-delimited protobuf field written by hand, byte for byte as protobuf writes it.

Where bytes are already serialized (a signed envelope) or packed (flags), writing the
field around them saves protobuf a copy or a conversion per value; protobuf has no public
varint encoder. Tests compare each use with protobuf's own serialization.
"""

from __future__ import annotations

__all__ = ["length_delimited"]


def length_delimited(field_number: int, data: bytes) -> bytes:
    """Field ``field_number`` holding ``data``: its key (wire type 2), the length as a
    varint (seven bits a byte, low bits first), then the bytes."""
    out = bytearray([field_number << 3 | 2])
    length = len(data)
    while length > 0x7F:
        out.append(length & 0x7F | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out) + data
