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
  life of the channel (:mod:`xsudo.at.cmdtype`). Responses read the same in both modes.
* **Resync.** After a timeout, reset or overflow the channel is *dirty*: before the next
  command it sends a read-only sync probe (``AT+CMEE?`` or ``AT+CFUN?``, alternating, never
  the stale command itself), repeated every :data:`PROBE_INTERVAL` seconds in case one is
  dropped, and discards everything up to the latest probe's own prefixed line (``+CMEE:``)
  and final result code, then drains until the line is quiet. A late ``OK`` of the
  timed-out command therefore never completes the next command.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypedDict

import serial

from xsudo.command import AtCommand, check_command_text, check_line_length, command_name
from xsudo.errors import (
    BadInputError,
    CommandTextError,
    DeviceDisconnected,
    DeviceReset,
    DeviceTimeout,
)

from .cmdtype import (
    DETECT_PROBE,
    CmdType,
    Echo,
    Framing,
    framing_for,
    probe_verdict,
    resolve_cmd_type,
)
from .framing import MAX_RESPONSE_BYTES, FramingOverflow, LineSplitter
from .parse import show
from .results import (
    AtResponse,
    FinalResult,
    LineKind,
    classify,
    clean_line,
    expected_prefixes,
    is_garbage,
    malformed_final_error,
    modem_error,
    parse_final,
)
from .shell import DEFAULT_SHELL_BUFFER, ShellFraming, is_prompt
from .transport import DEFAULT_BAUD, PortIO, open_port

DEFAULT_TIMEOUT = 10.0
"""Seconds a command may take, from validation to its final result code."""

DEFAULT_TERMINATOR = b"\r\n"
"""CRLF ends every command. sdk-nrf at_host accepts it in each termination mode that ends
with CR or LF: in CR mode (its default) the LF becomes leading whitespace of the next
command, which the modem ignores; in CR+LF mode the line is sent on the LF; in LF mode the
CR is trailing whitespace. A CR alone would hang CR+LF mode. nrfcredstore and nRFCloud/utils
send CRLF too."""

TERMINATORS = (b"\r\n", b"\r", b"\n")

PROBE_INTERVAL = 1.0
"""Seconds between sync probes while resyncing (at_host may drop a probe sent while the
modem is still busy with the stale command)."""

SYNC_PROBES = (AtCommand.read("+CMEE"), AtCommand.read("+CFUN"))
"""Read-only commands every nRF91 answers with a prefixed line (``+CMEE: n``, ``+CFUN: n``)."""

QUIET_WINDOW = 0.05
"""Seconds without a byte that count as quiet after a sync probe answered."""

QUEUE_LIMIT = 1000
"""Most URCs, log lines and stray lines kept; the oldest are dropped past this."""

DETECT_TIMEOUT = 3.0
"""Longest auto-detection (at most; a responsive board answers in milliseconds). The probe
is repeated every :data:`PROBE_INTERVAL` in case at_host dropped it."""


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


