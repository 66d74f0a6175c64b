"""AT command values and the canonical bytes of an ``AT%XSUDO`` line.

Contract (docs/design/contracts.md, C1): the signed bytes are exactly the bytes after ``;``
in the XSUDO line, without ``AT`` and without a line terminator; ``data_len`` is their
length in bytes.
:func:`build_xsudo_line` is the one place a line is assembled, and :func:`check_command_text`
the one place text is checked against what the modem (and sdk-nrf's at_host) can take:
printable ASCII, CR/LF only inside double quotes, balanced quotes, whole line <= 4095 bytes
(:data:`xsudo.limits.MAX_COMMAND_LINE_BYTES`). The modem's own commands are built from
these values in :mod:`xsudo.at.commands`. Nothing here knows about keys or cryptography.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from xsudo.errors import CommandTextError, LineParseError
from xsudo.limits import MAX_COMMAND_LINE_BYTES, XPMNG_SLOTS

MAX_LINE_BYTES = MAX_COMMAND_LINE_BYTES
"""Longest command line sent: :data:`xsudo.limits.MAX_COMMAND_LINE_BYTES` under its older
name (not the reading limit, :data:`xsudo.limits.MAX_RESPONSE_LINE_BYTES`)."""

XSUDO_SLOTS = XPMNG_SLOTS
"""``%XPMNG``/``%XSUDO`` sec_tags (key slots): :data:`xsudo.limits.XPMNG_SLOTS`."""

_TYPOGRAPHIC_QUOTES = "\u201c\u201d\u201e\u201f\u2018\u2019\u00ab\u00bb"

Param = int | str | None
"""A command parameter: ``int`` renders bare, ``str`` in double quotes, ``None`` empty."""


# The whole check is one regular-expression match in the common case (text the modem takes):
# runs of characters allowed outside quotes (printable ASCII but ``"``), each quoted string
# (printable ASCII but ``"``, plus CR and LF) closed. Where the match stops is the first
# offending character, or the opening quote of a string that holds one or is never closed.
_SENDABLE_STR = re.compile(
    r'[\x20\x21\x23-\x7e]*(?:"[\x20\x21\x23-\x7e\r\n]*"[\x20\x21\x23-\x7e]*)*'
)
_SENDABLE_BYTES = re.compile(_SENDABLE_STR.pattern.encode("ascii"))
_QUOTED_STOP = re.compile(r"[^\x20\x21\x23-\x7e\r\n]")
_NOT_ASCII_BYTES = re.compile(rb"[\x7f-\xff]")


def check_command_text(text: str | bytes, *, what: str = "command") -> bytes:
    """Check that ``text`` can be sent to the modem and return it as ASCII bytes.

    Refuses non-ASCII, NUL and other control characters, CR/LF outside double quotes, and an
    unbalanced double quote. Raises :class:`CommandTextError` naming the first offending byte
    (for ``bytes``, a byte above 0x7E anywhere is named first). Length is not checked here
    (see :func:`check_line_length`). Linear: one C-level regular-expression pass when the
    text is sendable.
    """
    if isinstance(text, str):
        if _SENDABLE_STR.fullmatch(text):
            return text.encode("ascii")
        _raise_first_offence(text, _stop(_SENDABLE_STR.match(text)), what)
    data = bytes(text)
    if _SENDABLE_BYTES.fullmatch(data):
        return data
    high = _NOT_ASCII_BYTES.search(data)
    if high is not None:
        index = high.start()
        try:
            ch = data[index:].decode("utf-8")[0]
        except UnicodeDecodeError:
            ch = chr(data[index])
        raise CommandTextError(*_non_ascii_message(what, ch, index))
    _raise_first_offence(data.decode("ascii"), _stop(_SENDABLE_BYTES.match(data)), what)


def _stop(sendable: re.Match[str] | re.Match[bytes] | None) -> int:
    """Where the sendable prefix ends (the pattern matches the empty string, so always)."""
    return sendable.end() if sendable is not None else 0


def _raise_first_offence(chars: str, index: int, what: str) -> NoReturn:
    """Raise the error for ``chars[index]``, where the sendable prefix stopped (ASCII for
    bytes input, whose bytes above 0x7E were reported before)."""
    if chars[index] == '"':  # a quoted string that holds a bad character or is never closed
        stop = _QUOTED_STOP.search(chars, index + 1)
        if stop is None:
            raise CommandTextError(
                f"{what} has an unbalanced double quote", "every quoted string must be closed"
            )
        index = stop.start()
    ch = chars[index]
    if ch in "\r\n":
        raise CommandTextError(
            f"{what} has a line break outside double quotes at byte {index}",
            "only quoted content (such as a PEM) may span lines",
        )
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        raise CommandTextError(
            f"{what} has control character 0x{ord(ch):02X} at byte {index}",
            "the modem takes printable ASCII, and CR/LF only inside quotes",
        )
    raise CommandTextError(*_non_ascii_message(what, ch, index))


def _non_ascii_message(what: str, ch: str, index: int) -> tuple[str, str]:
    if ch in _TYPOGRAPHIC_QUOTES:
        return (
            f"{what} has a typographic quote (U+{ord(ch):04X}) at byte {index}",
            'replace it with a plain ASCII double quote (")',
        )
    return (
        f"{what} has a non-ASCII character (U+{ord(ch):04X}) at byte {index}",
        "the modem takes printable ASCII only",
    )


def has_literal_newline_escape(body: bytes) -> bool:
    """True when quoted content holds the two characters ``\\n`` (or ``\\r``).

    Over a raw UART the modem stores them verbatim: a PEM written that way is not a PEM
    (``+CME ERROR: 527`` on mfw 2.0.2 and later, a wrong SHA before).
    """
    # Every other piece between double quotes is quoted (an unclosed quote runs to the end).
    return any(b"\\n" in part or b"\\r" in part for part in body.split(b'"')[1::2])


def command_name(line: bytes) -> str:
    """The command name of an AT line or body: ``AT%CMNG=1`` and ``%CMNG=1`` -> ``"%CMNG"``;
    a bare ``AT`` -> ``"AT"``."""
    body = line[2:] if line[:2].upper() == b"AT" else line
    end = min((i for i in (body.find(c) for c in (b"=", b"?", b";")) if i >= 0), default=None)
    return body[:end].strip().decode("ascii", "replace").upper() or "AT"


def check_line_length(line: bytes, *, what: str = "command") -> None:
    """Refuse a whole AT line (``AT`` included, terminator excluded) over 4095 bytes."""
    if len(line) > MAX_COMMAND_LINE_BYTES:
        raise CommandTextError(
            f"{what} is {len(line)} bytes; the modem's AT interface takes at most "
            f"{MAX_COMMAND_LINE_BYTES}",
            "shorten the content (for example split a certificate chain over several tags)",
        )


def strip_at_prefix(body: str) -> tuple[str, bool]:
    """Remove one leading ``AT``/``at`` from a command body; say whether one was removed."""
    if body[:2].upper() == "AT" and len(body) > 2 and body[2] in "%+&#":
        return body[2:], True
    return body, False


def strip_one_terminator(data: bytes) -> tuple[bytes, str | None]:
    """Drop a single trailing line terminator (CRLF, LF or CR) from file content.

    Returns the remaining bytes and the name of the dropped terminator (``"CRLF"``, ``"LF"``,
    ``"CR"``) or ``None``. Only one terminator is removed: a file ending in two newlines keeps
    one, which :func:`check_command_text` then refuses.
    """
    for terminator, name in ((b"\r\n", "CRLF"), (b"\n", "LF"), (b"\r", "CR")):
        if data.endswith(terminator):
            return data[: -len(terminator)], name
    return data, None


def _render_param(value: Param) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise CommandTextError("boolean is not an AT parameter")
    if isinstance(value, int):
        return str(value)
    if '"' in value:
        raise CommandTextError(
            'quoted parameter contains a double quote (")',
            "AT strings cannot carry a double quote; remove it from the content",
        )
    return f'"{value}"'


@dataclass(frozen=True)
class AtCommand:
    """One AT command as a value. ``body`` renders it (without ``AT``) in exactly one way.

    ``form`` is ``set`` (``NAME=p1,p2``), ``read`` (``NAME?``), ``test`` (``NAME=?``) or
    ``exec`` (``NAME``). Trailing ``None`` parameters are omitted; inner ones render empty
    (``%XPMNG=2,,3``).
    """

    name: str
    params: tuple[Param, ...] = ()
    form: Literal["set", "read", "test", "exec"] = "set"

    @classmethod
    def set(cls, name: str, *params: Param) -> AtCommand:
        return cls(name, tuple(params), "set")

    @classmethod
    def read(cls, name: str) -> AtCommand:
        return cls(name, (), "read")

    @classmethod
    def test(cls, name: str) -> AtCommand:
        return cls(name, (), "test")

    @classmethod
    def exec(cls, name: str) -> AtCommand:
        return cls(name, (), "exec")

    def body(self) -> bytes:
        """The command without ``AT``, checked by :func:`check_command_text`."""
        if self.form == "read":
            text = f"{self.name}?"
        elif self.form == "test":
            text = f"{self.name}=?"
        elif self.form == "exec":
            text = self.name
        else:
            params = list(self.params)
            while params and params[-1] is None:
                params.pop()
            text = f"{self.name}=" + ",".join(_render_param(p) for p in params)
        return check_command_text(text, what=f"AT{self.name}")

    def line(self) -> bytes:
        """The whole command line ``AT<body>`` (no terminator), length-checked."""
        line = b"AT" + self.body()
        check_line_length(line, what=f"AT{self.name}")
        return line


@dataclass(frozen=True)
class XsudoLine:
    """An ``AT%XSUDO=<data_len>,"<signature_b64>"[,<slot>];<body>`` line as a value."""

    data_len: int
    signature_b64: str
    slot: int | None
    body: bytes

    def render(self) -> bytes:
        """The line's bytes, ``AT`` included, terminator excluded."""
        prefix = xsudo_prefix(self.data_len, self.signature_b64, self.slot)
        return prefix.encode("ascii") + self.body


