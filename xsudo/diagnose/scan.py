"""Find and check every ``AT%XSUDO`` line in a capture: a terminal log, a modem trace, a
script's output.

:func:`find_xsudo_lines` is the parser. It looks for ``%XSUDO=`` (any case, with or without
the ``AT`` in front; the test form ``%XSUDO=?`` is skipped) anywhere in the text, so
timestamps, prompts and ``TX:`` markers before it on the same line do not matter. Where the
line ends:

* When the head ``%XSUDO=<data_len>,"<signature>"[,<slot>];`` is well formed, the command
  runs to the end of its capture line, unless ``data_len`` says the signed body goes
  beyond that line: then the body is framed the way the modem frames a command, to the
  first CR or LF **outside double quotes**, so a PEM inside the quotes of a ``%CMNG`` write
  is one body however many lines it spans. A Base64 signature wrapped over lines inside its
  quotes belongs to the head.
* Otherwise (a malformed head) the line ends at the end of its capture line.

``data_len`` then says which bytes are signed, exactly as for a single line
(:func:`~xsudo.diagnose.verify_line`). Using it as a hint means an unbalanced quote in one
broken line does not swallow the lines after it.

Bounds (the capture is untrusted text): a line is cut at :data:`MAX_SCAN_LINE` bytes, and
the search goes on after the end of each line found, so the scan is linear in the size of
the capture.

:func:`scan_capture` checks each line against one public key and yields a
:class:`ScanResult` per line, in capture order. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from xsudo.at.commands import XSUDO
from xsudo.command import MAX_LINE_BYTES
from xsudo.crypto import PublicKey, fingerprint, require_p256_public
from xsudo.diagnose.line import Verdict, check_line

MAX_SCAN_LINE = 4 * MAX_LINE_BYTES
"""Longest line taken from a capture, in bytes (four times what the modem accepts, so an
over-long line is still shown for what it is, and an unclosed quote cannot run on)."""

_XSUDO = re.compile(re.escape(XSUDO.encode("ascii")), re.IGNORECASE)
# The parameters of a signed line after "%XSUDO=" up to its ';', with a Base64 signature
# that may be wrapped.
_HEAD_PARAMS = re.compile(
    rb'[ \t]*(\d{1,10})[ \t]*,[ \t]*"[A-Za-z0-9+/=_\- \t\r\n\v\f]{0,400}"'
    rb"[ \t]*(?:,[ \t]*\d{1,3}[ \t]*)?;"
)
# One command as the modem frames it: runs without quotes or line breaks, and whole quoted
# strings (which may hold line breaks). Unambiguous, so it matches in linear time.
_COMMAND = re.compile(rb'[^"\r\n]*(?:"[^"]*"[^"\r\n]*)*')
_LINE_BREAK = re.compile(rb"[\r\n]")


@dataclass(frozen=True)
class FoundLine:
    """An ``AT%XSUDO`` line as found in a capture.

    ``line_number`` is 1-based (LF, CRLF and a lone CR each end a capture line), ``offset``
    the byte offset of its first byte (the ``A`` of ``AT``, or the ``%`` when there is no
    ``AT``), ``raw`` its exact bytes, without the terminator.
    """

    line_number: int
    offset: int
    raw: bytes = field(repr=False)


def find_xsudo_lines(data: bytes) -> Iterator[FoundLine]:
    """Every ``AT%XSUDO`` line in ``data``, in order (see the module docstring for the
    framing and bounds). Never raises for any content."""
    line_number = 1
    counted = 0  # line breaks before this offset are in line_number
    position = 0
    while (match := _XSUDO.search(data, position)) is not None:
        params = match.end() + 1
        # Only the set form is a signed line (AT%XSUDO=? lists the syntax).
        if data[match.end() : params] != b"=" or data[params : params + 1] == b"?":
            position = match.end()
            continue
        start = match.start()
        if start >= 2 and data[start - 2 : start].upper() == b"AT":
            start -= 2
        end = _line_end(data, params, min(len(data), start + MAX_SCAN_LINE))
        line_number += _line_breaks(data, counted, start)
        counted = start
        yield FoundLine(line_number, start, data[start:end])
        position = max(end, match.end())


def _line_end(data: bytes, params: int, window: int) -> int:
    """Where the line whose parameters start at ``params`` (after ``%XSUDO=``) ends
    (exclusive), within ``window``."""
    head = _HEAD_PARAMS.match(data, params, window)
    body = head.end() if head is not None else params
    line_break = _LINE_BREAK.search(data, body, window)
    line_end = line_break.start() if line_break is not None else window
    if head is None or body + int(head.group(1)) <= line_end:
        return line_end
    command = _COMMAND.match(data, body, window)  # data_len reaches past the capture line
    framed = command.end() if command is not None else body
    if data[framed : framed + 1] == b'"':  # a quote never closed: no modem framing to trust
        return line_end
    return max(framed, line_end)


def _line_breaks(data: bytes, begin: int, end: int) -> int:
    """Capture line breaks in ``data[begin:end]``: each LF, and each CR not before an LF."""
    lf = data.count(b"\n", begin, end)
    return lf + data.count(b"\r", begin, end) - data.count(b"\r\n", begin, end)


@dataclass(frozen=True)
class ScanResult:
    """One ``AT%XSUDO`` line of a capture and its verdict.

    ``valid`` is the verdict's (the modem would accept the signature); content warnings such
    as ``content_cme`` do not change it.
    """

    line_number: int
    offset: int
    verdict: Verdict

    @property
    def valid(self) -> bool:
        """The verdict's ``valid``: the modem would accept this line's signature."""
        return self.verdict.valid

    def to_json(self) -> dict[str, Any]:
        """The ``xsudo verify --scan --json`` object for this line (one JSON line).

        The verdict's fields without ``matched_variant`` and ``key_fingerprint``: a capture
        may hold private keys, so no content is repeated, and the key is the same for
        every line. ``sha256`` is of the bytes the modem hashes (``body[:data_len]``).
        """
        verdict = self.verdict.to_json()
        del verdict["matched_variant"], verdict["key_fingerprint"]
        return {"line_number": self.line_number, "offset": self.offset, **verdict}


def scan_capture(data: bytes, public_key: PublicKey) -> Iterator[ScanResult]:
    """Check every ``AT%XSUDO`` line of the capture ``data`` against ``public_key``.

    Yields one :class:`ScanResult` per line found by :func:`find_xsudo_lines`, in order;
    none when the capture holds no such line. A line that cannot be parsed gives a
    malformed verdict like :func:`~xsudo.diagnose.verify_line`. Raises only
    :class:`~xsudo.errors.UnsupportedKeyError`, for a key that is not P-256 (before the
    first result). Each line valid as sent costs one ECDSA verification.
    """
    key_id = fingerprint(require_p256_public(public_key))
    return _scan(data, public_key, key_id)


def _scan(data: bytes, public_key: PublicKey, key_id: str) -> Iterator[ScanResult]:
    for found in find_xsudo_lines(data):
        verdict = check_line(found.raw, public_key, key_id)
        yield ScanResult(found.line_number, found.offset, verdict)


__all__ = ["MAX_SCAN_LINE", "FoundLine", "ScanResult", "find_xsudo_lines", "scan_capture"]
