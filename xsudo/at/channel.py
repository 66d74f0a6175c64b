"""The AT channel: one command in flight, final result codes, URCs kept aside.

Contract of :class:`AtChannel`:

* **One command in flight.** :meth:`AtChannel.command` holds a lock from the first byte
  written until the final result code (or an error); concurrent callers wait their turn.
* **Validated before sent.** A command is checked (printable ASCII, CR/LF only inside
  quotes, balanced quotes, ``AT`` prefix, at most 4095 bytes) before anything is written;
  a violation raises :class:`~xsudo.errors.CommandTextError` and nothing reaches the device.
* **Sent exactly.** The line's bytes, then the terminator (default CRLF, see
  :data:`DEFAULT_TERMINATOR`). Nothing is re-rendered. In shell mode the line travels as
  ``at '<escaped line>'``, which the shell decodes back to exactly the line's bytes.
* **Deadlines, not sleeps.** Every command has a deadline (``timeout`` seconds, per call or
  per channel) measured with ``time.monotonic()``; reads block in the port until then.
* **Tolerant reading.** Echo on or off, CR/LF/CRLF endings, blank lines, responses split at
  any byte, URCs before/among/after the response (queued, see :meth:`urcs`), Zephyr log
  lines (:meth:`logs`), garbage and stray lines (:meth:`strays`). CR/LF inside quotes of a
  response line is content.
* **Raises:** :class:`~xsudo.errors.ModemError`/:class:`~xsudo.errors.CmeError` for an
  error result when ``check`` is true (decoded per command);
  :class:`~xsudo.at.parse.ResponseFormatError` for a ``+CME ERROR``/``+CMS ERROR`` whose
  code is not 1-5 digits, whatever ``check`` says (it ends the exchange; there is no code
  to return); :class:`~xsudo.errors.DeviceTimeout`
  when no final result code arrives in time; :class:`~xsudo.errors.DeviceReset` when a boot
  banner arrives while a command is in flight, or arrived since the previous command (then
  nothing is sent); :class:`~xsudo.errors.DeviceDisconnected` when the port goes away (the
  channel stays unusable); :class:`~xsudo.at.framing.FramingOverflow` when the device sends
  an over-long line or response.
* **AT or shell.** ``cmd_type`` ``"at"`` sends lines raw; ``"shell"`` sends them through the
  Zephyr shell's ``at`` command (:mod:`xsudo.at.shell`: escaping, prompt, echo, ANSI codes);
  ``"auto"`` sends the probe ``AT`` before the first command and keeps the verdict for the
  life of the channel (:mod:`xsudo.at.cmdtype`, :mod:`xsudo.at.detect`; at most
  :data:`DETECT_TIMEOUT` seconds). Responses read the same in both modes.
* **Resync.** After a timeout, reset or overflow the channel is *dirty*: before the next
  command it sends a read-only sync probe (``AT+CMEE?`` or ``AT+CFUN?``, alternating, never
  the stale command itself), repeated every :data:`PROBE_INTERVAL` seconds in case one is
  dropped, and discards everything up to the latest probe's own prefixed line (``+CMEE:``)
  and final result code, then drains until the line is quiet when something may still
  follow (:mod:`xsudo.at.resync`). A late ``OK`` of the timed-out command therefore never
  completes the next command. When the next command is the probe itself (``AT+CMEE?``, as
  :meth:`xsudo.at.modem.Modem.open` reads it) and one probe answered, that answer is the
  command's response: it is not sent twice.

The channel keeps its port, lines, queues and sync state in an :class:`~xsudo.at.link.AtLink`,
the one interface detection and resync work through. It passes them its pacing
(:data:`PROBE_INTERVAL`, :data:`QUIET_WINDOW`, :data:`DETECT_TIMEOUT`) as read from this
module when they run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from types import TracebackType
from typing import TypedDict

import serial

from xsudo.command import AtCommand, check_command_text, check_line_length
from xsudo.errors import (
    BadInputError,
    CommandTextError,
    DeviceDisconnected,
    DeviceReset,
    DeviceTimeout,
)

from .cmdtype import CmdType, Framing, framing_for, resolve_cmd_type
from .detect import DETECT_TIMEOUT, detect
from .exchange import run_exchange
from .framing import FramingOverflow
from .link import AtLink
from .parse import show
from .results import AtResponse
from .resync import PROBE_INTERVAL, QUIET_WINDOW, SYNC_PROBES, ProbeAnswer, resync
from .shell import DEFAULT_SHELL_BUFFER
from .transport import DEFAULT_BAUD, PortIO, open_port

__all__ = [
    "DEFAULT_TERMINATOR",
    "DEFAULT_TIMEOUT",
    "DETECT_TIMEOUT",
    "PROBE_INTERVAL",
    "QUEUE_LIMIT",
    "QUIET_WINDOW",
    "SYNC_PROBES",
    "TERMINATORS",
    "AtChannel",
    "ChannelOptions",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds a command may take, from validation to its final result code."""

