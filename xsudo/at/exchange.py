"""One command's exchange: write its line, read until its final result code.

Contract of :func:`run_exchange`:

* Writes the command's wire bytes and the terminator over an :class:`~xsudo.at.link.AtLink`
  whose framing is known and whose device is in step, then reads until a final result code
  or ``deadline``. Lines are sorted as they come (:func:`~xsudo.at.results.classify`): the
  echo of the line is skipped; a known URC prefix that is not one of the command's own
  (:func:`~xsudo.at.results.expected_prefixes`) is queued on the link and listed on the
  response; logs go to the link's log queue, garbage to its strays; every other line is
  response content. Lines received after the final result code are set aside.
* Returns the :class:`~xsudo.at.results.AtResponse`. Raises the modem's error for an error
  result when ``check`` is true; :class:`~xsudo.at.parse.ResponseFormatError` for a
  malformed ``+CME ERROR``/``+CMS ERROR`` code whatever ``check`` says; the framing's error
  for a shell failure line; :class:`~xsudo.errors.DeviceReset` for a boot banner (the
  outcome is unknown); :class:`~xsudo.errors.DeviceTimeout` at ``deadline``;
  :class:`~xsudo.at.framing.FramingOverflow` past :data:`~xsudo.at.framing.MAX_RESPONSE_BYTES`.
  The caller marks the link dirty after any of the last three.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from xsudo.command import command_name
from xsudo.errors import DeviceReset, DeviceTimeout, Remedy

from .cmdtype import Echo, Framing
from .framing import MAX_RESPONSE_BYTES, FramingOverflow
from .link import AtLink
from .parse import show
from .results import (
    AtResponse,
    FinalResult,
    LineKind,
    classify,
    expected_prefixes,
    malformed_final_error,
    modem_error,
    parse_final,
)


@dataclass
class _Exchange:
    line: bytes
    name: str | None
    framing: Framing
    expected: tuple[bytes, ...]
    echo: Echo
    info: list[bytes] = field(default_factory=list)
    urcs: list[bytes] = field(default_factory=list)
    received: int = 0


def run_exchange(
    link: AtLink,
    framing: Framing,
    line: bytes,
    wire: bytes,
    *,
    name: str | None,
    deadline: float,
    check: bool,
) -> AtResponse:
    """Send ``wire`` (the framing's bytes for the AT ``line``) and return the response.

    ``name`` is the command name used to decode error codes (default: from ``line``).
    """
    link.send(wire, deadline)
    link.sync.sent_any = True
    current = _Exchange(line, name, framing, expected_prefixes(line), framing.echo(wire))
    while True:
        lines = link.lines()
        for index, raw in enumerate(lines):
            final = _take_line(link, current, link.clean(raw), lines[index + 1 :])
            if final is not None:
                link.set_aside(lines[index + 1 :])
                return _finish(current, final, check)
        data = link.read(deadline)
        if not data:
            if time.monotonic() >= deadline:
                raise _timeout(link.port_name, line)
            continue
        current.received += len(data)
        if current.received > MAX_RESPONSE_BYTES:
            link.discard_partial()
            raise FramingOverflow(
                f"the response to {command_name(line)} exceeded "
                f"{MAX_RESPONSE_BYTES} bytes without a final result code",
                "check that the port is the modem's AT interface",
            )
        link.feed(data)


def _take_line(
    link: AtLink, current: _Exchange, line: bytes, rest: list[bytes]
) -> FinalResult | None:
    """Handle one cleaned line of a response; ``rest`` are the raw lines after it."""
    if not line:
        return None
    if current.echo.take(line):
        return None
    failure = current.framing.failure(line, link.port_name)
    if failure is not None:
        link.set_aside(rest)
        raise failure
    kind = classify(line, current.expected)
    if kind is LineKind.FINAL:
        return parse_final(line)
    if kind is LineKind.BANNER:
        link.logs.append(line)
        link.set_aside(rest)
        link.sync.report_reset()
        raise DeviceReset(
            f"the device on {link.port_name} restarted while "
            f"{command_name(current.line)} was in flight ({show(line)})",
            "its outcome is unknown: check the device state, then retry",
        )
    if kind is LineKind.URC:
        current.urcs.append(line)
    link.keep(kind, line, current.info)
    return None


def _finish(current: _Exchange, final: FinalResult, check: bool) -> AtResponse:
    response = AtResponse(
        command=current.line,
        lines=current.info,
        final=final.text,
        urcs=current.urcs,
        result=final,
    )
    if final.malformed:
        raise malformed_final_error(current.line, final)
    if check and not final.ok:
        raise modem_error(current.line, final, current.name)
    return response


def _timeout(port_name: str, line: bytes) -> DeviceTimeout:
    return DeviceTimeout(
        f"no final result code for {command_name(line)} from {port_name} in time",
        "check that the port is the modem's AT interface (AT host or Serial Modem "
        "firmware answer raw AT; AT shell firmware needs cmd_type 'shell') and the baud "
        "rate; give a longer timeout for large writes",
        remedy=Remedy("check-at-port", {"timeout": 1}),
    )
