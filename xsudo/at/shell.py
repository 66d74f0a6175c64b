"""AT commands through the Zephyr shell's ``at`` command (firmware with ``CONFIG_AT_SHELL``).

The encoding rule (:func:`shell_encode`)
-----------------------------------------

An AT line is sent as ``at '<escaped line>'``: one argument in single quotes, where

* every byte from ``0x20`` to ``0x7E`` except ``'`` (0x27), ``"`` (0x22) and ``\\`` (0x5C)
  is sent as itself;
* every other byte (CR, LF, the three quote/escape characters, other control bytes and
  bytes above 0x7E) is sent as ``\\xHH`` (two upper-case hex digits).

Zephyr's argument splitter (``make_argv`` in ``subsys/shell/shell_utils.c``) removes the
quotes and, inside quotes, turns ``\\xHH`` back into the byte, so the ``at`` command hands
the modem exactly the original line: CR/LF inside a quoted PEM arrive as real CR/LF, a
``"`` as ``"``. Whatever the modem stores, lists (its SHA) and verifies (an ``%XSUDO``
signature over ``inner[:data_len]``) is computed over the decoded bytes, which are the
bytes xsudo signed; the escaped shell text is never signed. Escaping ``"`` too keeps the
echoed shell line free of double quotes, so an echo wrapped by the terminal can never be
mistaken for the start of a quoted response.

Limits:

* A NUL byte cannot be sent (``make_argv`` works on C strings).
* The whole shell line must fit the shell's command buffer: ``CONFIG_SHELL_CMD_BUFF_SIZE``
  (passed as ``buffer_size``, default :data:`DEFAULT_SHELL_BUFFER`) holds at most
  ``buffer_size - 1`` characters, and the shell silently drops the rest (then the closing
  quote is lost and it answers ``not terminated: '``). Escaping multiplies the length of
  escaped bytes by four, so :func:`shell_line` refuses a line that would not fit.
* With ``CONFIG_AT_SHELL_UNESCAPE_LF`` (NCS 2.8+) the ``at`` command replaces the two
  characters ``\\n`` with CR LF in a command that begins with ``AT%CMNG=0``; a literal
  backslash-n in such a line would not reach the modem byte-exact, so it is refused.
  (This encoding never relies on that option: CR/LF travel as ``\\x0D``/``\\x0A``.)

What comes back
---------------

The shell echoes what it receives (wrapping long lines at the terminal width), moves to a
new line, prints the modem's response (information lines, then the final result code),
then prints its prompt (``uart:~$ ``), often with ANSI colour codes. :class:`ShellFraming`
strips ANSI escapes from the byte stream, the prompt from line starts, and the echo (in
whatever fragments it arrives); the modem's lines then read exactly as over ``at_host``.
Shell-level failures (``at: command not found``, ``not terminated: '``, ``Sending AT
command failed with error code -7``) end an exchange with :class:`ShellCommandError`.
"""

from __future__ import annotations

import re

from xsudo.errors import CommandTextError, DeviceError, Remedy

from .parse import show

DEFAULT_SHELL_BUFFER = 4096
"""Assumed ``CONFIG_SHELL_CMD_BUFF_SIZE``; lines of up to ``DEFAULT_SHELL_BUFFER - 1``
characters fit. Zephyr's own default is 256; AT-shell firmware that writes certificates
raises it (nRF samples use 4096 or more)."""

SHELL_COMMAND = b"at"
_SAFE = frozenset(range(0x20, 0x7F)) - {0x22, 0x27, 0x5C}
_UNESCAPE_LF_PREFIX = b"AT%CMNG=0"
_PROMPT = re.compile(rb"^[^\s$]*~\$ ?")
_ANSI_FINAL = range(0x40, 0x7F)


class ShellCommandError(DeviceError):
    """The device's shell refused or could not run the ``at`` command (exit 3)."""


def shell_quote(argument: bytes) -> bytes:
    """``argument`` as one single-quoted shell argument (see the module's encoding rule).

    Raises :class:`~xsudo.errors.CommandTextError` for a NUL byte.
    """
    if b"\0" in argument:
        raise CommandTextError(
            "a NUL byte cannot be sent through the Zephyr shell", "remove it from the command"
        )
    out = bytearray(b"'")
    for byte in argument:
        if byte in _SAFE:
            out.append(byte)
        else:
            out += b"\\x%02X" % byte
    out += b"'"
    return bytes(out)


def shell_encode(line: bytes) -> bytes:
    """The shell line that makes the ``at`` command send exactly ``line`` to the modem:
    ``at '<escaped line>'`` (no terminator)."""
    return SHELL_COMMAND + b" " + shell_quote(line)