def xsudo_prefix(data_len: int, signature: str, slot: int | None) -> str:
    """``AT%XSUDO=<data_len>,"<signature>"[,<slot>];``: the wrapper in front of the signed
    body, the one rendering of it (:meth:`XsudoLine.render` and displays such as a dry run,
    which put a placeholder where the signature goes)."""
    slot_part = "" if slot is None else f",{slot:d}"
    return f'AT%XSUDO={data_len:d},"{signature}"{slot_part};'


def check_slot(slot: int | None) -> int | None:
    """Validate an XSUDO/XPMNG key slot (0-9) or ``None``."""
    if slot is not None and slot not in XPMNG_SLOTS:
        raise CommandTextError(f"slot {slot} is out of range", "XSUDO key slots are 0-9")
    return slot


def check_body(body: bytes) -> bytes:
    """Check a body to be signed: not empty, sendable (:func:`check_command_text`)."""
    if not body:
        raise CommandTextError("the command body is empty", "give the command to sign")
    return check_command_text(body, what="command body")


def build_xsudo_line(body: bytes, signature_b64: str, slot: int | None) -> XsudoLine:
    """Assemble the line for ``body`` (the exact signed bytes) and check it can be sent.

    ``data_len`` is ``len(body)``: the whole body is signed, nothing more, nothing less.
    """
    return xsudo_line_for_checked_body(check_body(body), signature_b64, slot)


