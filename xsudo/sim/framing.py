"""Cut a received byte stream into commands the way sdk-nrf's at_host does (rules S1-S4).

* A terminator ends a command only outside double quotes; inside quotes CR and LF are data.
* ``cr`` (at_host's default) and ``lf`` and ``nul``: the terminator byte ends the command and
  is not part of it; a LF after a CR in ``cr`` mode starts the next command (the modem
  strips such leading whitespace, see :meth:`xsudo.sim.modem.Modem.handle`).
* ``crlf``: the command ends at a LF that follows a CR; the CR stays at the end of the
  command (the modem strips it).
* A NUL that is not the terminator is dropped.
* Over-long commands: ``error`` keeps collecting (up to a hard cap) so the modem can answer
  ``ERROR``; ``truncate`` drops every byte past ``max_line`` like at_host, and a dropped
  quote does not toggle the quote state (so a lost closing quote hangs the line, as on a
  real board).
"""

from __future__ import annotations

from xsudo.sim.options import TERMINATORS

_QUOTE = 0x22
_LF = 0x0A
_NUL = 0x00
HARD_CAP_SLACK = 65536


class Framer:
    """Incremental, quote-aware command framing. Pure: bytes in, commands out."""

    def __init__(self, terminator: str = "cr", max_line: int = 4095, overflow: str = "error"):
        self._terminator = TERMINATORS[terminator]
        self._limit = max_line if overflow == "truncate" else max_line + HARD_CAP_SLACK
        self._buffer = bytearray()
        self._in_quotes = False

    def reset(self) -> None:
        """Forget a partly received command (a new connection starts clean)."""
        self._buffer.clear()
        self._in_quotes = False

    @property
    def pending(self) -> bytes:
        """Bytes of the command received so far."""
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Consume ``data``; return ``(end, command)`` for every command completed, where
        ``end`` is the index in ``data`` just past the byte that completed it."""
        commands: list[tuple[int, bytes]] = []
        for index, byte in enumerate(data):
            if not self._in_quotes and self._ends_command(byte):
                commands.append((index + 1, self._take()))
            elif byte == _NUL:
                continue
            else:
                self._store(byte)
        return commands

    def _ends_command(self, byte: int) -> bool:
        if self._terminator == b"\r\n":
            return byte == _LF and self._buffer[-1:] == b"\r"
        return byte == self._terminator[0]

    def _store(self, byte: int) -> None:
        if len(self._buffer) >= self._limit:
            return
        self._buffer.append(byte)
        if byte == _QUOTE:
            self._in_quotes = not self._in_quotes

    def _take(self) -> bytes:
        command = bytes(self._buffer)
        self._buffer.clear()
        self._in_quotes = False
        return command