DEFAULT_TERMINATOR = b"\r\n"
"""CRLF ends every command. sdk-nrf at_host accepts it in each termination mode that ends
with CR or LF: in CR mode (its default) the LF becomes leading whitespace of the next
command, which the modem ignores; in CR+LF mode the line is sent on the LF; in LF mode the
CR is trailing whitespace. A CR alone would hang CR+LF mode. nrfcredstore and nRFCloud/utils
send CRLF too."""

TERMINATORS = (b"\r\n", b"\r", b"\n")

QUEUE_LIMIT = 1000
"""Most URCs, log lines and stray lines kept; the oldest are dropped past this."""


class ChannelOptions(TypedDict, total=False):
    """The keyword options of :meth:`AtChannel.open`, for callers that pass them through
    (:meth:`xsudo.at.modem.Modem.open`, the fleet runner, the CLI)."""

    baud: int
    timeout: float
    flow: str
    terminator: bytes
    sync: bool
    cmd_type: str | None
    shell_buffer: int


class AtChannel:
    """An AT command channel over one open pyserial port (see the module contract)."""

    def __init__(
        self,
        serial_port: serial.SerialBase,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        terminator: bytes = DEFAULT_TERMINATOR,
        cmd_type: str = "at",
        shell_buffer: int = DEFAULT_SHELL_BUFFER,
    ) -> None:
        if terminator not in TERMINATORS:
            raise CommandTextError(
                f"terminator {terminator!r} is not CR, LF or CRLF", "use b'\\r\\n' (default)"
            )
        if not timeout > 0:
            raise BadInputError(f"timeout {timeout!r} is not a positive number of seconds")
        kind = resolve_cmd_type(cmd_type)
        if shell_buffer < 16:
            raise BadInputError(f"shell buffer size {shell_buffer} is too small")
        self.shell_buffer = shell_buffer
        self.timeout = timeout
        self._link = AtLink(
            PortIO(serial_port),
            terminator=terminator,
            framing=None if kind == "auto" else framing_for(kind, shell_buffer),
            queue_limit=QUEUE_LIMIT,
        )
        self._lock = threading.Lock()
        self._closed = False
        self._broken: DeviceDisconnected | None = None

    @classmethod
    def open(
        cls,
        port: str | None = None,
        *,
        baud: int = DEFAULT_BAUD,
        timeout: float = DEFAULT_TIMEOUT,
        flow: str = "none",
        terminator: bytes = DEFAULT_TERMINATOR,
        sync: bool = True,
        cmd_type: str | None = None,
        shell_buffer: int = DEFAULT_SHELL_BUFFER,
    ) -> AtChannel:
        """Open ``port`` (or ``$XSUDO_PORT``) and return a channel over it.

        With ``sync`` (the default) the first command is preceded by a sync probe, so a late
        response left over from an earlier program cannot complete it. ``cmd_type`` is
        ``"at"``, ``"shell"`` or ``"auto"``; ``None`` means ``$XSUDO_CMD_TYPE``, else
        ``"at"``. Raises :class:`~xsudo.errors.PortError` or
        :class:`~xsudo.errors.BadInputError`.
        """
        kind = resolve_cmd_type(cmd_type)
        serial_port = open_port(port, baud=baud, flow=flow)
        try:
            channel = cls(
                serial_port,
                timeout=timeout,
                terminator=terminator,
                cmd_type=kind,
                shell_buffer=shell_buffer,
            )
        except BaseException:
            serial_port.close()
            raise
        channel._link.sync.dirty = sync
        return channel

    @property
    def cmd_type(self) -> CmdType | None:
        """``"at"`` or ``"shell"``; ``None`` while ``auto`` has not yet detected it."""
        framing = self._link.framing
        if framing is None:
            return None
        return "shell" if framing.name == "shell" else "at"

    def detect(self, *, timeout: float | None = None) -> CmdType:
        """Detect (once) whether the device takes raw AT lines or shell ``at`` commands.

        Raises :class:`~xsudo.errors.DeviceTimeout` when nothing recognisable answers.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            self._ensure_usable()
            try:
                framing = self._ensure_framing(deadline)
            except DeviceDisconnected as exc:
                self._broken = exc
                raise
        return "shell" if framing.name == "shell" else "at"

    @property
    def terminator(self) -> bytes:
        """The bytes written after every line (see :data:`DEFAULT_TERMINATOR`)."""
        return self._link.terminator

    @terminator.setter
    def terminator(self, value: bytes) -> None:
        self._link.terminator = value

    @property
    def port_name(self) -> str:
        """The port's path or URL."""
        return self._link.port_name

    @property
    def serial_port(self) -> serial.SerialBase:
        """The underlying pyserial port."""
        return self._link.io.port

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> AtChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the port. Later commands raise :class:`~xsudo.errors.DeviceDisconnected`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._link.io.close()

    def urcs(self) -> list[bytes]:
        """Return and forget the queued URCs, oldest first."""
        return _drain(self._link.urcs)

    def logs(self) -> list[bytes]:
        """Return and forget the queued device log lines, oldest first."""
        return _drain(self._link.logs)

    def strays(self) -> list[bytes]:
        """Return and forget lines that belonged to nothing (garbage, late responses)."""
        return _drain(self._link.strays)

    def command(
        self,
        cmd: AtCommand | bytes | str,
        *,
        timeout: float | None = None,
        check: bool = True,
        name: str | None = None,
    ) -> AtResponse:
        """Send one command and return its response (see the module contract).

        ``cmd`` is an :class:`~xsudo.command.AtCommand` or a whole line such as
        ``b"AT+CFUN?"`` (``AT`` included, no terminator); a prepared ``%XSUDO`` line is sent
        byte for byte. ``name`` overrides the command name used to decode error codes.
        With ``check`` false an error result is returned instead of raised.
        """
        line, derived = _command_line(cmd)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            self._ensure_usable()
            try:
                return self._command_locked(line, name or derived, deadline, check)
            except DeviceDisconnected as exc:
                self._broken = exc
                raise
            except (DeviceTimeout, DeviceReset, FramingOverflow):
                self._link.sync.interrupted(line)
                raise

    def resync(self, *, timeout: float | None = None) -> None:
        """Send a sync probe now and discard everything before its answer."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            self._ensure_usable()
            try:
                self._resync(self._ensure_framing(deadline), deadline)
            except DeviceDisconnected as exc:
                self._broken = exc
                raise

    def _ensure_usable(self) -> None:
        if self._closed:
            raise DeviceDisconnected(
                f"the channel to {self.port_name} is closed", "open the port again"
            )
        if self._broken is not None:
            raise self._broken

    def _command_locked(
        self, line: bytes, name: str | None, deadline: float, check: bool
    ) -> AtResponse:
        link = self._link
        link.set_aside_idle()
        if link.sync.reset_pending:
            link.sync.report_reset()
            raise DeviceReset(
                f"the device on {self.port_name} restarted since the previous command "
                "(a boot banner arrived); the command was not sent",
                "settings such as AT+CFUN and AT+CMEE are back to their defaults; "
                "retry the operation",
            )
        framing = self._ensure_framing(deadline)
        wire = framing.wire(line)
        if link.sync.dirty:
            answer = self._resync(framing, deadline)
            if answer is not None and answer.command == line:
                link.sync.sent_any = True
                return answer.response()  # the sync probe was this very command
        return run_exchange(link, framing, line, wire, name=name, deadline=deadline, check=check)

    def _ensure_framing(self, deadline: float) -> Framing:
        """The framing in use, detected first (for ``auto``) and then resynced before the
        next command, so a late answer to a repeated probe cannot reach a command."""
        framing = self._link.framing
        if framing is None:
            framing = detect(
                self._link,
                shell_buffer=self.shell_buffer,
                deadline=min(deadline, time.monotonic() + DETECT_TIMEOUT),
                interval=PROBE_INTERVAL,
            )
            self._link.sync.dirty = True
            self._link.sync.detected = True
        return framing

    def _resync(self, framing: Framing, deadline: float) -> ProbeAnswer | None:
        return resync(self._link, framing, deadline, interval=PROBE_INTERVAL, quiet=QUIET_WINDOW)


def _command_line(cmd: AtCommand | bytes | str) -> tuple[bytes, str | None]:
    """The validated line for ``cmd`` and the command name known from it (if any)."""
    if isinstance(cmd, AtCommand):
        return cmd.line(), cmd.name.upper()
    line = check_command_text(cmd)
    if line[:2].upper() != b"AT":
        raise CommandTextError(
            f"command {_show(line[:20])} does not start with AT",
            "give the whole line, e.g. AT+CFUN?",
        )
    check_line_length(line)
    return line, None


def _show(data: bytes) -> str:
    return show(data)


def _drain(queue: deque[bytes]) -> list[bytes]:
    """Take items one by one, so an item appended meanwhile by a command is not lost."""
    items: list[bytes] = []
    while True:
        try:
            items.append(queue.popleft())
        except IndexError:
            return items
