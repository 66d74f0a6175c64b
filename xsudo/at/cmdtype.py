"""Which way a device takes AT commands, and telling the ways apart.

* ``at``: the line goes to the UART as it is (sdk-nrf ``at_host`` as in the ``at_client``
  sample, Serial Modem / SLM). :class:`AtFraming`.
* ``shell``: the line goes through the Zephyr shell's ``at`` command
  (``CONFIG_AT_SHELL``, e.g. ``modem_shell``). :class:`~xsudo.at.shell.ShellFraming`.
* ``auto``: the channel sends the probe ``AT`` once per open channel and looks at the
  answer (:func:`probe_verdict`): ``OK`` (or any final result code) means AT mode; a shell
  prompt or ``AT: command not found`` means shell mode.

The default comes from ``$XSUDO_CMD_TYPE`` (:func:`resolve_cmd_type`).
"""

from __future__ import annotations

import os
from typing import Literal, Protocol

from xsudo.errors import BadInputError, DeviceError, Remedy

from .parse import show
from .results import parse_final
from .shell import DEFAULT_SHELL_BUFFER, ShellFraming, is_prompt

CmdType = Literal["at", "shell", "auto"]
CMD_TYPES: tuple[CmdType, ...] = ("at", "shell", "auto")
CMD_TYPE_ENV = "XSUDO_CMD_TYPE"

DETECT_PROBE = b"AT"
"""The auto-detection probe: ``OK`` from at_host/SLM, ``AT: command not found`` from a shell."""


class Echo(Protocol):
    """Recognises the device's echo of one sent line."""

    done: bool

    def take(self, line: bytes) -> bool: ...


class Framing(Protocol):
    """What differs between AT mode and shell mode, as the channel sees it."""

    name: str

    def wire(self, line: bytes) -> bytes:
        """The bytes to write for the AT ``line`` (without terminator); may refuse it."""
        ...

    def filter(self, data: bytes) -> bytes:
        """Received bytes as the line splitter should see them."""
        ...

    def clean(self, line: bytes) -> bytes:
        """A received, cleaned line without framing noise."""
        ...

    def echo(self, wire: bytes) -> Echo: ...

    def failure(self, line: bytes, port: str) -> DeviceError | None:
        """The error a received line means for the command in flight, if any."""
        ...


class AtEcho:
    """The echo of a raw AT line: the first whole line equal to it (CR/LF ignored)."""

    def __init__(self, wire: bytes) -> None:
        self._wire = _no_breaks(wire)
        self.done = not self._wire

    def take(self, line: bytes) -> bool:
        if self.done or _no_breaks(line) != self._wire:
            return False
        self.done = True
        return True


def _no_breaks(data: bytes) -> bytes:
    return data.replace(b"\r", b"").replace(b"\n", b"").strip()


class AtFraming:
    """Raw AT lines (at_host, Serial Modem): the line is the wire."""

    name = "at"

    def wire(self, line: bytes) -> bytes:
        return line

    def filter(self, data: bytes) -> bytes:
        return data

    def clean(self, line: bytes) -> bytes:
        return line

    def echo(self, wire: bytes) -> AtEcho:
        return AtEcho(wire)

    def failure(self, line: bytes, port: str) -> DeviceError | None:
        if line.endswith(b": command not found"):
            return DeviceError(
                f"the device on {port} is a Zephyr shell, not a raw AT interface ({show(line)})",
                "use cmd_type 'shell' (or 'auto')",
                remedy=Remedy("set-cmd-type", {"cmd_type": "shell"}),
            )
        return None


def resolve_cmd_type(value: str | None) -> CmdType:
    """``value``, else ``$XSUDO_CMD_TYPE``, else ``at``; anything else is bad usage."""
    chosen = (value or os.environ.get(CMD_TYPE_ENV, "") or "at").strip().lower()
    for known in CMD_TYPES:
        if chosen == known:
            return known
    raise BadInputError(
        f"command type {chosen!r} is not one of {', '.join(CMD_TYPES)}",
        f"use cmd_type 'at', 'shell' or 'auto' (or set {CMD_TYPE_ENV})",
        remedy=Remedy("set-cmd-type"),
    )


def framing_for(cmd_type: str, shell_buffer: int = DEFAULT_SHELL_BUFFER) -> Framing:
    """The framing for a known command type (``at`` or ``shell``)."""
    if cmd_type == "shell":
        return ShellFraming(shell_buffer)
    return AtFraming()


def probe_verdict(line: bytes) -> CmdType | None:
    """What one cleaned line received after :data:`DETECT_PROBE` says, or ``None``.

    Any final result code means a raw AT interface; a shell prompt or a shell's
    ``command not found`` means shell mode. The echo ``AT`` and other lines say nothing.
    """
    if parse_final(line) is not None:
        return "at"
    if line.endswith(b": command not found") or is_prompt(line):
        return "shell"
    return None
