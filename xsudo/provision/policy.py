"""The authentication policy for writes (architecture contract 3.4), as a pure decision.

* ``never``: plain ``%CMNG`` only.
* ``required``: ``%XSUDO`` only; no key, no key in the slot, a different key in the slot,
  or firmware without ``%XSUDO`` stops the operation. Nothing is ever downgraded.
* ``auto``: ``%XSUDO`` when a key is set up and the modem holds its public key in the slot;
  plain when no key is set up or the slot holds no (or another) key. When the slot cannot
  be read (the firmware refuses ``%XPMNG=2``), ``%XSUDO`` is tried: a plain ``ERROR`` to it
  (no ``%XSUDO`` in this firmware) falls back to plain in ``auto``; a 520 never falls back.

Every plan carries the reason, so every result records how and why it was authenticated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xsudo.crypto import fingerprint, load_public_key
from xsudo.errors import BadInputError, ModemError, OperationFailed
from xsudo.signing import Signer

AuthMode = Literal["auto", "required", "never"]
AUTH_MODES: tuple[AuthMode, ...] = ("auto", "required", "never")
Method = Literal["xsudo", "plain"]
SlotKind = Literal["match", "empty", "other", "unknown"]


class AuthenticationRequired(OperationFailed):
    """The policy or the firmware requires ``%XSUDO`` and it cannot be used."""


@dataclass(frozen=True)
class AuthSettings:
    """What the user asked for: the mode, the signing key (if any) and the XPMNG slot."""

    mode: AuthMode = "auto"
    signer: Signer | None = None
    slot: int | None = None

    @property
    def slot_number(self) -> int:
        """The slot the modem uses (0 when the line omits it)."""
        return 0 if self.slot is None else self.slot


@dataclass(frozen=True)
class SlotState:
    """What the modem's XPMNG slot holds, relative to the configured key."""

    kind: SlotKind
    fingerprint: str | None = None


@dataclass(frozen=True)
class AuthPlan:
    """How to send protected commands, and why."""

    method: Method
    reason: str


def slot_state(pem: bytes | None, signer: Signer | None, *, unknown: bool = False) -> SlotState:
    """Classify the XPMNG slot content ``pem`` (``None`` = empty) against ``signer``'s key;
    ``unknown`` when the modem refused to say."""
    if unknown:
        return SlotState("unknown")
    if pem is None:
        return SlotState("empty")
    try:
        held = fingerprint(load_public_key(pem))
    except BadInputError:
        return SlotState("other", None)
    if signer is not None and held == fingerprint(signer.public_key()):
        return SlotState("match", held)
    return SlotState("other", held)


def plan_auth(settings: AuthSettings, slot: SlotState) -> AuthPlan:
    """Decide plain or ``%XSUDO`` for ``settings`` given what the slot holds.

    Raises :class:`AuthenticationRequired` (exit 1) when ``required`` cannot be met, and
    :class:`BadInputError` (exit 2) when ``required`` is asked without a key.
    """
    if settings.mode == "never":
        return AuthPlan("plain", "policy never: plain %CMNG")
    where = f"slot {settings.slot_number}"
    if settings.signer is None:
        if settings.mode == "required":
            raise BadInputError(
                "--auth required needs a signing key", "give --key NAME (or set XSUDO_KEY)"
            )
        return AuthPlan("plain", "no signing key set up (auto)")
    name = settings.signer.name
    if slot.kind == "match":
        return AuthPlan("xsudo", f"{settings.mode}: {where} holds the public key of {name!r}")
    if slot.kind == "unknown":
        return AuthPlan(
            "xsudo", f"{settings.mode}: {where} cannot be read; trying %XSUDO with {name!r}"
        )
    reason = (
        f"{where} holds no public key"
        if slot.kind == "empty"
        else f"{where} holds a different public key ({(slot.fingerprint or '?')[:16]}...)"
    )
    if settings.mode == "required":
        hint = f"upload the key first: xsudo device upload-key --key {name} " + (
            f"--slot {settings.slot_number}" + (" --replace" if slot.kind == "other" else "")
        )
        raise AuthenticationRequired(f"--auth required, but {reason}", hint)
    return AuthPlan("plain", f"auto: {reason}; writing plain %CMNG")


def is_plain_error(exc: ModemError) -> bool:
    """True for a bare ``ERROR`` (the firmware does not know the command)."""
    return exc.kind == "ERROR" or exc.code == 0
