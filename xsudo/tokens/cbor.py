"""A small strict CBOR (RFC 8949) decoder, and the one encoding COSE verification needs.

This is deliberately not the simulator's CBOR module: the host decodes what the modem (or
the simulator) sends with code that shares nothing with the code that produced it.

Accepted: unsigned and negative integers, byte and text strings, arrays, maps with integer,
text or byte-string keys (no duplicates), tags, ``false``/``true``/``null``; definite
lengths only; at most :data:`MAX_DEPTH` levels; exactly one item (no trailing bytes).
Everything else (indefinite lengths, floats, ``undefined``, other simple values, invalid
UTF-8) raises :class:`TokenError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from xsudo.tokens.errors import TokenError

MAX_DEPTH = 16
SELF_DESCRIBED = 55799
"""Tag 55799 ("self-described CBOR"): real modems wrap token messages in it."""

Key = int | str | bytes
Value = Union[int, bytes, str, bool, None, list["Value"], dict[Key, "Value"], "Tag"]

_SIMPLE: dict[int, Value] = {20: False, 21: True, 22: None}
_WIDTHS = {24: 1, 25: 2, 26: 4, 27: 8}


@dataclass(frozen=True)
class Tag:
    """A tagged item, e.g. ``Tag(18, [...])`` for a COSE_Sign1."""

    number: int
    value: Value


def loads(data: bytes, what: str = "CBOR") -> Value:
    """Decode exactly one item from ``data``; ``what`` names it in errors."""
    decoder = _Decoder(data, what)
    value = decoder.item(0)
    if decoder.pos != len(data):
        raise TokenError(f"{what}: {len(data) - decoder.pos} bytes after the CBOR item")
    return value


def untag_self_described(value: Value) -> Value:
    """``value`` without a tag 55799 around it (RFC 8949 section 3.4.6), if it has one."""
    if isinstance(value, Tag) and value.number == SELF_DESCRIBED:
        return value.value
    return value


class _Decoder:
    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self.pos = 0

    def fail(self, problem: str) -> TokenError:
        return TokenError(f"{self.what} is not valid CBOR: {problem} at byte {self.pos}")

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise self.fail("truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def head(self) -> tuple[int, int, int]:
        """(major type, additional information, argument)."""
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, info
        if info == 31:
            raise self.fail("indefinite length")
        if info not in _WIDTHS:
            raise self.fail(f"reserved additional information {info}")
        return major, info, int.from_bytes(self.take(_WIDTHS[info]), "big")

    def item(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")
        major, info, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return self.take(arg)
        if major == 3:
            try:
                return self.take(arg).decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail("text string is not UTF-8") from None
        if major == 4:
            return [self.item(depth + 1) for _ in range(self._count(arg))]
        if major == 5:
            return self.mapping(self._count(arg), depth)
        if major == 6:
            return Tag(arg, self.item(depth + 1))
        if info < 24 and arg in _SIMPLE:
            return _SIMPLE[arg]
        raise self.fail(f"unsupported simple value or float (0x{(major << 5) | info:02x})")

    def _count(self, arg: int) -> int:
        if arg > len(self.data) - self.pos:
            raise self.fail("truncated")
        return arg

    def mapping(self, count: int, depth: int) -> dict[Key, Value]:
        result: dict[Key, Value] = {}
        for _ in range(count):
            key = self.item(depth + 1)
            if isinstance(key, bool) or not isinstance(key, int | str | bytes):
                raise self.fail("map key is not an integer, text or byte string")
            if key in result:
                raise self.fail(f"duplicate map key {key!r}")
            result[key] = self.item(depth + 1)
        return result


def _head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, width in _WIDTHS.items():
        if argument < 1 << (8 * width):
            return bytes([major << 5 | info]) + argument.to_bytes(width, "big")
    raise ValueError("argument too large for CBOR")


def dumps_bytes(data: bytes) -> bytes:
    """A CBOR byte string."""
    return _head(2, len(data)) + data


def dumps_text(text: str) -> bytes:
    """A CBOR text string."""
    data = text.encode("utf-8")
    return _head(3, len(data)) + data


def dumps_array_head(count: int) -> bytes:
    """The head of a CBOR array of ``count`` items (the items follow)."""
    return _head(4, count)
