"""Resync: bring a channel back in step with its device after a timeout, reset or overflow.

Contract of :func:`resync`:

* Sends a read-only sync probe (:data:`SYNC_PROBES`: ``AT+CMEE?`` or ``AT+CFUN?``,
  alternating, never the stale command itself, see :func:`next_probe`) over an
  :class:`~xsudo.at.link.AtLink` whose framing is known, repeated every ``interval`` seconds
  in case one is dropped, and sets aside everything up to the latest probe's own prefixed
  line (``+CMEE:``) and final result code. A late ``OK`` of the timed-out command therefore
  never completes the next command.
* Successive probes differ, so a delayed answer to an earlier probe is not taken for the
  latest one's.
* Then it drains until the line is quiet for ``quiet`` seconds, when something may still
  follow the answer it took: a later probe's answer (more than one probe was sent), or the
  probe's own answer behind a same-named stale one (the stale command is unknown: a channel
  just opened without auto-detection). It does not drain when one probe was sent and the
  stale command is known (:attr:`~xsudo.at.link.SyncState.stale_name`) or was absorbed by
  auto-detection (whose verdict is the first final result code to arrive, a stale one if
  any): the device answers in order, so the old conversation's answers all came before.
* When one probe was sent and it answered ``OK``, its answer is returned as a
  :class:`ProbeAnswer` (a stale same-named answer reads the same setting: nothing was sent
  between). The channel uses it as the answer to the same read command when that is the
  next command (``AT+CMEE?`` at open: one exchange is both the sync and the read).
* Once in step the link's :class:`~xsudo.at.link.SyncState` is clean. A boot banner seen
  meanwhile is then raised as :class:`~xsudo.errors.DeviceReset` (the command that was to
  follow is not sent). No answer by ``deadline`` raises :class:`~xsudo.errors.DeviceTimeout`
  (worded for a shell line refused by a raw AT interface when that is what happened); a
  shell failure line raises the framing's error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from xsudo.command import AtCommand
from xsudo.errors import DeviceReset, DeviceTimeout, Remedy

from .cmdtype import Echo, Framing
from .link import AtLink, SyncState
from .results import AtResponse, FinalResult, parse_final

PROBE_INTERVAL = 1.0
"""Seconds between sync probes while resyncing (at_host may drop a probe sent while the
modem is still busy with the stale command)."""

SYNC_PROBES = (AtCommand.read("+CMEE"), AtCommand.read("+CFUN"))
"""Read-only commands every nRF91 answers with a prefixed line (``+CMEE: n``, ``+CFUN: n``)."""

QUIET_WINDOW = 0.05
"""Seconds without a byte that count as quiet after a sync probe answered."""


@dataclass(frozen=True)
class ProbeAnswer:
    """The answer to the one sync probe of a resync: its prefixed line and final result."""

    command: bytes
    line: bytes
    final: FinalResult

    def response(self) -> AtResponse:
        """The probe's answer as the response to the same command."""
        return AtResponse(self.command, [self.line], self.final.text, result=self.final)


def next_probe(state: SyncState) -> AtCommand:
    """The next sync probe: alternate between the probes, never the stale command's."""
    while True:
        probe = SYNC_PROBES[state.probe_count % len(SYNC_PROBES)]
        state.probe_count += 1
        if probe.name != state.stale_name:
            return probe


def resync(
    link: AtLink, framing: Framing, deadline: float, *, interval: float, quiet: float
) -> ProbeAnswer | None:
    """Probe until the latest probe's own answer arrives; set aside everything before.

    Returns the probe's answer when exactly one probe was sent and it answered ``OK`` (see
    the module contract), else ``None``."""
    probe_line = b""
    marker = b""
    marker_line = b""
    echo: Echo = framing.echo(b"")
    seen_marker = False
    refused = False
    sent = 0
    next_at = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise _sync_timeout(link.port_name, framing, probe_line, refused)
        if now >= next_at and not seen_marker:
            probe = next_probe(link.sync)
            probe_line, marker = probe.line(), probe.name.encode("ascii") + b":"
            wire = framing.wire(probe_line)
            echo = framing.echo(wire)
            link.send(wire, deadline)
            sent += 1
            next_at = now + interval
        lines = link.lines()
        for index, raw in enumerate(lines):
            line = link.clean(raw)
            if not line or echo.take(line):
                continue
            failure = framing.failure(line, link.port_name)
            if failure is not None:
                link.set_aside(lines[index + 1 :])
                raise failure
            if line.upper().startswith(marker):
                seen_marker, marker_line = True, line
                continue
            final = parse_final(line)
            if seen_marker and final is not None:
                link.set_aside(lines[index + 1 :])
                if sent > 1 or not (link.sync.stale_name or link.sync.detected):
                    _drain_quiet(link, deadline, quiet)
                _back_in_step(link)
                if sent == 1 and final.ok:
                    return ProbeAnswer(probe_line, marker_line, final)
                return None
            refused = refused or (final is not None and not final.ok)
            link.set_aside([line])
        data = link.read(min(deadline, next_at) if not seen_marker else deadline)
        if data:
            link.feed(data)


def _drain_quiet(link: AtLink, deadline: float, quiet: float) -> None:
    """Read until nothing arrives for ``quiet`` seconds (or ``deadline``); set it aside."""
    while True:
        data = link.read(min(deadline, time.monotonic() + quiet))
        if not data:
            break
        link.feed(data)
        link.set_aside(link.lines())


def _back_in_step(link: AtLink) -> None:
    if link.sync.in_step():
        raise DeviceReset(
            f"the device on {link.port_name} restarted after an interrupted command "
            "(a boot banner arrived); the next command was not sent",
            "settings such as AT+CFUN and AT+CMEE are back to their defaults; retry the operation",
        )


def _sync_timeout(
    port_name: str, framing: Framing, probe_line: bytes, refused: bool
) -> DeviceTimeout:
    shown = probe_line.decode("ascii")
    if refused and framing.name == "shell":
        return DeviceTimeout(
            f"the device on {port_name} answered ERROR to the shell line "
            f"at '{shown}': it looks like a raw AT interface (at_client, serial_modem)",
            "use cmd_type 'at' (or 'auto')",
            remedy=Remedy("set-cmd-type", {"cmd_type": "at"}),
        )
    return DeviceTimeout(
        f"the device on {port_name} did not answer a sync probe ({shown})",
        "check that the device is running and the port is its AT interface "
        "(and cmd_type: shell firmware takes 'at <command>', at_client raw AT)",
        remedy=Remedy("check-at-port"),
    )
