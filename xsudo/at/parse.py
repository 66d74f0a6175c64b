"""Parse the information lines of the commands :class:`~xsudo.at.modem.Modem` sends.

Contract: parsers take the raw line bytes (prefix included) and return values; quoted
content comes back byte for byte (CR/LF and all) from between its quotes. Spaces after
commas and upper- or lower-case hex are accepted (real modems print
``%CMNG: 12,0,"2C43..."``, the documentation ``%CMNG: 12, 0, "2C43..."``). A line that does
not have the expected shape raises :class:`ResponseFormatError`.
"""

from __future__ import annotations

import re

from xsudo.errors import DeviceError

_HEX64 = re.compile(rb"^[0-9A-Fa-f]{64}$")


class ResponseFormatError(DeviceError):
    """The device answered in a form xsudo does not understand."""


def _bad(what: str, line: bytes) -> ResponseFormatError:
    shown = line[:80].decode("ascii", "replace")
    return ResponseFormatError(
        f"unexpected {what} from the device: {shown!r}",
        "check that the port is an nRF91 modem's AT interface",
    )


def payload(line: bytes, prefix: bytes) -> bytes:
    """The text after ``prefix`` (compared case-insensitively), leading spaces dropped."""
    if line[: len(prefix)].upper() != prefix.upper():
        raise _bad(f"{prefix.decode('ascii')} line", line)
    return line[len(prefix) :].lstrip(b" \t")


def split_fields(data: bytes) -> list[bytes]:
    """Split on commas outside double quotes; fields are returned unstripped."""
    fields: list[bytes] = []
    start = 0
    in_quotes = False
    for index, byte in enumerate(data):
        if byte == 0x22:
            in_quotes = not in_quotes
        elif byte == 0x2C and not in_quotes:
            fields.append(data[start:index])
            start = index + 1
    fields.append(data[start:])
    return fields


def unquote(field: bytes) -> bytes:
    """The bytes between a field's double quotes (spaces around the quotes ignored)."""
    token = field.strip(b" \t")
    if len(token) < 2 or token[:1] != b'"' or token[-1:] != b'"':
        raise _bad("unquoted string", field)
    return token[1:-1]


def parse_int(field: bytes) -> int:
    token = field.strip(b" \t")
    if not token.isdigit():
        raise _bad("number", field)
    return int(token)


def parse_sha(field: bytes) -> str:
    """A quoted 64-digit hex SHA-256, returned upper-case."""
    token = unquote(field)
    if _HEX64.match(token) is None:
        raise _bad("SHA-256", field)
    return token.decode("ascii").upper()


def parse_cmng(line: bytes) -> tuple[int, int, str | None, bytes | None]:
    """``%CMNG: <tag>,<type>[,"<sha>"[,"<content>"]]`` -> (tag, type, sha, content)."""
    fields = split_fields(payload(line, b"%CMNG:"))
    if not 2 <= len(fields) <= 4:
        raise _bad("%CMNG line", line)
    tag = parse_int(fields[0])
    cred_type = parse_int(fields[1])
    sha = parse_sha(fields[2]) if len(fields) > 2 and fields[2].strip() else None
    content = unquote(fields[3]) if len(fields) > 3 else None
    return tag, cred_type, sha, content


def parse_single_int(line: bytes, prefix: bytes) -> int:
    """``+CFUN: 4`` -> 4 (the first field after ``prefix``)."""
    return parse_int(split_fields(payload(line, prefix))[0])


def parse_quoted_value(line: bytes, prefix: bytes) -> bytes:
    """``%XPMNG: "<PEM>"`` -> the PEM bytes."""
    return unquote(split_fields(payload(line, prefix))[0])


def parse_text_value(line: bytes, prefix: bytes) -> str:
    """``%HWVERSION: nRF9161 LACA A0A`` -> ``"nRF9161 LACA A0A"`` (quotes dropped if any)."""
    text = payload(line, prefix).strip(b" \t")
    if len(text) >= 2 and text[:1] == b'"' and text[-1:] == b'"':
        text = text[1:-1]
    return text.decode("ascii", "replace")
