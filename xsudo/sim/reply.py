"""What a command handler answers, before CMEE and line ends turn it into bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from xsudo.sim.codes import Cme

PLAIN_ERROR = -1
"""``Reply.error`` value for a bare ``ERROR`` whatever CMEE says (unknown command, syntax)."""


@dataclass(frozen=True)
class Reply:
    """Information lines, then one final result: ``OK`` (``error is None``), a bare ``ERROR``
    (:data:`PLAIN_ERROR`) or ``ERR(n)`` (``+CME ERROR: n`` with CMEE on, else ``ERROR``)."""

    lines: tuple[bytes, ...] = ()
    error: int | None = None


def ok(*lines: bytes) -> Reply:
    return Reply(lines=lines)


def cme(code: Cme) -> Reply:
    """``ERR(code)``: a named code (:class:`~xsudo.sim.codes.Cme`), never a bare number."""
    return Reply(error=code)


ERROR = Reply(error=PLAIN_ERROR)
OK = Reply()


class _PowerState(Protocol):
    pofwarn_active: bool
    lte_active: bool


def power_gate(state: _PowerState) -> Reply | None:
    """Whether the modem may change its NVM now (writes, deletes, ``%XPMNG``, ``%KEYGEN``):
    an active power-off warning refuses with 528 (rule S25), an active radio with 518;
    ``None`` when it may."""
    if state.pofwarn_active:
        return cme(Cme.POWER_OFF_WARNING)
    if state.lte_active:
        return cme(Cme.ACTIVE_STATE)
    return None
