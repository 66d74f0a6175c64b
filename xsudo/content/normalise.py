"""Canonical credential content (docs/design/contracts.md, C2), with a record of each repair.

PEM types (ca-cert, client-cert, client-key, public-key) become: real LF line breaks (a
literal two-character ``\\n`` or four-character ``\\r\\n`` repaired, CRLF and CR
converted), no BOM, each ``-----BEGIN``/``-----END`` line on a line of its own, no spaces or
tabs at the start or end of a line, no blank lines (except the one that ends RFC 1421
headers), no surrounding whitespace, and exactly one trailing LF. A block whose body was
joined by spaces or run together is re-wrapped at 64 columns, but only when the re-wrapped
block parses; the Base64 payload itself is never changed.

PSK and PSK identity are plain text: a BOM and surrounding whitespace (including the file's
trailing newline) are removed and nothing else. A PSK keeps the letter case it was given in:
the modem stores the text, and its SHA is over that text.

:func:`normalise` never raises and is idempotent; whether the result is acceptable is
:mod:`xsudo.content.validate`'s business.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from xsudo.content.pem import der_parses, is_base64_text
from xsudo.content.types import CredType

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n\x0b\x0c"
_LINE_BLANKS = b" \t"
_PEM_WIDTH = 64

_BEGIN_GLUED = re.compile(rb"(?<=[^\n])[ \t]*(-----BEGIN [^\-\n]+-----)")
_END_GLUED = re.compile(rb"(-----END [^\-\n]+-----)[ \t]*(?=\S)")
_BEGIN_THEN_TEXT = re.compile(rb"(-----BEGIN [^\-\n]+-----)[ \t]*(?=\S)")
_TEXT_THEN_END = re.compile(rb"(?<=\S)[ \t]*(-----END [^\-\n]+-----)")
_BLOCK = re.compile(rb"(-----BEGIN ([^\-\n]+)-----)(.*?)(-----END \2-----)", re.DOTALL)


class Repair(StrEnum):
    """One kind of repair :func:`normalise` made; ``.message`` says it for humans."""

    BOM = "bom"
    LITERAL_NEWLINES = "literal-newlines"
    LINE_ENDINGS = "line-endings"
    ARMOUR_LINE_BREAKS = "armour-line-breaks"
    LINE_WHITESPACE = "line-whitespace"
    REWRAPPED = "rewrapped"
    BLANK_LINES = "blank-lines"
    SURROUNDING_WHITESPACE = "surrounding-whitespace"
    TRAILING_NEWLINE = "trailing-newline"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Repair.BOM: "removed a UTF-8 byte order mark",
    Repair.LITERAL_NEWLINES: "replaced literal \\n (backslash, n) sequences with line breaks",
    Repair.LINE_ENDINGS: "converted CRLF/CR line endings to LF",
    Repair.ARMOUR_LINE_BREAKS: "put each -----BEGIN/-----END line on a line of its own",
    Repair.LINE_WHITESPACE: "removed spaces or tabs at the start or end of lines",
    Repair.REWRAPPED: "re-wrapped a PEM body at 64 columns (its lines were joined by spaces "
    "or run together)",
    Repair.BLANK_LINES: "removed blank lines (between PEM blocks or inside one)",
    Repair.SURROUNDING_WHITESPACE: "removed whitespace before or after the content",
    Repair.TRAILING_NEWLINE: "made the content end with exactly one line feed",
}


@dataclass(frozen=True)
class Normalised:
    """Canonical content bytes and the repairs that produced them from the input."""

    content: bytes
    repairs: tuple[Repair, ...]


def normalise(raw: bytes, cred_type: CredType) -> Normalised:
    """Canonical form of ``raw`` for ``cred_type`` (see the module docstring)."""
    if cred_type.is_pem:
        return normalise_pem(raw)
    return normalise_text(raw)


def normalise_text(raw: bytes) -> Normalised:
    """PSK / PSK identity: drop a BOM and surrounding whitespace, nothing else.

    Dropping the file's single trailing newline (LF or CRLF) is not reported as a repair.
    """
    text, bom, leading, tail = _trim(raw)
    repairs: list[Repair] = [Repair.BOM] if bom else []
    if leading or tail not in (b"", b"\n", b"\r\n"):
        repairs.append(Repair.SURROUNDING_WHITESPACE)
    return Normalised(text, tuple(repairs))


def normalise_pem(raw: bytes) -> Normalised:
    """Canonical PEM text: the steps below, in order, each recording its repair."""
    text, bom, leading, _ = _trim(raw, right=False)
    repairs: list[Repair] = [Repair.BOM] if bom else []
    if leading:
        repairs.append(Repair.SURROUNDING_WHITESPACE)
    steps: tuple[tuple[Callable[[bytes], bytes], Repair], ...] = (
        (_repair_literal_newlines, Repair.LITERAL_NEWLINES),
        (_repair_line_endings, Repair.LINE_ENDINGS),
        (_strip_line_blanks, Repair.LINE_WHITESPACE),
        (_repair_armour_breaks, Repair.ARMOUR_LINE_BREAKS),
        (_rewrap_blocks, Repair.REWRAPPED),
        (_split_armour_from_body, Repair.ARMOUR_LINE_BREAKS),
        (_drop_blank_lines, Repair.BLANK_LINES),
    )
    for step, repair in steps:
        repaired = step(text)
        if repaired != text:
            repairs.append(repair)
            text = repaired
    text, bom, _, tail = _trim(text)
    if bom:
        repairs.append(Repair.BOM)
    if not text:
        return Normalised(b"", tuple(dict.fromkeys(repairs)))
    if tail.strip(b"\n"):
        repairs.append(Repair.SURROUNDING_WHITESPACE)
    elif tail != b"\n":
        repairs.append(Repair.TRAILING_NEWLINE)
    return Normalised(text + b"\n", tuple(dict.fromkeys(repairs)))


def _trim(data: bytes, *, right: bool = True) -> tuple[bytes, bool, bool, bytes]:
    """Strip leading whitespace and BOMs (until neither is left) and trailing whitespace.

    Returns ``(text, removed_a_bom, removed_leading_whitespace, trailing_part_removed)``.
    """
    text = data.rstrip(_WHITESPACE) if right else data
    tail = data[len(text) :]
    bom = leading = False
    while True:
        stripped = text.lstrip(_WHITESPACE)
        leading = leading or stripped != text
        if not stripped.startswith(_BOM):
            return stripped, bom, leading, tail
        bom = True
        text = stripped[len(_BOM) :]


def _repair_literal_newlines(text: bytes) -> bytes:
    return text.replace(b"\\r\\n", b"\n").replace(b"\\n", b"\n")


def _repair_line_endings(text: bytes) -> bytes:
    return text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _repair_armour_breaks(text: bytes) -> bytes:
    text = _END_GLUED.sub(rb"\1" + b"\n", text)
    return _BEGIN_GLUED.sub(b"\n" + rb"\1", text)


def _split_armour_from_body(text: bytes) -> bytes:
    """Give armour lines glued to a body that could not be re-wrapped lines of their own."""
    text = _BEGIN_THEN_TEXT.sub(rb"\1" + b"\n", text)
    return _TEXT_THEN_END.sub(b"\n" + rb"\1", text)


def _strip_line_blanks(text: bytes) -> bytes:
    return b"\n".join(line.strip(_LINE_BLANKS) for line in text.split(b"\n"))


def _rewrap_blocks(text: bytes) -> bytes:
    return _BLOCK.sub(_rewrap_match, text)


def _rewrap_match(match: re.Match[bytes]) -> bytes:
    """Re-wrap one block at 64 columns if its body is not line-structured and it parses."""
    begin, label, body, end = match.group(1, 2, 3, 4)
    structured = body.startswith(b"\n") and body.endswith(b"\n")
    if structured and b" " not in body and b"\t" not in body:
        return match.group(0)
    payload = b"".join(body.split())
    if b":" in body or not is_base64_text(payload):
        return match.group(0)
    try:
        der = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    if not der_parses(label.decode("ascii", "replace"), der):
        return match.group(0)
    lines = [payload[i : i + _PEM_WIDTH] for i in range(0, len(payload), _PEM_WIDTH)]
    return begin + b"\n" + b"\n".join(lines) + b"\n" + end


def _drop_blank_lines(text: bytes) -> bytes:
    """Remove empty lines between the first and last non-empty line.

    The one exception is the blank line that ends RFC 1421 headers inside a block (a line
    with ``:``), kept so a legacy-encrypted key is still recognised as one.
    """
    lines = text.split(b"\n")
    filled = [index for index, line in enumerate(lines) if line]
    if not filled:
        return text
    first, last = filled[0], filled[-1]
    kept = lines[:first]
    in_block = False
    for line in lines[first : last + 1]:
        if line.startswith(b"-----BEGIN "):
            in_block = True
        elif line.startswith(b"-----END "):
            in_block = False
        elif not line and not (in_block and b":" in kept[-1]):
            continue
        kept.append(line)
    kept.extend(lines[last + 1 :])
    return b"\n".join(kept)