@dataclass
class _Exchange:
    line: bytes
    name: str | None
    expected: tuple[bytes, ...]
    echo: Echo
    info: list[bytes] = field(default_factory=list)
    urcs: list[bytes] = field(default_factory=list)
    received: int = 0


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
        self._framing: Framing | None = None if kind == "auto" else framing_for(kind, shell_buffer)
        self._io = PortIO(serial_port)
        self.timeout = timeout
        self.terminator = terminator
        self._lock = threading.Lock()
        self._splitter = LineSplitter()
        self._urcs: deque[bytes] = deque(maxlen=QUEUE_LIMIT)
        self._logs: deque[bytes] = deque(maxlen=QUEUE_LIMIT)
        self._strays: deque[bytes] = deque(maxlen=QUEUE_LIMIT)
        self._dirty = False
        self._stale_name = ""
        self._probe_count = 0
        self._sent_any = False
        self._reset_pending = False
        self._reset_reported = False
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
        channel._dirty = sync
        return channel

    @property
    def cmd_type(self) -> CmdType | None:
        """``"at"`` or ``"shell"``; ``None`` while ``auto`` has not yet detected it."""
        if self._framing is None:
            return None
        return "shell" if self._framing.name == "shell" else "at"

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
    def port_name(self) -> str:
        """The port's path or URL."""
        return self._io.name

    @property
    def serial_port(self) -> serial.SerialBase:
        """The underlying pyserial port."""
        return self._io.port

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
                self._io.close()

    def urcs(self) -> list[bytes]:
        """Return and forget the queued URCs, oldest first."""
        return _drain(self._urcs)

    def logs(self) -> list[bytes]:
        """Return and forget the queued device log lines, oldest first."""
        return _drain(self._logs)

    def strays(self) -> list[bytes]:
        """Return and forget lines that belonged to nothing (garbage, late responses)."""
        return _drain(self._strays)

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
                if not self._dirty:  # the command itself was in flight (not only a probe)
                    self._stale_name = command_name(line)
                self._dirty = True
                raise

    def resync(self, *, timeout: float | None = None) -> None:
        """Send a sync probe now and discard everything before its answer."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._lock:
            self._ensure_usable()
            try:
                self._resync(deadline)
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
        self._absorb_idle()
        if self._reset_pending:
            self._reset_pending = False
            self._reset_reported = True
            raise DeviceReset(
                f"the device on {self.port_name} restarted since the previous command "
                "(a boot banner arrived); the command was not sent",
                "settings such as AT+CFUN and AT+CMEE are back to their defaults; "
                "retry the operation",
            )
        framing = self._ensure_framing(deadline)
        wire = framing.wire(line)
        if self._dirty:
            self._resync(deadline)
        self._io.write(wire + self.terminator, deadline)
        self._sent_any = True
        exchange = _Exchange(line, name, expected_prefixes(line), framing.echo(wire))
        return self._await_final(exchange, deadline, check)

    def _ensure_framing(self, deadline: float) -> Framing:
        if self._framing is None:
            self._framing = self._detect(min(deadline, time.monotonic() + DETECT_TIMEOUT))
            self._dirty = True  # a late answer to a repeated probe must not reach a command
        return self._framing

    def _detect(self, deadline: float) -> Framing:
        """Send :data:`DETECT_PROBE` (again every :data:`PROBE_INTERVAL`) until an answer
        tells AT mode from shell mode (:func:`~xsudo.at.cmdtype.probe_verdict`)."""
        shell = ShellFraming(self.shell_buffer)
        garbage = False
        next_probe = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise self._no_answer(garbage)
            if now >= next_probe:
                self._io.write(DETECT_PROBE + self.terminator, deadline)
                next_probe = now + PROBE_INTERVAL
            lines = self._splitter.pop_lines()
            for index, raw in enumerate(lines):
                line = clean_line(raw)
                if line == DETECT_PROBE:  # its echo
                    continue
                verdict = probe_verdict(line)
                if verdict is not None:
                    return self._detected(
                        shell if verdict == "shell" else framing_for("at"), lines[index + 1 :]
                    )
                garbage = garbage or is_garbage(raw)
                self._absorb_lines([raw])
            if is_prompt(clean_line(self._splitter.partial)):
                return self._detected(shell, [])
            data = self._io.read_some(min(deadline, next_probe))
            if data:
                self._splitter.feed(shell.filter(data))

    def _detected(self, framing: Framing, rest: list[bytes]) -> Framing:
        """Adopt ``framing``; the lines that came with the verdict are kept aside."""
        self._framing = framing
        self._absorb_lines(rest)
        return framing

    def _no_answer(self, garbage: bool) -> DeviceTimeout:
        if garbage:
            return DeviceTimeout(
                f"the device on {self.port_name} answered AT with unreadable bytes",
                "the baud rate is probably wrong (nRF91 samples use 115200; see --baud)",
            )
        return DeviceTimeout(
            f"no answer to AT from {self.port_name}",
            "check that this is the modem's AT port (xsudo ports) and that its firmware "
            "takes AT commands: at_client (AT host) and serial_modem (SLM) answer raw AT "
            "(--cmd-type at), shell-based firmware with CONFIG_AT_SHELL takes 'at <command>' "
            "(--cmd-type shell); also check --baud",
        )

    def _await_final(self, exchange: _Exchange, deadline: float, check: bool) -> AtResponse:
        while True:
            lines = self._splitter.pop_lines()
            for index, raw in enumerate(lines):
                line = self._clean(raw)
                final = self._take_line(exchange, line, lines[index + 1 :])
                if final is not None:
                    self._absorb_lines(lines[index + 1 :])
                    return self._finish(exchange, final, check)
            data = self._io.read_some(deadline)
            if not data:
                if time.monotonic() >= deadline:
                    raise self._timeout(exchange.line)
                continue
            exchange.received += len(data)
            if exchange.received > MAX_RESPONSE_BYTES:
                self._splitter.reset()
                raise FramingOverflow(
                    f"the response to {command_name(exchange.line)} exceeded "
                    f"{MAX_RESPONSE_BYTES} bytes without a final result code",
                    "check that the port is the modem's AT interface",
                )
            self._feed(data)

    def _take_line(self, exchange: _Exchange, line: bytes, rest: list[bytes]) -> FinalResult | None:
        """Handle one line of a response; ``rest`` are the lines after it in this batch."""
        if not line:
            return None
        if exchange.echo.take(line):
            return None
        failure = self._framing.failure(line, self.port_name) if self._framing else None
        if failure is not None:
            self._absorb_lines(rest)
            raise failure
        kind = classify(line, exchange.expected)
        if kind is LineKind.FINAL:
            return parse_final(line)
        if kind is LineKind.BANNER:
            self._logs.append(line)
            self._absorb_lines(rest)
            self._reset_pending = False
            self._reset_reported = True
            raise DeviceReset(
                f"the device on {self.port_name} restarted while "
                f"{command_name(exchange.line)} was in flight ({_show(line)})",
                "its outcome is unknown: check the device state, then retry",
            )
        if kind is LineKind.URC:
            exchange.urcs.append(line)
        self._keep(kind, line, exchange.info)
        return None

    def _clean(self, raw: bytes) -> bytes:
        """The line without leading noise; a line of pure noise is kept as a stray."""
        line = clean_line(raw)
        if not line and raw.strip():
            self._strays.append(raw)
        if line and self._framing is not None:
            line = self._framing.clean(line)
        return line

    def _keep(self, kind: LineKind, line: bytes, info: list[bytes] | None) -> None:
        if kind is LineKind.URC:
            self._urcs.append(line)
        elif kind in (LineKind.LOG, LineKind.BANNER):
            self._logs.append(line)
        elif kind is LineKind.INFO and info is not None:
            info.append(line)
        else:
            self._strays.append(line)

    def _finish(self, exchange: _Exchange, final: FinalResult, check: bool) -> AtResponse:
        response = AtResponse(
            command=exchange.line,
            lines=exchange.info,
            final=final.text,
            urcs=exchange.urcs,
            result=final,
        )
        if final.malformed:
            raise malformed_final_error(exchange.line, final)
        if check and not final.ok:
            raise modem_error(exchange.line, final, exchange.name)
        return response

    def _absorb_idle(self) -> None:
        """Take in what arrived between commands (see :meth:`_absorb_lines`)."""
        data = self._io.read_available()
        if data:
            self._feed(data)
        self._absorb_lines(self._splitter.pop_lines())

    def _feed(self, data: bytes) -> None:
        """Received bytes into the line splitter (through the framing's filter)."""
        if self._framing is not None:
            data = self._framing.filter(data)
        self._splitter.feed(data)

    def _absorb_lines(self, lines: list[bytes]) -> None:
        """Keep lines that belong to no command: URCs queued, logs kept, the rest strays.

        A boot banner after this channel's first command marks a reset to report, unless a
        reset was just reported and the channel has not resynced since (same boot).
        """
        for raw in lines:
            line = self._clean(raw)
            if not line:
                continue
            kind = classify(line, ())
            if kind is LineKind.BANNER and self._sent_any and not self._reset_reported:
                self._reset_pending = True
                self._dirty = True
            self._keep(kind, line, None)

    def _next_probe(self) -> AtCommand:
        """The next sync probe: alternate between the probes, never the stale command's."""
        while True:
            probe = SYNC_PROBES[self._probe_count % len(SYNC_PROBES)]
            self._probe_count += 1
            if probe.name != self._stale_name:
                return probe

    def _resync(self, deadline: float) -> None:
        """Probe until the latest probe's own answer arrives; keep aside everything before.

        Successive probes alternate (``AT+CMEE?``, ``AT+CFUN?``) so that a delayed answer to
        an earlier probe is not taken for the latest one's. A boot banner seen meanwhile is
        reported as :class:`DeviceReset` once the channel is back in step (the command that
        was to follow is not sent).
        """
        framing = self._ensure_framing(deadline)
        probe_line = b""
        marker = b""
        echo: Echo = framing.echo(b"")
        seen_marker = False
        refused = False
        next_probe = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise self._sync_timeout(framing, probe_line, refused)
            if now >= next_probe and not seen_marker:
                probe = self._next_probe()
                probe_line, marker = probe.line(), probe.name.encode("ascii") + b":"
                wire = framing.wire(probe_line)
                echo = framing.echo(wire)
                self._io.write(wire + self.terminator, deadline)
                next_probe = now + PROBE_INTERVAL
            lines = self._splitter.pop_lines()
            for index, raw in enumerate(lines):
                line = self._clean(raw)
                if not line or echo.take(line):
                    continue
                failure = framing.failure(line, self.port_name)
                if failure is not None:
                    self._absorb_lines(lines[index + 1 :])
                    raise failure
                if line.upper().startswith(marker):
                    seen_marker = True
                    continue
                final = parse_final(line)
                if seen_marker and final is not None:
                    self._absorb_lines(lines[index + 1 :])
                    self._drain_quiet(deadline)
                    self._back_in_step()
                    return
                refused = refused or (final is not None and not final.ok)
                self._absorb_lines([line])
            data = self._io.read_some(min(deadline, next_probe) if not seen_marker else deadline)
            if data:
                self._feed(data)

    def _sync_timeout(self, framing: Framing, probe_line: bytes, refused: bool) -> DeviceTimeout:
        shown = probe_line.decode("ascii")
        if refused and framing.name == "shell":
            return DeviceTimeout(
                f"the device on {self.port_name} answered ERROR to the shell line "
                f"at '{shown}': it looks like a raw AT interface (at_client, serial_modem)",
                "use --cmd-type at (or auto)",
            )
        return DeviceTimeout(
            f"the device on {self.port_name} did not answer a sync probe ({shown})",
            "check that the device is running and the port is its AT interface "
            "(and --cmd-type: shell firmware takes 'at <command>', at_client raw AT)",
        )

    def _back_in_step(self) -> None:
        self._dirty = False
        self._stale_name = ""
        self._reset_reported = self._reset_pending
        if self._reset_pending:
            self._reset_pending = False
            raise DeviceReset(
                f"the device on {self.port_name} restarted after an interrupted command "
                "(a boot banner arrived); the next command was not sent",
                "settings such as AT+CFUN and AT+CMEE are back to their defaults; "
                "retry the operation",
            )

    def _drain_quiet(self, deadline: float) -> None:
        """Read until nothing arrives for :data:`QUIET_WINDOW` (or ``deadline``); keep aside."""
        while True:
            data = self._io.read_some(min(deadline, time.monotonic() + QUIET_WINDOW))
            if not data:
                break
            self._feed(data)
            self._absorb_lines(self._splitter.pop_lines())

    def _timeout(self, line: bytes) -> DeviceTimeout:
        return DeviceTimeout(
            f"no final result code for {command_name(line)} from {self.port_name} in time",
            "check that the port is the modem's AT interface (AT host or Serial Modem "
            "firmware answer raw AT; AT shell firmware needs --cmd-type shell) and the baud "
            "rate; give a longer timeout for large writes",
        )


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