def xsudo_line_for_checked_body(body: bytes, signature_b64: str, slot: int | None) -> XsudoLine:
    """:func:`build_xsudo_line` for a ``body`` that :func:`check_body` has already accepted
    (``sign_command`` checks it once, before it signs): the slot and the whole line's length
    are checked here, the body is not checked again."""
    line = XsudoLine(len(body), signature_b64, check_slot(slot), body)
    check_line_length(line.render(), what="AT%XSUDO line")
    return line


@dataclass(frozen=True)
class ParsedXsudoLine:
    """The pieces of an ``AT%XSUDO`` line as found, before the signature is decoded.

    ``signature_text`` is what stood between the quotes, whitespace included (a wrapped
    Base64 signature keeps its line breaks here). ``body`` is everything after the first
    ``;`` outside quotes, untrimmed.
    """

    data_len: int
    signature_text: str
    slot: int | None
    body: bytes
    had_at_prefix: bool


def parse_xsudo_line(raw: bytes) -> ParsedXsudoLine:
    """Parse a line leniently enough to diagnose it: optional ``AT``, trailing CR/LF ignored.

    Raises :class:`LineParseError` when the text is not shaped like an ``AT%XSUDO`` line.
    """
    text = raw.rstrip(b"\r\n").lstrip(b" \t\r\n")
    had_at = text[:2].upper() == b"AT"
    if had_at:
        text = text[2:]
    prefix = b"%XSUDO="
    if text[: len(prefix)].upper() != prefix:
        raise LineParseError(
            "not an AT%XSUDO line", 'it must start with AT%XSUDO=<data_len>,"<signature>"'
        )
    text = text[len(prefix) :]
    separator = find_unquoted(text, 0x3B)
    if separator < 0:
        raise LineParseError(
            "the AT%XSUDO line has no ';' before the command",
            'the form is AT%XSUDO=<data_len>,"<signature>"[,<slot>];<command>',
        )
    fields = _split_unquoted(text[:separator])
    if len(fields) not in (2, 3):
        raise LineParseError(
            f"the AT%XSUDO line has {len(fields)} parameters before ';', expected 2 or 3",
            'the form is AT%XSUDO=<data_len>,"<signature>"[,<slot>];<command>',
        )
    return ParsedXsudoLine(
        data_len=_parse_data_len(fields[0]),
        signature_text=_parse_quoted(fields[1]),
        slot=_parse_slot(fields[2]) if len(fields) == 3 else None,
        body=text[separator + 1 :],
        had_at_prefix=had_at,
    )


