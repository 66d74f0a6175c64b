"""Auto-detection of the command type: does the device take raw AT lines or the Zephyr
shell's ``at`` command?

Contract of :func:`detect`:

* Sends :data:`~xsudo.at.cmdtype.DETECT_PROBE` (``AT``) over an :class:`~xsudo.at.link.AtLink`
  whose framing is not yet known, again every ``interval`` seconds in case at_host dropped it,
  until a line tells the modes apart (:func:`~xsudo.at.cmdtype.probe_verdict`) or a shell
  prompt waits at the end of the input. Received bytes go through the shell's filter, which
  leaves raw AT output as it is.
* On a verdict the link's framing is set, the lines that came after the verdict are set
  aside, and the framing is returned. Lines before it (other than the probe's echo) are set
  aside as they come.
* At ``deadline`` it raises :class:`~xsudo.errors.DeviceTimeout`: unreadable bytes point at
  the baud rate, silence at the port or firmware. A late answer to a repeated probe may still
  come: the caller resyncs before its first command.
"""

from __future__ import annotations

import time

from xsudo.errors import DeviceTimeout, Remedy

from .cmdtype import DETECT_PROBE, Framing, framing_for, probe_verdict
from .link import AtLink
from .results import clean_line, is_garbage
from .shell import ShellFraming, is_prompt

DETECT_TIMEOUT = 3.0
"""Longest auto-detection (at most; a responsive board answers in milliseconds). The probe
is repeated every :data:`~xsudo.at.resync.PROBE_INTERVAL` in case at_host dropped it."""


def detect(link: AtLink, *, shell_buffer: int, deadline: float, interval: float) -> Framing:
    """Probe until an answer tells AT mode from shell mode; set and return the framing."""
    shell = ShellFraming(shell_buffer)
    garbage = False
    next_probe = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise no_answer(link.port_name, garbage)
        if now >= next_probe:
            link.send(DETECT_PROBE, deadline)
            next_probe = now + interval
        lines = link.lines()
        for index, raw in enumerate(lines):
            line = clean_line(raw)
            if line == DETECT_PROBE:  # its echo
                continue
            verdict = probe_verdict(line)
            if verdict is not None:
                chosen = shell if verdict == "shell" else framing_for("at")
                return _adopt(link, chosen, lines[index + 1 :])
            garbage = garbage or is_garbage(raw)
            link.set_aside([raw])
        if is_prompt(clean_line(link.partial)):
            return _adopt(link, shell, [])
        data = link.read(min(deadline, next_probe))
        if data:
            link.feed(data, shell)


def _adopt(link: AtLink, framing: Framing, rest: list[bytes]) -> Framing:
    """Use ``framing`` from now on; the lines that came with the verdict are set aside."""
    link.framing = framing
    link.set_aside(rest)
    return framing


def no_answer(port_name: str, garbage: bool) -> DeviceTimeout:
    """The error for a device that gave no recognisable answer to the probe."""
    if garbage:
        return DeviceTimeout(
            f"the device on {port_name} answered AT with unreadable bytes: the baud rate is "
            "probably wrong",
            "give the right baud rate (nRF91 samples use 115200)",
            remedy=Remedy("set-baud"),
        )
    return DeviceTimeout(
        f"no answer to AT from {port_name}",
        "check that this is the modem's AT port and that its firmware takes AT commands: "
        "at_client (AT host) and serial_modem (SLM) answer raw AT (cmd_type 'at'), "
        "shell-based firmware with CONFIG_AT_SHELL takes 'at <command>' (cmd_type 'shell'); "
        "also check the baud rate",
        remedy=Remedy("check-at-port"),
    )
