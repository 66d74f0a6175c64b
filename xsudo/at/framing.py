"""Split the bytes a device sends into lines, quote-aware and bounded.

Contract:

* CR, LF and CRLF all end a line; blank lines are dropped. A line is returned without its
  terminator and without surrounding spaces/tabs.
* In a line that starts like an AT response or an echoed command (``+NAME:``, ``%NAME:``,
  ``#NAME:``, ``AT...``), CR and LF between double quotes are content, not terminators. So
  ``%CMNG: 12,0,"<sha>","-----BEGIN...<LF>OK<LF>..."`` is one line, and the ``OK`` inside it
  is not a result code. Other lines (logs, garbage, bare values) end at the first CR/LF even
  after an odd number of quotes, so one stray ``"`` cannot swallow the rest of a response.
* Memory is bounded: a line may hold at most ``max_line`` bytes outside quotes and
  ``max_quoted_line`` bytes in total. Past either bound :class:`FramingOverflow` is raised and
  the splitter is reset; it never grows without limit.
* Feeding the same bytes in any chunking yields the same lines (property-tested).
"""

from __future__ import annotations

import re
from collections import deque

from xsudo.errors import DeviceError
from xsudo.limits import MAX_RESPONSE_LINE_BYTES

MAX_LINE_BYTES = MAX_RESPONSE_LINE_BYTES
"""Longest line accepted outside double quotes (:data:`xsudo.limits.MAX_RESPONSE_LINE_BYTES`)."""

MAX_RESPONSE_BYTES = 64 * 1024
"""Longest quote-spanning line, and the most bytes one command's response may bring."""

_SPECIAL = re.compile(rb'["\r\n]')
_QUOTE_AWARE = re.compile(rb"(?:[Aa][Tt]|[+%#][A-Za-z0-9_]+:)")
_LEADING_JUNK = re.compile(rb"^[^\x21-\x7e]+")


class FramingOverflow(DeviceError):
    """The device sent more than the framing bounds allow (a line or response too long)."""


def strip_leading_junk(line: bytes) -> bytes:
    """Drop leading bytes that are not printable, non-space ASCII (NULs, line noise)."""
    return _LEADING_JUNK.sub(b"", line, count=1)


def is_quote_aware(line_start: bytes) -> bool:
    """Whether a line beginning with ``line_start`` keeps CR/LF inside quotes as content."""
    return _QUOTE_AWARE.match(strip_leading_junk(line_start)) is not None


class LineSplitter:
    """Incremental line splitter: :meth:`feed` bytes, then take lines with :meth:`pop_lines`."""

    def __init__(
        self, *, max_line: int = MAX_LINE_BYTES, max_quoted_line: int = MAX_RESPONSE_BYTES
    ) -> None:
        self._max_line = max_line
        self._max_quoted_line = max_quoted_line
        self._lines: deque[bytes] = deque()
        self._reset_line()

    def _reset_line(self) -> None:
        self._buf = bytearray()
        self._in_quotes = False
        self._unquoted_len = 0
        self._quote_aware: bool | None = None

    def reset(self) -> None:
        """Forget any partial line (complete lines already split are kept)."""
        self._reset_line()

    @property
    def partial(self) -> bytes:
        """The bytes of the line not yet terminated."""
        return bytes(self._buf)

    def feed(self, data: bytes) -> None:
        """Add received bytes. Raises :class:`FramingOverflow` past the bounds."""
        pos = 0
        end = len(data)
        while pos < end:
            match = _SPECIAL.search(data, pos)
            stop = match.start() if match else end
            if stop > pos:
                self._append(data[pos:stop])
            if match is None:
                return
            self._special(data[stop : stop + 1])
            pos = stop + 1

    def _append(self, chunk: bytes) -> None:
        self._buf += chunk
        if not self._in_quotes or not self._line_is_quote_aware():
            self._unquoted_len += len(chunk)
            if self._unquoted_len > self._max_line:
                self._overflow(f"a line longer than {self._max_line} bytes")
        if len(self._buf) > self._max_quoted_line:
            self._overflow(f"a quoted line longer than {self._max_quoted_line} bytes")

    def _special(self, byte: bytes) -> None:
        if byte == b'"':
            self._in_quotes = not self._in_quotes
            self._buf += byte
            self._unquoted_len += 1
            return
        if self._in_quotes and self._line_is_quote_aware():
            self._append(byte)
            return
        self._end_line()

    def _line_is_quote_aware(self) -> bool:
        if self._quote_aware is None:
            self._quote_aware = is_quote_aware(bytes(self._buf[:64]))
        return self._quote_aware

    def _end_line(self) -> None:
        line = bytes(self._buf).strip(b" \t")
        self._reset_line()
        if line:
            self._lines.append(line)

    def _overflow(self, what: str) -> None:
        self._reset_line()
        raise FramingOverflow(
            f"the device sent {what} without a line break",
            "check the baud rate and that the port is the modem's AT interface",
        )

    def pop_lines(self) -> list[bytes]:
        """Return and forget the complete lines split so far, oldest first."""
        lines = list(self._lines)
        self._lines.clear()
        return lines
