"""The Zephyr shell in front of the simulated modem (``cmd_type=shell``).

:func:`shell_decode` splits a shell line the way Zephyr's ``make_argv``
(``subsys/shell/shell_utils.c``) does:

* whitespace separates arguments; ``'`` or ``"`` starts a quoted part, the same quote ends
  it, and the quote characters are removed (``'ab'cd`` is the one argument ``abcd``);
* outside quotes, ``\\`` makes the next character literal (and is removed);
* inside quotes, ``\\<that quote>`` is a literal quote; ``\\0`` followed by one to three
  octal digits, and ``\\x`` followed by one or two hex digits, are replaced by that byte
  (an octal value above 255 wraps, as in the C ``uint8_t``); any other backslash stays;
* a byte produced by an escape is never re-read (``\\x27`` inside ``'...'`` does not close
  the quote);
* an unterminated quote is an error (the shell prints ``not terminated: '``).

:class:`ShellLink` is one connection's view of a board running the shell: the line editor
(printable ASCII is collected up to ``shell_buffer - 1`` characters and echoed, the rest
dropped; CR or LF runs the line, a CR LF pair counts once; backspace/DEL delete; Ctrl-C
and Ctrl-U clear; VT100 escape sequences are consumed; bytes above 0x7F are dropped), the
``at`` command (``at <AT command>`` sends ``argv[1]`` to the modem and prints the response;
with ``unescape_lf`` a command starting with ``AT%CMNG=0`` has every two-character ``\\n``
replaced by CR LF first; a response longer than ``shell_response_max`` fails with
``Sending AT command failed with error code -7``), ``<name>: command not found`` for
every other command, and a coloured ``uart:~$ `` prompt after each line. Long echoes wrap
at :data:`TERMINAL_WIDTH` columns, as a real shell's do.

Scripted faults act on what the shell prints for an ``at`` line after the Enter's own line
break: ``late`` and ``split`` time the response, its line break and the prompt; ``garbage``
comes before the response; ``stall`` leaves the shell hanging (no response, no prompt); a
reset prints the boot banner and then the prompt; ``unplug`` makes the port vanish and the
link takes nothing more in.
"""

from __future__ import annotations

from typing import Protocol

from xsudo.sim.board import Answer, Board, Link, Outgoing, Send

PROMPT = b"uart:~$ "
TERMINAL_WIDTH = 80
_GREEN = b"\x1b[1;32m"
_RED = b"\x1b[1;31m"
_RESET = b"\x1b[0m"
_NL = b"\r\n"
_E2BIG = -7
_AT_USAGE = (
    b"Usage: at <subcommand>\r\n\r\nSubcommands:\r\n"
    b"  events_enable     Enable AT event handler which prints AT notifications\r\n"
    b"  events_disable    Disable AT event handler\r\n\r\n"
    b"Any other subcommand is interpreted as AT command and sent to the modem.\r\n"
)
_WHITESPACE = b" \t\n\v\f\r"
_OCTAL = b"01234567"
_HEX = b"0123456789abcdefABCDEF"


class ShellQuoteError(ValueError):
    """A quote was opened and never closed (``quote`` is the quote character)."""

    def __init__(self, quote: int) -> None:
        super().__init__(f"not terminated: {chr(quote)}")
        self.quote = quote


def shell_decode(line: bytes) -> list[bytes]:
    """The arguments Zephyr's ``make_argv`` makes of ``line`` (see the module docstring).

    Raises :class:`ShellQuoteError` for an unterminated quote. A NUL ends the line.
    """
    line = line.split(b"\0", 1)[0]
    args: list[bytes] = []
    pos = 0
    while pos < len(line):
        if line[pos] in _WHITESPACE:
            pos += 1
            continue
        arg, pos = _one_argument(line, pos)
        args.append(arg)
    return args


def _one_argument(line: bytes, pos: int) -> tuple[bytes, int]:
    """Decode the argument starting at ``pos``; return it and the position after it."""
    out = bytearray()
    quote = 0
    end = len(line)
    while pos < end:
        byte = line[pos]
        if not quote:
            if byte == 0x5C:  # backslash: the next byte is literal
                out += line[pos + 1 : pos + 2]
                pos += 2
                continue
            if byte in (0x22, 0x27):
                quote = byte
                pos += 1
                continue
            if byte in _WHITESPACE:
                break
            out.append(byte)
            pos += 1
            continue
        if byte == quote:
            quote = 0
            pos += 1
            continue
        if byte == 0x5C:
            escaped = _quoted_escape(line, pos, quote)
            if escaped is not None:
                value, pos = escaped
                out.append(value)
                continue
        out.append(byte)
        pos += 1
    if quote:
        raise ShellQuoteError(quote)
    return bytes(out).split(b"\0", 1)[0], pos  # a C string ends at an escaped NUL


def _quoted_escape(line: bytes, pos: int, quote: int) -> tuple[int, int] | None:
    """The byte an escape at ``pos`` (a backslash inside quotes) stands for, and the position
    after the escape; ``None`` when the backslash is literal."""
    following = line[pos + 1 : pos + 2]
    if following == bytes([quote]):
        return quote, pos + 2
    if following == b"0":
        digits = _run(line, pos + 2, _OCTAL, 3)
        if digits:
            return int(digits, 8) & 0xFF, pos + 2 + len(digits)
    if following == b"x":
        digits = _run(line, pos + 2, _HEX, 2)
        if digits:
            return int(digits, 16), pos + 2 + len(digits)
    return None


