"""A tiny CBOR (RFC 8949) encoder and decoder: just what COSE_Sign1 tokens need.

Supported: unsigned and negative integers, byte strings, text strings, arrays, maps,
``null``, ``true``/``false`` and tags, all with definite lengths and the shortest argument
encoding (deterministic encoding, RFC 8949 section 4.2.1, except map key ordering, which
follows insertion order). Anything else raises :class:`CborError`.

Hand-written on purpose, and it stays so: the simulator is the independent implementation of
the modem that the product is tested against, so it must not encode or decode with the
product's CBOR code (:mod:`xsudo.tokens.cbor`, which uses ``cbor2``). A token the simulator
builds with this module and the host decodes with ``cbor2`` checks both sides; the same
library on both would share its mistakes. The COSE_Sign1 signer (:mod:`xsudo.sim.cose`) is
the simulator's own for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

CborValue = Union[
    int, bytes, str, bool, None, list["CborValue"], dict["CborValue", "CborValue"], "Tag"
]


class CborError(ValueError):
    """Bytes that are not CBOR this module understands, or a value it cannot encode."""


@dataclass(frozen=True)
class Tag:
    """A tagged value, e.g. ``Tag(18, [...])`` for a COSE_Sign1."""

    number: int
    value: CborValue


def _head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for extra, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * width):
            return bytes([major << 5 | extra]) + argument.to_bytes(width, "big")
    raise CborError("integer too large for CBOR")


def dumps(value: CborValue) -> bytes:
    """Encode ``value``."""
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(dumps(item) for item in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(dumps(k) + dumps(v) for k, v in value.items())
    if isinstance(value, Tag):
        return _head(6, value.number) + dumps(value.value)
    raise CborError(f"cannot encode {type(value).__name__} as CBOR")


def loads(data: bytes) -> CborValue:
    """Decode exactly one CBOR item; trailing bytes are an error."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise CborError(f"{len(data) - end} trailing bytes after the CBOR item")
    return value


def _argument(data: bytes, pos: int) -> tuple[int, int, int]:
    if pos >= len(data):
        raise CborError("truncated CBOR")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return major, info, pos + 1
    widths = {24: 1, 25: 2, 26: 4, 27: 8}
    if info not in widths:
        raise CborError(f"unsupported CBOR additional information {info}")
    width = widths[info]
    end = pos + 1 + width
    if end > len(data):
        raise CborError("truncated CBOR")
    return major, int.from_bytes(data[pos + 1 : end], "big"), end


def _decode(data: bytes, pos: int) -> tuple[CborValue, int]:
    if pos < len(data) and data[pos] >> 5 == 7:
        simple = {0xF4: False, 0xF5: True, 0xF6: None}
        if data[pos] not in simple:
            raise CborError(f"unsupported CBOR simple value 0x{data[pos]:02x}")
        return simple[data[pos]], pos + 1
    major, arg, pos = _argument(data, pos)
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        end = pos + arg
        if end > len(data):
            raise CborError("truncated CBOR string")
        chunk = data[pos:end]
        return (chunk if major == 2 else chunk.decode("utf-8")), end
    if major == 4:
        items: list[CborValue] = []
        for _ in range(arg):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if major == 5:
        mapping: dict[CborValue, CborValue] = {}
        for _ in range(arg):
            key, pos = _decode(data, pos)
            mapping[key], pos = _decode(data, pos)
        return mapping, pos
    inner, pos = _decode(data, pos)
    return Tag(arg, inner), pos
