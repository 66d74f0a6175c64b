"""What a command handler answers, before CMEE and line ends turn it into bytes."""

from __future__ import annotations

from dataclasses import dataclass

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