def _run(line: bytes, start: int, allowed: bytes, limit: int) -> bytes:
    end = start
    while end < len(line) and end - start < limit and line[end] in allowed:
        end += 1
    return line[start:end]


class LinkLike(Protocol):
    """One connection to a board: bytes in, :class:`~xsudo.sim.board.Outgoing` out (see
    :class:`Link`); ``receive`` is the untimed ``(offset, bytes)`` view."""

    def transmit(self, data: bytes) -> Outgoing: ...

    def receive(self, data: bytes) -> list[tuple[int, bytes]]: ...


def link_for(board: Board) -> LinkLike:
    """The link the board's options ask for: raw AT (:class:`Link`) or the shell."""
    if board.options.cmd_type == "shell":
        return ShellLink(board)
    return Link(board)


class ShellLink:
    """One connection to a board whose UART runs the Zephyr shell (module docstring)."""

    def __init__(self, board: Board) -> None:
        self.board = board
        options = board.options
        self._room = options.shell_buffer - 1
        self._echo = options.shell_echo
        self._buffer = bytearray()
        self._last_nl = 0
        self._escape = 0  # 0 none, 1 after ESC, 2 after ESC [, 3 expecting ~
        self._out = Outgoing()
        self.vanished = False

    def transmit(self, data: bytes) -> Outgoing:
        self._out = Outgoing()
        if self.vanished:
            return self._out
        for index, byte in enumerate(data):
            self._byte(byte, index + 1)
            if self._out.vanish is not None:
                self.vanished = True
                break
        return self._out

    def receive(self, data: bytes) -> list[tuple[int, bytes]]:
        """:meth:`transmit` as ``(offset, bytes)`` pairs, delays ignored."""
        return self.transmit(data).untimed()

    def _emit(self, offset: int, data: bytes) -> None:
        if not data:
            return
        sends = self._out.sends
        if sends and sends[-1].offset == offset and sends[-1].delay == 0.0:
            sends[-1] = Send(offset, sends[-1].data + data)
        else:
            sends.append(Send(offset, data))

    def _byte(self, byte: int, offset: int) -> None:
        if byte > 0x7F:
            return
        if self._escape:
            self._escape_byte(byte)
            return
        if byte in (0x0D, 0x0A):
            if self._last_nl in (0, byte):
                self._last_nl = byte
                self._enter(offset)
            return
        self._last_nl = 0
        if byte == 0x1B:
            self._escape = 1
        elif byte in (0x08, 0x7F):
            if self._buffer:
                self._buffer.pop()
                self._emit(offset, b"\x08\x1b[K" if self._echo else b"")
        elif byte in (0x03, 0x15):  # Ctrl-C, Ctrl-U: drop the line
            self._buffer.clear()
            self._emit(offset, _NL + self._prompt())
        elif 0x20 <= byte <= 0x7E:
            self._insert(byte, offset)

    def _escape_byte(self, byte: int) -> None:
        if self._escape == 1:
            self._escape = 2 if byte == 0x5B else 0
        elif self._escape == 2:
            self._escape = 3 if byte in b"1234" else 0
        else:
            self._escape = 0

    def _insert(self, byte: int, offset: int) -> None:
        if len(self._buffer) >= self._room:
            return  # the shell drops what does not fit
        self._buffer.append(byte)
        if self._echo:
            wrap = (len(PROMPT) + len(self._buffer)) % TERMINAL_WIDTH == 0
            self._emit(offset, bytes([byte]) + (_NL if wrap else b""))

    def _prompt(self) -> bytes:
        return _GREEN + PROMPT + _RESET

    def _enter(self, offset: int) -> None:
        line = bytes(self._buffer).strip(_WHITESPACE)
        self._buffer.clear()
        self._emit(offset, _NL)
        answer = self._execute(line) if line else Answer()
        if answer.swallowed:
            return  # the shell hangs in the at command: no response, no prompt
        if answer.vanish or answer.delay or answer.split_gap is not None:
            self._out.add(offset, answer, answer.data + self._prompt())
        else:
            self._emit(offset, answer.data + self._prompt())

    def _execute(self, line: bytes) -> Answer:
        try:
            argv = shell_decode(line)
        except ShellQuoteError as exc:
            return Answer(_error(f"not terminated: {chr(exc.quote)}".encode("ascii")))
        if not argv:
            return Answer()
        if argv[0] != b"at":
            return Answer(_error(argv[0] + b": command not found"))
        return self._at(argv)

    def _at(self, argv: list[bytes]) -> Answer:
        if len(argv) < 2:
            return Answer(_AT_USAGE)
        command = argv[1]
        if command == b"events_enable":
            return Answer(b"AT command event handler enabled\r\n")
        if command == b"events_disable":
            return Answer(b"AT command event handler disabled\r\n")
        if self.board.options.unescape_lf and command.startswith(b"AT%CMNG=0"):
            command = command.replace(b"\\n", b"\r\n")
        answer = self.board.answer(command)
        if len(answer.data) > self.board.options.shell_response_max:
            text = f"Sending AT command failed with error code {_E2BIG}\r\n".encode("ascii")
        else:
            text = answer.data + _NL
        return Answer(text, answer.delay, answer.split_gap, answer.vanish, answer.swallowed)


def _error(message: bytes) -> bytes:
    return _RED + message + _RESET + _NL
