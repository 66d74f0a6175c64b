"""Whether a credential write fits on one AT line, with or without the XSUDO wrapper.

The modem's AT interface (at_host, at_client) takes at most 4095 bytes per line
(:data:`xsudo.limits.MAX_COMMAND_LINE_BYTES`). :func:`cmng_write_body` renders the write
exactly as it will be sent (the writer's own builder, :func:`xsudo.at.commands.cmng_write`),
and :func:`xsudo_overhead`
gives the exact extra bytes an ``AT%XSUDO`` wrapper adds, from :class:`xsudo.command.XsudoLine`
itself, so nothing here is an estimate.
"""

from __future__ import annotations

from xsudo.at import commands
from xsudo.command import XsudoLine
from xsudo.content.types import ContentError, ContentTooLargeError, CredType
from xsudo.limits import MAX_COMMAND_LINE_BYTES, XPMNG_SLOTS

MAX_DER_SIGNATURE_BYTES = 2 + 2 * (2 + 33)
"""Longest DER ECDSA-Sig-Value for P-256, 72 bytes: a SEQUENCE header and two INTEGERs of
33 content bytes each (32 bytes with the top bit set, plus the 0x00 that keeps them
positive). A constant, so reading this module loads no DER or crypto code; a test checks it
against an encoded signature."""
MAX_DER_SIGNATURE_B64 = 4 * ((MAX_DER_SIGNATURE_BYTES + 2) // 3)
"""Its Base64 length (96 characters)."""
RAW_SIGNATURE_B64 = 4 * ((64 + 2) // 3)
"""Base64 length of a raw 64-byte r||s signature (88 characters)."""


def cmng_write_body(
    content: bytes, tag: int, cred_type: CredType, password: str | None = None
) -> bytes:
    """The ``%CMNG=0,<tag>,<type>,"<content>"[,"<passwd>"]`` body (no ``AT``) as sent.

    This is also exactly what an XSUDO signature covers. Raises :class:`ContentError` for
    content that is not ASCII, :class:`xsudo.errors.CommandTextError` for text the modem
    cannot take, and :class:`xsudo.errors.BadInputError` for what
    :func:`xsudo.at.commands.cmng_write` refuses (empty content, a sec_tag outside
    0-4294967295).
    """
    if not content.isascii():
        raise ContentError(
            "non-ascii", f"{cred_type.label} content is not ASCII", "validate it first"
        )
    return commands.cmng_write(tag, cred_type, content, password).body()


def xsudo_overhead(
    body_len: int, *, slot: int | None = None, signature_b64_len: int = MAX_DER_SIGNATURE_B64
) -> int:
    """Bytes an ``AT%XSUDO=<body_len>,"<sig>"[,<slot>];`` wrapper adds to ``AT<body>``.

    The wrapped line replaces the plain line's ``AT`` with the whole XSUDO prefix, so the
    overhead is the prefix length minus 2. Defaults to the longest DER signature.
    """
    prefix = XsudoLine(body_len, "A" * signature_b64_len, slot, b"").render()
    return len(prefix) - len(b"AT")


XSUDO_MAX_OVERHEAD = xsudo_overhead(MAX_COMMAND_LINE_BYTES, slot=max(XPMNG_SLOTS))
"""Worst case: 4-digit data_len, 96-character DER signature, a slot (113 bytes)."""


def check_fits(
    content: bytes,
    tag: int,
    cred_type: CredType,
    *,
    password: str | None = None,
    extra_overhead: int = 0,
) -> int:
    """Return the length of the write line (plus ``extra_overhead``) if it is <= 4095 bytes.

    For an XSUDO-wrapped write pass ``extra_overhead=xsudo_overhead(len(body), slot=...)``
    (or :data:`XSUDO_MAX_OVERHEAD`). Raises :class:`ContentTooLargeError` naming the size,
    the limit and what to do.
    """
    body = cmng_write_body(content, tag, cred_type, password)
    line_bytes = len(b"AT") + len(body) + extra_overhead
    if line_bytes <= MAX_COMMAND_LINE_BYTES:
        return line_bytes
    budget = MAX_COMMAND_LINE_BYTES - (line_bytes - len(content))
    wrapper = f" with the {extra_overhead}-byte XSUDO wrapper" if extra_overhead else ""
    raise ContentTooLargeError(
        f"{cred_type.label} content is {len(content)} bytes, so the AT%CMNG write line is "
        f"{line_bytes} bytes{wrapper}; the modem's AT interface takes at most "
        f"{MAX_COMMAND_LINE_BYTES} (about 4 kB), which leaves {max(budget, 0)} bytes for content",
        _too_large_hint(content, cred_type),
        line_bytes=line_bytes,
        limit=MAX_COMMAND_LINE_BYTES,
    )


def _too_large_hint(content: bytes, cred_type: CredType) -> str:
    count = content.count(b"-----BEGIN CERTIFICATE-----")
    if cred_type is CredType.CA_CERT and count > 1:
        return (
            f"split the {count}-certificate chain over several sec_tags, or trim it to the "
            "certificates the server chain needs"
        )
    if cred_type in (CredType.CA_CERT, CredType.CLIENT_CERT):
        return "use a smaller certificate (for example one with an EC P-256 key instead of RSA)"
    return "use a smaller credential (for example an EC P-256 key instead of RSA)"
