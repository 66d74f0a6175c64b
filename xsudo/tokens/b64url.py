"""Strict base64url (RFC 4648 section 5) without padding, as nRF91 modems print tokens.

Token replies are ``<base64url(body)>.<base64url(COSE_Sign1)>``. The decoder accepts only
what a modem prints: the URL-safe alphabet, no ``=`` padding, no whitespace, no length
that cannot occur (``len % 4 == 1``), and zero unused bits in the last character (so every
byte string has exactly one accepted text).
"""

from __future__ import annotations

import base64
import binascii
import re

from xsudo.tokens.errors import TokenError

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


def encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str, what: str = "token part") -> bytes:
    """Decode unpadded base64url ``text``; :class:`TokenError` names what is wrong."""
    if "=" in text:
        raise TokenError(f"the {what} has base64 padding ('='); modems print base64url without it")
    if _ALPHABET.fullmatch(text) is None:
        bad = next(c for c in text if _ALPHABET.fullmatch(c) is None)
        raise TokenError(f"the {what} has a character outside base64url: {bad!r}")
    if not text:
        raise TokenError(f"the {what} is empty")
    if len(text) % 4 == 1:
        raise TokenError(f"the {what} is truncated ({len(text)} characters is no base64url length)")
    unused_bits = {0: 0, 2: 4, 3: 2}[len(text) % 4]
    if _INDEX[text[-1]] & ((1 << unused_bits) - 1):
        raise TokenError(f"the {what} is not canonical base64url (non-zero bits after the data)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - excluded above
        raise TokenError(f"the {what} is not base64url: {exc}") from None


def split_reply(text: str, what: str) -> tuple[bytes, bytes]:
    """``"<b64url>.<b64url>"`` -> (body, COSE_Sign1 bytes); ``what`` names the reply."""
    parts = text.split(".")
    if len(parts) != 2:
        raise TokenError(
            f"the {what} reply has {len(parts) - 1} '.' separators; expected "
            "<base64url body>.<base64url COSE_Sign1>"
        )
    return decode(parts[0], f"{what} body"), decode(parts[1], f"{what} COSE_Sign1")
