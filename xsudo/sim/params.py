"""Parse the parameter list of an AT set command (``AT%CMNG=0,42,0,"<pem>"``).

Commas inside double quotes are data, and so are CR and LF. A quoted parameter is exactly
``"..."`` (spaces around it are allowed); anything after its closing quote makes the whole
list malformed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One parameter: ``quoted`` tells a string from a bare token; ``value`` has no quotes."""

    value: bytes
    quoted: bool

    @property
    def empty(self) -> bool:
        return not self.quoted and not self.value

    def int_in(self, low: int, high: int) -> int | None:
        """The value as an integer in ``[low, high]``, or ``None``."""
        if self.quoted or not self.value.isdigit():
            return None
        number = int(self.value)
        return number if low <= number <= high else None


def split_params(text: bytes) -> list[Param] | None:
    """Split ``text`` (what follows ``=``) into parameters; ``None`` when malformed."""
    params: list[Param] = []
    for raw in _split_unquoted_commas(text):
        token = raw.strip(b" ")
        if token.startswith(b'"'):
            if len(token) < 2 or not token.endswith(b'"') or b'"' in token[1:-1]:
                return None
            params.append(Param(token[1:-1], quoted=True))
        elif b'"' in token:
            return None
        else:
            params.append(Param(token, quoted=False))
    return params


def _split_unquoted_commas(text: bytes) -> list[bytes]:
    parts: list[bytes] = []
    start = 0
    in_quotes = False
    for index, byte in enumerate(text):
        if byte == 0x22:
            in_quotes = not in_quotes
        elif byte == 0x2C and not in_quotes:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def find_unquoted(text: bytes, char: int) -> int:
    """Index of the first ``char`` outside double quotes, or -1."""
    in_quotes = False
    for index, byte in enumerate(text):
        if byte == 0x22:
            in_quotes = not in_quotes
        elif byte == char and not in_quotes:
            return index
    return -1
