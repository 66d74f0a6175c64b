"""The authentication policy for protected commands, as one pure decision.

Contract (docs/security.md, "Authentication never downgrades"):

* ``never``: protected commands go plain.
* ``required``: ``%XSUDO`` only. No key, a slot that is empty or holds another key, or a
  firmware without ``%XSUDO`` stops the operation before anything protected is sent.
* ``auto``: the choice is made **once per session, before any protected command is sent**,
  from facts learned without sending one (:class:`AuthFacts`). Plain only when no key is
  given, the firmware has no ``%XSUDO``, or the key slot is readable and empty. A slot
  holding a *different* key is an error naming the fix. When the slot cannot be read, or
  the answer is ambiguous (a bare ``ERROR`` while numeric error codes are off), the line is
  signed: signing is never a downgrade.
* Once a signed line was sent, nothing plain follows it in that session
  (:class:`xsudo.provision.session.DeviceSession` enforces this; nothing here changes a
  decision after the fact).

:func:`decide_auth` is the whole rule; :func:`classify_slot` turns the modem's answer to
``AT%XPMNG=2`` into a :data:`SlotKind`. Both are pure and table-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from xsudo.crypto import fingerprint, load_public_key
from xsudo.errors import BadInputError, CmeCode, ModemError, OperationFailed, Remedy
from xsudo.signing import Signer

AuthMode = Literal["auto", "required", "never"]
AUTH_MODES: tuple[AuthMode, ...] = ("auto", "required", "never")


class AuthPolicy(StrEnum):
    """How protected commands are sent: ``auto`` (the module's rule), ``required``
    (``%XSUDO`` only, fail closed) or ``never`` (plain only). Compares equal to its string."""

    AUTO = "auto"
    REQUIRED = "required"
    NEVER = "never"


Method = Literal["xsudo", "plain"]

SlotKind = Literal["match", "other", "empty", "hidden", "unsupported", "ambiguous"]
"""What ``AT%XPMNG=2`` said about the slot, relative to the session's key:

* ``match``: it holds the key's public key; ``other``: another (or unreadable) key;
* ``empty``: ``+CME ERROR: 513`` - readable, no key;
* ``hidden``: ``+CME ERROR: 514`` - the firmware has key slots but will not show them;
* ``unsupported``: a bare ``ERROR`` while numeric error codes are confirmed on - the
  firmware does not know ``%XPMNG``;
* ``ambiguous``: any other answer (a bare ``ERROR`` without numeric error codes, another
  code): nothing can be concluded.
"""

XsudoSupport = Literal["yes", "no", "unknown"]


class AuthenticationRequired(OperationFailed):
    """The policy requires ``%XSUDO`` and it cannot be used, or the modem refused a plain
    protected command because its firmware requires ``%XSUDO``."""


class SlotKeyMismatch(OperationFailed):
    """The key slot holds a different public key than the session's signing key."""

    def __init__(self, slot: int, held: str | None, key_name: str) -> None:
        shown = f"{held[:16]}..." if held else "an unreadable key"
        super().__init__(
            f"slot {slot} holds a different public key ({shown}) than {key_name!r}",
            f"upload {key_name!r} to slot {slot} (replacing the key there), sign with the key "
            "that is in the slot, or write plain with auth policy 'never'",
            remedy=Remedy("match-slot-key", {"key": key_name, "slot": slot}),
        )
        self.slot = slot
        self.held = held


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
class AuthFacts:
    """What a session learned about the modem without sending a protected command.

    ``slot`` classifies the answer to ``AT%XPMNG=2`` (:func:`classify_slot`); ``held`` is
    the fingerprint of the key the slot showed; ``xsudo`` whether the firmware has
    ``%XSUDO`` (``AT%XSUDO=?``, the firmware family); ``numeric_errors`` whether the modem
    confirmed ``AT+CMEE=1``.
    """

    slot: SlotKind
    held: str | None = None
    xsudo: XsudoSupport = "unknown"
    numeric_errors: bool = True


@dataclass(frozen=True)
class AuthPlan:
    """How to send protected commands, and why."""

    method: Method
    reason: str


def classify_slot(
    pem: bytes | None, error: ModemError | None, signer: Signer | None, numeric_errors: bool
) -> tuple[SlotKind, str | None]:
    """Classify the answer to ``AT%XPMNG=2``: the PEM it showed (``pem``), or the modem
    error it gave (``error``); returns the kind and the held key's fingerprint."""
    if error is not None:
        if error.kind == "CME" and error.code == CmeCode.NOT_FOUND:
            return "empty", None
        if error.kind == "CME" and error.code == CmeCode.NO_ACCESS:
            return "hidden", None
        if error.kind == "ERROR" and numeric_errors:
            return "unsupported", None
        return "ambiguous", None
    if pem is None:
        return "empty", None
    try:
        held = fingerprint(load_public_key(pem))
    except BadInputError:
        return "other", None
    if signer is not None and held == fingerprint(signer.public_key()):
        return "match", held
    return "other", held


def decide_auth(settings: AuthSettings, facts: AuthFacts | None) -> AuthPlan:
    """The one authentication decision (module contract).

    ``facts`` may be ``None`` when nothing needs to be learned (``never``, or no key).
    Raises :class:`BadInputError` (``required`` without a key), :class:`SlotKeyMismatch`
    (another key in the slot) or :class:`AuthenticationRequired` (``required`` cannot be
    met). Never returns plain for a slot holding a key, a hidden slot or an ambiguous answer.
    """
    if settings.mode == "never":
        return AuthPlan("plain", "policy never: plain commands")
    signer = settings.signer
    if signer is None:
        if settings.mode == "required":
            raise BadInputError(
                "auth policy 'required' needs a signing key",
                "give a signing key",
                remedy=Remedy("give-key"),
            )
        return AuthPlan("plain", "auto: no signing key given")
    if facts is None:
        raise ValueError("decide_auth needs the slot facts when a key is given")
    where, name, mode = f"slot {settings.slot_number}", signer.name, settings.mode
    if facts.slot == "match":
        return AuthPlan("xsudo", f"{mode}: {where} holds the public key of {name!r}")
    if facts.slot == "other":
        raise SlotKeyMismatch(settings.slot_number, facts.held, name)
    if facts.slot == "unsupported" and facts.xsudo != "yes":
        if mode == "required":
            raise AuthenticationRequired(
                "auth policy 'required', but this firmware has no %XPMNG/%XSUDO (plain ERROR)",
                "use a firmware with authenticated AT commands, or auth policy 'never'",
                remedy=Remedy("use-auth-never"),
            )
        return AuthPlan("plain", "auto: the firmware has no %XPMNG/%XSUDO")
    if facts.slot == "empty":
        if mode == "required":
            raise AuthenticationRequired(
                f"auth policy 'required', but {where} holds no public key",
                f"upload the public half of {name!r} to {where} first",
                remedy=Remedy("upload-key", {"key": name, "slot": settings.slot_number}),
            )
        return AuthPlan("plain", f"auto: {where} holds no public key")
    why = {
        "hidden": f"{where} cannot be read (514)",
        "unsupported": f"{where} cannot be read, but the firmware has %XSUDO",
        "ambiguous": f"the answer about {where} is ambiguous",
    }[facts.slot]
    return AuthPlan("xsudo", f"{mode}: {why}; signing with {name!r}")
