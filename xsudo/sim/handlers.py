"""What a command handler is, and the part of the modem it may use.

Each ``cmd_*`` module maps command names to handlers: ``handler(modem, form, args)``
answers one command with a :class:`~xsudo.sim.reply.Reply`. Handlers see the modem through
:class:`ModemView`, the few attributes and methods they need, so the ``cmd_*`` modules
import this module and never :mod:`xsudo.sim.modem`; :mod:`xsudo.sim.modem` imports the
``cmd_*`` modules, and its :class:`~xsudo.sim.modem.Modem` is a :class:`ModemView`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.sim.options import SimOptions
from xsudo.sim.reply import Reply
from xsudo.sim.state import Nvm, Volatile

Form = Literal["exec", "read", "test", "set"]
"""``AT+X`` (exec), ``AT+X?`` (read), ``AT+X=?`` (test), ``AT+X=...`` (set)."""


class ModemView(Protocol):
    """What a handler may use of the modem."""

    @property
    def options(self) -> SimOptions: ...

    @property
    def nvm(self) -> Nvm:
        """Non-volatile memory; call :meth:`nvm_changed` after changing it."""
        ...

    @property
    def volatile(self) -> Volatile:
        """State a reboot resets (CMEE, CFUN, LTE, power-off warning)."""
        ...

    @property
    def identity_key(self) -> ec.EllipticCurvePrivateKey: ...

    @property
    def device_uuid(self) -> uuid.UUID: ...

    @property
    def modem_uuid(self) -> uuid.UUID: ...

    def random_bytes(self, count: int, /) -> bytes:
        """``count`` random bytes (nonces; tests may pin them)."""
        ...

    def param_error(self) -> Reply:
        """Rule S11: ``ERR(50)``, or a bare ``ERROR`` when so configured."""
        ...

    def nvm_changed(self) -> None:
        """Tell the modem :attr:`nvm` changed (so it can be persisted)."""
        ...

    def execute(self, line: bytes, *, authenticated: bool) -> Reply:
        """Run the framed command ``line`` (``AT...``); ``authenticated`` inside ``%XSUDO``."""
        ...


Handler = Callable[[ModemView, Form, bytes], Reply]
"""``handler(modem, form, args)``: ``args`` is what follows ``=`` for the set form, else
``b""``."""

HandlerTable = dict[bytes, Handler]
"""Upper-case command name (``b"%CMNG"``) to its handler."""
