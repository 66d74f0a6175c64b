"""A hostile modem for the authentication tests: every answer that matters is scripted.

:class:`HostileModem` is a responder for :class:`tests.at.fakedevice.FakeDevice` (a real
pyserial port over TCP). It answers identity, CFUN and list commands like a modem, and
answers the three things the auth decision depends on as the :class:`Case` says: whether
numeric error codes take effect, what ``AT%XPMNG=2`` shows, what ``AT%XSUDO=?`` says, and
what a signed ``AT%XSUDO`` line gets. Plain protected commands are always accepted (that is
what a downgrade attack wants). It stores what is written so verification can pass.

The oracle (:func:`expected`) is written from the rule in docs/security.md, independently
of ``xsudo.provision.policy``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.crypto import public_key_pem

OK = b"OK\r\n"
CMEE_MODES = ("on", "refused", "ignored")
SLOT_REPLIES = ("match", "other", "garbage-pem", "513", "514", "ERROR", "CME0", "CME50")
XSUDO_TESTS = ("OK", "ERROR")
SIGNED_REPLIES = (
    "OK",
    "513",
    "514",
    "520",
    "ERROR",
    "CME0",
    "518",
    "527",
    "timeout",
    "garbage",
    "wrong-sha",
)
FIRMWARES = ("mfw_nrf91x1_2.0.2", "mfw_acme_9.9.9")
PROTECTED_PLAIN = re.compile(rb"^AT(%CMNG=[03],|%KEYGEN=)")
SIGNED = re.compile(rb"^AT%XSUDO=\d")

Decision = Literal["plain", "signed", "refused"]


@dataclass(frozen=True)
class Case:
    """One reply sequence."""

    mode: Literal["auto", "required"]
    cmee: str
    slot: str
    xsudo_test: str
    signed_reply: str
    mfw: str

    @property
    def label(self) -> str:
        return "-".join((self.mode, self.cmee, self.slot, self.xsudo_test, self.signed_reply))


def all_cases() -> Iterator[Case]:
    """Every distinct reply sequence: ``AT%XSUDO=?`` and the firmware only vary where a
    bare ``ERROR`` to the slot read makes them matter, and the reply to the signed line
    only where a line is signed."""
    for mode, cmee, slot in itertools.product(("auto", "required"), CMEE_MODES, SLOT_REPLIES):
        probes = itertools.product(XSUDO_TESTS, FIRMWARES) if slot == "ERROR" else [_DEFAULT]
        for test, mfw in probes:
            base = Case(mode, cmee, slot, test, "OK", mfw)  # type: ignore[arg-type]
            replies = SIGNED_REPLIES if expected(base) == "signed" else ("OK",)
            for reply in replies:
                yield Case(mode, cmee, slot, test, reply, mfw)  # type: ignore[arg-type]


_DEFAULT = ("ERROR", FIRMWARES[0])


def expected(case: Case) -> Decision:
    """What the rule says for ``case`` (written from the documented rule, not the code)."""
    if case.slot in ("other", "garbage-pem"):
        return "refused"  # another (or unreadable) key in the slot is an error
    numeric = case.cmee == "on"
    nrf91 = "nrf91" in case.mfw
    no_xsudo = case.slot == "ERROR" and numeric and not nrf91 and case.xsudo_test == "ERROR"
    if case.slot == "513" or no_xsudo:
        return "plain" if case.mode == "auto" else "refused"
    return "signed"


@dataclass
class HostileModem:
    """The responder; ``lines`` is everything the host sent, in order."""

    case: Case
    slot_key: ec.EllipticCurvePublicKey
    lines: list[bytes] = field(default_factory=list)
    stored: dict[tuple[int, int], str] = field(default_factory=dict)
    cmee: int = 0

    def __call__(self, line: bytes) -> Sequence[bytes]:
        self.lines.append(line)
        if SIGNED.match(line):
            return self._signed(line)
        if PROTECTED_PLAIN.match(line):
            return self._execute(line)
        return self._ordinary(line)

    # -- what the decision depends on ----------------------------------------------------

    def _cmee_read(self) -> bytes:
        shown = self.cmee if self.case.cmee == "on" else 0
        return f"+CMEE: {shown}\r\nOK\r\n".encode()

    def _cmee_set(self, line: bytes) -> bytes:
        if self.case.cmee == "refused":
            return b"ERROR\r\n"
        self.cmee = int(line.split(b"=", 1)[1])
        return OK

    def _slot(self) -> bytes:
        reply = self.case.slot
        if reply in ("match", "other"):
            other = ec.generate_private_key(ec.SECP256R1()).public_key()
            pem = public_key_pem(self.slot_key if reply == "match" else other)
            return b'%XPMNG: "' + pem.encode() + b'"\r\nOK\r\n'
        if reply == "garbage-pem":
            pem = b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"
            return b'%XPMNG: "' + pem + b'"\r\nOK\r\n'
        return _error(reply)

    def _signed(self, line: bytes) -> Sequence[bytes]:
        reply = self.case.signed_reply
        if reply == "timeout":
            return ()
        if reply == "garbage":
            return (b"\xff\xfe\x00\x80garbage\r\n",)
        if reply in ("OK", "wrong-sha"):
            inner = line[line.index(b";") + 1 :]
            return self._execute(b"AT" + inner, corrupt=reply == "wrong-sha")
        return (_error(reply),)

    # -- everything else ---------------------------------------------------------------------

    def _execute(self, line: bytes, corrupt: bool = False) -> Sequence[bytes]:
        match = re.match(rb'^AT%CMNG=([03]),(\d+),(\d+)(?:,"(.*?)")?', line, re.DOTALL)
        if match is None:
            return (b"ERROR\r\n",)
        key = (int(match.group(2)), int(match.group(3)))
        if match.group(1) == b"3":
            self.stored.pop(key, None)
            return (OK,)
        content = match.group(4) + (b"x" if corrupt else b"")
        self.stored[key] = hashlib.sha256(content).hexdigest().upper()
        return (OK,)

    def _ordinary(self, line: bytes) -> Sequence[bytes]:
        fixed = {
            b"AT": OK,
            b"AT+CMEE?": None,
            b"AT+CGMR": self.case.mfw.encode() + b"\r\nOK\r\n",
            b"AT%HWVERSION": b"%HWVERSION: " + self._model() + b"\r\nOK\r\n",
            b"AT+CGSN": b"352656100367872\r\nOK\r\n",
            b"AT%XMODEMUUID": b"%XMODEMUUID: 5a4c6b2e-6f1d-4a0b-9c3e-1f2e3d4c5b6a\r\nOK\r\n",
            b"AT+CFUN?": b"+CFUN: 1\r\nOK\r\n",
            b"AT%XSUDO=?": OK if self.case.xsudo_test == "OK" else b"ERROR\r\n",
        }
        if line == b"AT+CMEE?":
            return (self._cmee_read(),)
        if line in fixed:
            return (fixed[line] or b"ERROR\r\n",)
        if line.startswith(b"AT+CMEE="):
            return (self._cmee_set(line),)
        if line.startswith(b"AT+CFUN="):
            return (OK,)
        if line.startswith(b"AT%XPMNG=2"):
            return (self._slot(),)
        if line.startswith(b"AT%CMNG=1"):
            return (self._list(line),)
        return (b"ERROR\r\n",)

    def _model(self) -> bytes:
        return b"nRF9161 LACA A0A" if "nrf91" in self.case.mfw else b"ACME X1"

    def _list(self, line: bytes) -> bytes:
        numbers = [int(n) for n in line[len(b"AT%CMNG=1") :].split(b",") if n.strip()]
        out = b""
        for (tag, kind), sha in sorted(self.stored.items()):
            if numbers[:1] in ([], [tag]) and numbers[1:2] in ([], [kind]):
                out += f'%CMNG: {tag},{kind},"{sha}"\r\n'.encode()
        return out + OK

    # -- what was sent ------------------------------------------------------------------------

    def decision_seen(self) -> Decision:
        if any(SIGNED.match(line) for line in self.lines):
            return "signed"
        if any(PROTECTED_PLAIN.match(line) for line in self.lines):
            return "plain"
        return "refused"

    def plain_after_signed(self) -> bool:
        """True when a plain protected command followed a signed line (a downgrade)."""
        signed = False
        for line in self.lines:
            signed = signed or SIGNED.match(line) is not None
            if signed and PROTECTED_PLAIN.match(line):
                return True
        return False


def _error(name: str) -> bytes:
    if name == "ERROR":
        return b"ERROR\r\n"
    code = {"CME0": "0", "CME50": "50"}.get(name, name)
    return f"+CME ERROR: {code}\r\n".encode()
