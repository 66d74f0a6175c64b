"""The simulated nRF91 modem: a pure state machine, ``handle(command) -> response bytes``.

Implements the rules of docs/design/simulator.md (S1-S27a, S32-S37). No threads,
no sleeps, no I/O: persistence goes through the ``on_change`` callback, timing and framing
of a byte stream live in the transports around it (:mod:`xsudo.sim.board`,
:mod:`xsudo.sim.framing`, the servers and the ``sim://`` handler).

Command handlers live in ``cmd_*`` modules; each takes ``(modem, form, args)`` and
returns a :class:`~xsudo.sim.reply.Reply`. They see the modem through
:class:`~xsudo.sim.handlers.ModemView` and import :mod:`xsudo.sim.handlers`, not this
module, so the imports run one way: this module imports the ``cmd_*`` modules.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.sim import cmd_basic, cmd_certexpiry, cmd_cmng, cmd_tokens, cmd_xsudo
from xsudo.sim.codes import Cme
from xsudo.sim.handlers import Form, Handler, HandlerTable, ModemView
from xsudo.sim.options import EOLS, SimOptions
from xsudo.sim.reply import ERROR, OK, PLAIN_ERROR, Reply, cme
from xsudo.sim.seeds import public_pem
from xsudo.sim.state import Nvm, Volatile
from xsudo.sim.tokens import device_uuid

__all__ = [
    "HANDLERS",
    "LEADING_WHITESPACE",
    "POFWARN_URC",
    "RESET_BANNER",
    "Form",
    "Handler",
    "Modem",
    "ModemView",
    "Volatile",
]

RESET_BANNER = b"*** Booting nRF Connect SDK v2.9.0 ***\r\nThe AT host sample started\r\n"
"""What the board prints when it (re)boots: the Zephyr boot banner, then at_client's line."""

POFWARN_URC = b"+CGEV: ME BATTERY LOW"
LEADING_WHITESPACE = b" \r\n"
_COMMAND = re.compile(rb"([+%][A-Za-z0-9]+)(.*)", re.DOTALL)

HANDLERS: HandlerTable = {
    **cmd_basic.HANDLERS,
    **cmd_cmng.HANDLERS,
    **cmd_certexpiry.HANDLERS,
    **cmd_xsudo.HANDLERS,
    **cmd_tokens.HANDLERS,
}


class Modem:
    """One simulated modem.

    ``nvm`` is the board's non-volatile memory (a factory-new one when omitted);
    ``on_change(nvm)`` is called after every change to it, so a caller can persist it.
    ``random_bytes`` supplies nonces (tests may pin it).
    """

    def __init__(
        self,
        options: SimOptions | None = None,
        nvm: Nvm | None = None,
        on_change: Callable[[Nvm], None] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.options = options or SimOptions()
        self.nvm = nvm if nvm is not None else Nvm.fresh(seed_reserved=self.options.seed_reserved)
        self.volatile = Volatile()
        self.random_bytes = random_bytes
        self._on_change = on_change
        self._eol = EOLS[self.options.response_eol]

    # -- identity ---------------------------------------------------------------------------

    @property
    def identity_key(self) -> ec.EllipticCurvePrivateKey:
        return self.nvm.identity_key

    @property
    def identity_public_key(self) -> ec.EllipticCurvePublicKey:
        """The device identity public key: it verifies every token's COSE_Sign1."""
        return self.nvm.identity_key.public_key()

    def identity_public_pem(self) -> bytes:
        return public_pem(self.identity_public_key)

    @property
    def device_uuid(self) -> uuid.UUID:
        der = self.identity_public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return device_uuid(der)

    @property
    def modem_uuid(self) -> uuid.UUID:
        """The firmware build UUID (``%XMODEMUUID``), fixed per mfw string."""
        return uuid.uuid5(uuid.NAMESPACE_URL, "xsudo-sim:" + self.options.effective_mfw)

    # -- the state machine -------------------------------------------------------------------

    def handle(self, command: bytes) -> bytes:
        """Answer one framed command (terminator removed or not) with the exact bytes the
        modem writes back. An empty command (whitespace only) gets no answer (``b""``)."""
        text = command.lstrip(LEADING_WHITESPACE).rstrip(b"\r\n")
        if not text:
            return b""
        if len(text) > self.options.traits.max_line or text[:2].upper() != b"AT":
            return self.render(ERROR)
        return self.render(self.execute(text, authenticated=False))

    def execute(self, line: bytes, *, authenticated: bool) -> Reply:
        """Run ``line`` (``AT...``, already framed). ``authenticated`` is True inside a
        verified ``%XSUDO``: restricted commands (rule S24) are allowed then."""
        body = line[2:]
        if not body:
            return OK
        match = _COMMAND.fullmatch(body)
        if match is None:
            return ERROR
        name, rest = match.group(1).upper(), match.group(2)
        handler = HANDLERS.get(name)
        if handler is None:
            return ERROR
        form, args = _form(rest)
        if form is None:
            return ERROR
        if not authenticated and self._restricted(name, form, args):
            return cme(Cme.NO_ACCESS)
        return handler(self, form, args)

    def render(self, reply: Reply) -> bytes:
        """Bytes of ``reply`` under the current CMEE setting and line end."""
        out = b"".join(line + self._eol for line in reply.lines)
        if reply.error is None:
            final = b"OK"
        elif reply.error == PLAIN_ERROR or self.volatile.cmee == 0:
            final = b"ERROR"
        else:
            final = b"+CME ERROR: %d" % reply.error
        return out + final + self._eol

    # -- hooks for transports and tests --------------------------------------------------------

    def trigger_pofwarn(self) -> bytes:
        """Rule S25 test hook: the supply dropped. Returns the URC bytes to send."""
        self.volatile.pofwarn_active = True
        self.volatile.lte_active = False
        if self.volatile.cfun in (1, 2):
            self.volatile.cfun = 4
        return POFWARN_URC + self._eol

    def reboot(self) -> bytes:
        """Reset volatile state (NVM stays) and return the boot banner."""
        self.volatile = Volatile()
        return RESET_BANNER

    # -- helpers for command handlers ------------------------------------------------------------

    def param_error(self) -> Reply:
        """Rule S11: ``ERR(50)``, or a bare ``ERROR`` when so configured."""
        return ERROR if self.options.traits.plain_param_errors else cme(Cme.INCORRECT_PARAMETERS)

    def nvm_changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.nvm)

    def _restricted(self, name: bytes, form: Form, args: bytes) -> bool:
        first = args.split(b",", 1)[0].strip() if form == "set" else b""
        for entry in self.options.traits.restricted:
            entry_name, sep, op = entry.encode("ascii").upper().partition(b"=")
            if entry_name == name and (not sep or (form == "set" and first == op)):
                return True
        return False


def _form(rest: bytes) -> tuple[Form | None, bytes]:
    if rest == b"":
        return "exec", b""
    if rest == b"?":
        return "read", b""
    if rest == b"=?":
        return "test", b""
    if rest.startswith(b"="):
        return "set", rest[1:]
    return None, b""