def shell_line(line: bytes, buffer_size: int = DEFAULT_SHELL_BUFFER) -> bytes:
    """:func:`shell_encode` plus the checks that the line reaches the modem byte-exact.

    Raises :class:`~xsudo.errors.CommandTextError` when the shell line would not fit
    ``buffer_size - 1`` characters, or when firmware built with
    ``CONFIG_AT_SHELL_UNESCAPE_LF`` would rewrite a literal ``\\n``.
    """
    if line.startswith(_UNESCAPE_LF_PREFIX) and b"\\n" in line:
        raise CommandTextError(
            "the AT%CMNG=0 line contains a literal backslash-n, which firmware built with "
            "CONFIG_AT_SHELL_UNESCAPE_LF turns into CR LF",
            "use real line breaks in the content (xsudo.content.preflight normalises PEM files)",
            remedy=Remedy("normalise-content"),
        )
    encoded = shell_encode(line)
    room = buffer_size - 1
    if len(encoded) > room:
        raise CommandTextError(
            f"the command needs a {len(encoded)}-character shell line (escaped from "
            f"{len(line)} bytes), but the device shell takes at most {room} "
            f"(CONFIG_SHELL_CMD_BUFF_SIZE={buffer_size})",
            "give the firmware's CONFIG_SHELL_CMD_BUFF_SIZE as shell_buffer if it is larger, "
            "use shorter content, or use firmware with AT host (cmd_type 'at')",
            remedy=Remedy("set-shell-buffer", {"size": buffer_size}),
        )
    return encoded


def strip_prompt(line: bytes) -> bytes:
    """``line`` without a leading shell prompt (``uart:~$ ``, ``mosh:~$ ``, ``~$ ``)."""
    return _PROMPT.sub(b"", line, count=1)


def is_prompt(text: bytes) -> bool:
    """Whether ``text`` (ANSI already stripped) is a bare shell prompt."""
    stripped = text.strip()
    return bool(stripped) and _PROMPT.sub(b"", stripped + b" ", count=1) == b""


class AnsiStripper:
    """Remove ANSI/VT100 escape sequences from a byte stream split at any point.

    ``ESC [ <parameters> <intermediates> <final>`` (CSI) and two-byte ``ESC <char>``
    sequences are dropped; everything else passes through unchanged.
    """

    def __init__(self) -> None:
        self._state = 0  # 0 text, 1 after ESC, 2 inside CSI

    def feed(self, data: bytes) -> bytes:
        if self._state == 0 and b"\x1b" not in data:
            return data
        out = bytearray()
        for byte in data:
            if self._state == 0:
                if byte == 0x1B:
                    self._state = 1
                else:
                    out.append(byte)
            elif self._state == 1:
                self._state = 2 if byte == 0x5B else 0
            elif byte in _ANSI_FINAL:
                self._state = 0
        return bytes(out)


class ShellEcho:
    """Recognise the shell's echo of ``wire`` in whatever line fragments it arrives.

    :meth:`take` consumes a line that continues the echo and returns True; other lines (a
    log line between two wrapped pieces, or every line when the shell's echo is off) are
    left alone. The echo starts with ``at '``, which no modem response line does.
    """

    def __init__(self, wire: bytes) -> None:
        self._remaining = wire
        self.done = not wire

    def take(self, line: bytes) -> bool:
        if self.done:
            return False
        remaining = self._remaining.lstrip(b" \t")
        fragment = line.strip(b" \t")
        if not fragment or not remaining.startswith(fragment):
            return False
        self._remaining = remaining[len(fragment) :]
        self.done = not self._remaining.strip(b" \t")
        return True


def shell_failure(line: bytes, port: str) -> ShellCommandError | None:
    """The error a shell message line means for a running ``at`` command, or ``None``."""
    if line == SHELL_COMMAND + b": command not found":
        return ShellCommandError(
            f"the shell on {port} has no 'at' command",
            "use firmware built with CONFIG_AT_SHELL (e.g. modem_shell), or firmware that "
            "answers plain AT commands (at_client, serial_modem) with cmd_type 'at'",
            remedy=Remedy("set-cmd-type", {"cmd_type": "at"}),
        )
    if line.startswith(b"not terminated:"):
        return ShellCommandError(
            f"the shell on {port} received only part of the line (not terminated): its "
            "command buffer is smaller than assumed",
            "give the firmware's CONFIG_SHELL_CMD_BUFF_SIZE as shell_buffer",
            remedy=Remedy("set-shell-buffer"),
        )
    if line.startswith(b"Sending AT command failed with error code"):
        detail = show(line, 120)
        hint = (
            "the response is longer than CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN; "
            "list SHAs instead of reading content back"
            if line.rstrip().endswith(b"-7")
            else "check the modem state and retry"
        )
        return ShellCommandError(f"the shell on {port} reported: {detail}", hint)
    if line.endswith(b": wrong parameter count"):
        return ShellCommandError(
            f"the shell on {port} refused the at command ({show(line, 120)})",
            "report this with the firmware version",
        )
    return None


class ShellFraming:
    """How a channel talks to a Zephyr shell (see the module docstring)."""

    name = "shell"

    def __init__(self, buffer_size: int = DEFAULT_SHELL_BUFFER) -> None:
        self.buffer_size = buffer_size
        self._ansi = AnsiStripper()

    def wire(self, line: bytes) -> bytes:
        return shell_line(line, self.buffer_size)

    def filter(self, data: bytes) -> bytes:
        return self._ansi.feed(data)

    def clean(self, line: bytes) -> bytes:
        return strip_prompt(line)

    def echo(self, wire: bytes) -> ShellEcho:
        return ShellEcho(wire)

    def failure(self, line: bytes, port: str) -> ShellCommandError | None:
        return shell_failure(line, port)
