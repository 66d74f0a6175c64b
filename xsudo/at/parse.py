"""Parse the information lines of the commands :class:`~xsudo.at.modem.Modem` sends, and
check the identity values a device reports.

Contract: parsers take the raw line bytes (prefix included) and return values; quoted
content comes back byte for byte (CR/LF and all) from between its quotes. Spaces after
commas and upper- or lower-case hex are accepted (real modems print
``%CMNG: 12,0,"2C43..."``, the documentation ``%CMNG: 12, 0, "2C43..."``). A line that does
not have the expected shape raises :class:`ResponseFormatError`.

The device is untrusted input:

* Every number is 1 to :data:`MAX_INT_DIGITS` ASCII digits and at most
  :data:`MAX_FIELD_VALUE` (``int()`` never sees an unbounded string).
* Error messages quote device bytes only through :func:`show`: escaped (no control or
  non-ASCII character survives), truncated, one line.
* Identity values (IMEI, modem UUID, firmware, model) pass :func:`check_imei`,
  :func:`check_uuid`, :func:`check_firmware` and :func:`check_model` before any use; they
  raise :class:`IdentityError` otherwise. These are pure functions for any layer to reuse.
"""

from __future__ import annotations

import re

from xsudo.errors import DeviceError
from xsudo.limits import MAX_SEC_TAG

MAX_INT_DIGITS = 10
"""Most digits in a numeric field (sec_tags go to 4294967295)."""

MAX_FIELD_VALUE = MAX_SEC_TAG
"""Largest numeric field value accepted (sec_tags are unsigned 32-bit)."""

SHOW_LIMIT = 60
"""Most characters of device text quoted in an error message."""

_HEX64 = re.compile(rb"[0-9A-Fa-f]{64}")
_DIGITS = re.compile(rb"[0-9]{1,%d}" % MAX_INT_DIGITS)
_IMEI = re.compile(r"[0-9]{15}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FIRMWARE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")
_PORT_HINT = "check that the port is an nRF91 modem's AT interface"


class ResponseFormatError(DeviceError):
    """The device answered in a form xsudo does not understand (exit 3)."""


class IdentityError(ResponseFormatError):
    """The device reported an identity value (IMEI, UUID, firmware, model) outside its
    documented shape (exit 3). ``field`` names the item (``"imei"``, ``"uuid"``,
    ``"firmware"``, ``"model"``); ``shown`` is the value as quoted in the message (escaped
    and truncated, see :func:`show`)."""

    def __init__(self, field: str, shown: str, message: str) -> None:
        super().__init__(
            message,
            f"{_PORT_HINT}; xsudo uses device identity only in its documented form",
        )
        self.field = field
        self.shown = shown


def show(value: str | bytes, limit: int = SHOW_LIMIT) -> str:
    """``value`` quoted for a message: at most ``limit`` characters (bytes), every non-ASCII
    or non-printable character as an escape (``\\x1b``, ``\\u202e``), ``...`` and the full
    length when cut. The result is printable ASCII, one line."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    quoted = ascii(text[:limit])
    if len(text) > limit:
        return f"{quoted}... ({len(text)} {'bytes' if isinstance(value, bytes) else 'chars'})"
    return quoted


def _bad(what: str, line: bytes) -> ResponseFormatError:
    return ResponseFormatError(f"unexpected {what} from the device: {show(line)}", _PORT_HINT)


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
    """A decimal field: 1 to :data:`MAX_INT_DIGITS` ASCII digits (spaces and tabs around
    ignored), at most :data:`MAX_FIELD_VALUE`. Anything else (a sign, a non-digit, more
    digits) raises :class:`ResponseFormatError`; never ``ValueError``."""
    token = field.strip(b" \t")
    if _DIGITS.fullmatch(token) is None:
        raise _bad("number", field)
    value = int(token)
    if value > MAX_FIELD_VALUE:
        raise _bad("number", field)
    return value


def parse_sha(field: bytes) -> str:
    """A quoted 64-digit hex SHA-256, returned upper-case."""
    token = unquote(field)
    if _HEX64.fullmatch(token) is None:
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
    """``+CFUN: 4`` -> 4 (the first field after ``prefix``, see :func:`parse_int`)."""
    return parse_int(split_fields(payload(line, prefix))[0])


def parse_quoted_value(line: bytes, prefix: bytes) -> bytes:
    """``%XPMNG: "<PEM>"`` -> the PEM bytes."""
    return unquote(split_fields(payload(line, prefix))[0])


def text_value(line: bytes, prefix: bytes) -> bytes:
    """``%HWVERSION: nRF9161 LACA A0A`` -> ``b"nRF9161 LACA A0A"``: the bytes after
    ``prefix``, spaces around and one pair of enclosing double quotes dropped. Unchecked:
    pass the result to a ``check_*`` function before use."""
    text = payload(line, prefix).strip(b" \t")
    if len(text) >= 2 and text[:1] == b'"' and text[-1:] == b'"':
        text = text[1:-1]
    return text


def parse_text_value(line: bytes, prefix: bytes) -> str:
    """:func:`text_value` decoded as ASCII (other bytes become U+FFFD). Unchecked."""
    return text_value(line, prefix).decode("ascii", "replace")


# -- identity values -----------------------------------------------------------------------


def _identity(value: str | bytes, shape: re.Pattern[str], field: str, refusal: str) -> str:
    """``value`` as text when it matches ``shape`` in full; else :class:`IdentityError`
    saying ``the device reported <refusal>: <value shown>``."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if shape.fullmatch(text) is None:
        shown = show(value)
        raise IdentityError(field, shown, f"the device reported {refusal}: {shown}")
    return text


def check_imei(value: str | bytes) -> str:
    """An IMEI: exactly 15 ASCII digits, returned as given. Else :class:`IdentityError`."""
    return _identity(value, _IMEI, "imei", "an IMEI that is not 15 digits")


def check_uuid(value: str | bytes) -> str:
    """A modem UUID in canonical 8-4-4-4-12 hex form (either case), returned lower-case.
    Else :class:`IdentityError`."""
    text = _identity(value, _UUID, "uuid", "a modem UUID that is not in 8-4-4-4-12 hex form")
    return text.lower()


def check_firmware(value: str | bytes) -> str:
    """A firmware version token (``mfw_nrf91x1_2.0.2``): 1-64 characters of ``A-Z a-z 0-9
    . _ + -``, starting with a letter or digit; returned as given. Else
    :class:`IdentityError`."""
    return _identity(
        value,
        _FIRMWARE,
        "firmware",
        "a firmware version that is not a plain version token (letters, digits, . _ + -)",
    )


def check_model(value: str | bytes) -> str:
    """A model name (``nRF9161 LACA A0A``, ``nRF9160-SICA``): 1-64 characters of ``A-Z a-z
    0-9``, space and ``. _ + -``, starting with a letter or digit; returned as given. Else
    :class:`IdentityError`."""
    return _identity(
        value,
        _MODEL,
        "model",
        "a model name that is not plain text (letters, digits, spaces, . _ + -)",
    )