# Up to the first ``,`` outside double quotes: runs without quotes or commas, and whole
# quoted strings. No match: there is none (an unclosed quote hides the rest).
_UP_TO_COMMA = re.compile(rb'[^",]*(?:"[^"]*"[^",]*)*,')


def find_unquoted(data: bytes, char: int) -> int:
    """Index of the first byte ``char`` outside double quotes in ``data``, or -1 (also when
    an unclosed quote hides the rest). Linear; quoted strings may hold anything but ``"``."""
    target = re.escape(bytes([char]))
    found = re.compile(rb'[^"' + target + rb']*(?:"[^"]*"[^"' + target + rb"]*)*" + target)
    match = found.match(data)
    return -1 if match is None else match.end() - 1


def _split_unquoted(data: bytes) -> list[bytes]:
    fields: list[bytes] = []
    start = 0
    while True:
        comma = _UP_TO_COMMA.match(data, start)
        if comma is None:
            fields.append(data[start:])
            return fields
        fields.append(data[start : comma.end() - 1])
        start = comma.end()


def _parse_data_len(field: bytes) -> int:
    token = field.strip()
    if not token.isdigit():
        raise LineParseError(f"data_len {token.decode('latin-1')!r} is not a decimal number")
    value = int(token)
    if value < 1:
        raise LineParseError("data_len must be at least 1")
    return value


def _parse_quoted(field: bytes) -> str:
    token = field.strip(b" \t")
    if len(token) < 2 or token[:1] != b'"' or token[-1:] != b'"':
        raise LineParseError("the signature must be in double quotes")
    return token[1:-1].decode("latin-1")


def _parse_slot(field: bytes) -> int:
    token = field.strip()
    if not token.isdigit() or int(token) not in XPMNG_SLOTS:
        raise LineParseError(f"slot {token.decode('latin-1')!r} is not 0-9")
    return int(token)
