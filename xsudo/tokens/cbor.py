"""Strict CBOR (RFC 8949) decoding of modem token replies, with ``cbor2``.

The host decodes with ``cbor2``, a maintained and fuzzed decoder; the simulator that
produces tokens keeps its own small hand-written encoder (:mod:`xsudo.sim.cbor`), so the code
that checks a token still shares nothing with the code that made it.

Accepted: unsigned and negative integers, byte and text strings, arrays, maps with integer,
text or byte-string keys (no duplicates), tags, ``false``/``true``/``null``; definite
lengths only; at most :data:`MAX_DEPTH` levels of nesting; exactly one item (no trailing
bytes). Everything else (indefinite lengths, floats, ``undefined``, other simple values,
invalid UTF-8, truncated input) raises :class:`TokenError`, with one line.

How ``cbor2`` is held to that:

* ``allow_indefinite=False``, ``allow_duplicate_keys=False`` and ``max_depth``;
* the tags ``cbor2`` would turn into Python objects (dates, bignums, UUIDs, sets, shared and
  string references, self-described CBOR, ...) are decoded as plain tags instead
  (:data:`CBOR2_SEMANTIC_TAGS`), so every tag comes back as a :class:`Tag`, tag 55799
  included (:func:`untag_self_described` removes it at the top only);
* the decoded value is then walked: only the types above pass, anything else (a float, a
  simple value, or a type a later ``cbor2`` might produce) is refused, and the tuples and
  frozen maps ``cbor2`` builds inside tags become lists and dicts;
* the item is decoded from a stream read byte by byte, and must end where the data ends.

It needs ``cbor2`` 6.2.1 or later (``pyproject.toml``): ``allow_duplicate_keys`` came in 6.1.0,
up to 6.1.4 a stray break code (``0xff``) decoded as a value, and 6.2.0 and 6.2.1 fixed
decoder crashes on hostile input. Error messages name the problem (``truncated``,
``duplicate map key``, ...) but, unlike the hand-written decoder this replaced, not the byte
offset: ``cbor2`` does not report one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import cbor2

from xsudo.tokens.errors import TokenError

MAX_DEPTH = 16
SELF_DESCRIBED = 55799
"""Tag 55799 ("self-described CBOR"): real modems wrap token messages in it."""

CBOR2_SEMANTIC_TAGS = (
    *(0, 1, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100),
    *(256, 258, 260, 261, 1004, 43000, SELF_DESCRIBED),
)
"""The tags ``cbor2`` decodes into Python objects; here they stay :class:`Tag` values."""

Key = int | str | bytes
Value = Union[int, bytes, str, bool, None, list["Value"], dict[Key, "Value"], "Tag"]


@dataclass(frozen=True)
class Tag:
    """A tagged item, e.g. ``Tag(18, [...])`` for a COSE_Sign1."""

    number: int
    value: Value


def _plain_tag(number: int) -> Callable[[Any, bool], cbor2.CBORTag]:
    def decode(value: Any, immutable: bool) -> cbor2.CBORTag:
        return cbor2.CBORTag(number, value)

    return decode


_SEMANTIC_DECODERS = {number: _plain_tag(number) for number in CBOR2_SEMANTIC_TAGS}
_RESERVED_INFO = re.compile(r"subtype 0x(1[cde])\b")
"""How ``cbor2`` words additional information 28-30, which RFC 8949 reserves."""


def loads(data: bytes, what: str = "CBOR") -> Value:
    """Decode exactly one item from ``data``; ``what`` names it in errors."""
    stream = io.BytesIO(data)
    decoder = cbor2.CBORDecoder(
        stream,
        semantic_decoders=_SEMANTIC_DECODERS,
        read_size=1,
        max_depth=MAX_DEPTH,
        allow_indefinite=False,
        allow_duplicate_keys=False,
    )
    try:
        item = decoder.decode()
    except (cbor2.CBORError, ValueError, OverflowError) as exc:
        raise TokenError(f"{what} is not valid CBOR: {_problem(exc)}") from None
    value = _plain(item, what)
    trailing = len(data) - stream.tell()
    if trailing:
        raise TokenError(f"{what}: {trailing} bytes after the CBOR item")
    return value


def untag_self_described(value: Value) -> Value:
    """``value`` without a tag 55799 around it (RFC 8949 section 3.4.6), if it has one."""
    if isinstance(value, Tag) and value.number == SELF_DESCRIBED:
        return value.value
    return value


def dumps(value: Value) -> bytes:
    """``value`` as CBOR (definite lengths, shortest heads), e.g. a COSE ``Sig_structure``."""
    return cbor2.dumps(_to_cbor2(value))


def _problem(exc: Exception) -> str:
    """What was wrong, in this module's words where ``cbor2``'s are known, else its own."""
    if isinstance(exc, cbor2.CBORDecodeEOF):
        return "truncated"
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return "text string is not UTF-8"
    text = " ".join(str(exc).split())[:200] or type(exc).__name__
    lowered = text.lower()
    if "indefinite" in lowered:
        return "indefinite length"
    if "duplicate" in lowered:
        return "duplicate map key"
    if "depth" in lowered:
        return f"nested deeper than {MAX_DEPTH}"
    reserved = _RESERVED_INFO.search(lowered)
    if reserved:
        return f"reserved additional information {int(reserved.group(1), 16)}"
    return text


def _plain(item: object, what: str) -> Value:
    """``item`` as a :data:`Value`, or :class:`TokenError` for anything this module refuses."""
    if item is None or isinstance(item, bool | int | bytes | str):
        return item
    if isinstance(item, list | tuple):
        return [_plain(element, what) for element in item]
    if isinstance(item, Mapping):
        result: dict[Key, Value] = {}
        for key, element in item.items():
            if isinstance(key, bool) or not isinstance(key, int | str | bytes):
                raise TokenError(
                    f"{what} is not valid CBOR: map key is not an integer, text or byte string"
                )
            result[key] = _plain(element, what)
        return result
    if isinstance(item, cbor2.CBORTag):
        return Tag(item.tag, _plain(item.value, what))
    shown = ascii(item)[:40]
    raise TokenError(f"{what} is not valid CBOR: unsupported simple value or float ({shown})")


def _to_cbor2(value: Value) -> object:
    if isinstance(value, Tag):
        return cbor2.CBORTag(value.number, _to_cbor2(value.value))
    if isinstance(value, list):
        return [_to_cbor2(element) for element in value]
    if isinstance(value, dict):
        return {key: _to_cbor2(element) for key, element in value.items()}
    return value
