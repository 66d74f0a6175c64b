"""XPMNG key slots: what each holds, which local key that is, and uploading a key.

Contract: reading slots never changes CFUN. Uploading goes offline, writes with
``%XPMNG``, reads back and compares fingerprints. A slot holding the same key is
``unchanged``; a different key is only replaced when asked, by deleting it with
``%CMNG=3,<slot>,5`` under the auth policy (signed with the local key that matches the key
in the slot; plain only in ``auto`` when no local key matches, or with ``never``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from xsudo.at import commands
from xsudo.at.modem import Modem
from xsudo.audit.log import AuditHead
from xsudo.command import AtCommand
from xsudo.crypto import PublicKey, fingerprint, load_public_key, public_key_pem
from xsudo.errors import BadInputError, CmeCode, ModemError, OperationFailed, Remedy
from xsudo.limits import XPMNG_KEY_TYPE, XPMNG_SLOTS
from xsudo.provision.offline import offline
from xsudo.provision.policy import AuthenticationRequired, AuthSettings
from xsudo.provision.session import DeviceSession
from xsudo.signing import Signer


@dataclass(frozen=True)
class SlotInfo:
    """One XPMNG slot: the fingerprint of the key it holds, and the local key's name."""

    slot: int
    fingerprint: str | None
    local_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"slot": self.slot, "fingerprint": self.fingerprint, "local_key": self.local_key}


class SlotsHidden(OperationFailed):
    """The firmware has ``%XPMNG`` but refuses to read its slots (``+CME ERROR: 514`` to
    ``AT%XPMNG=2``): which keys it holds cannot be known from the host."""


def read_slots(modem: Modem, local: dict[str, str]) -> list[SlotInfo] | None:
    """Every slot that holds a key (``local`` maps fingerprint -> key name), or ``None``
    when the firmware has no ``%XPMNG`` (plain ERROR). A firmware that answers a read with
    514 (no access) hides its slots: :class:`SlotsHidden`."""
    slots = []
    for slot in XPMNG_SLOTS:
        try:
            pem = modem.xpmng_read(slot)
        except ModemError as exc:
            if exc.kind == "ERROR" and slot == 0:
                return None
            if exc.kind == "CME" and exc.code == CmeCode.NO_ACCESS:
                raise SlotsHidden(
                    "this firmware does not let the host read its %XPMNG key slots (it "
                    f"answered 514, no access, when slot {slot} was read)",
                    "which public keys it holds cannot be listed; check authenticated "
                    "access with a signed probe (Device.probe) instead",
                ) from None
            raise
        if pem is not None:
            held = _fingerprint_of(pem)
            slots.append(SlotInfo(slot, held, local.get(held or "")))
    return slots


def _fingerprint_of(pem: bytes) -> str | None:
    try:
        return fingerprint(load_public_key(pem))
    except BadInputError:
        return None


@dataclass(frozen=True)
class UploadResult:
    slot: int
    fingerprint: str
    action: Literal["uploaded", "unchanged", "replaced"]
    previous_fingerprint: str | None
    auth: str | None = None
    auth_reason: str = ""
    audit_head: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "fingerprint": self.fingerprint,
            "action": self.action,
            "previous_fingerprint": self.previous_fingerprint,
            "auth": self.auth,
            "auth_reason": self.auth_reason,
            "audit_head": self.audit_head,
        }


def upload_key(
    session: DeviceSession,
    key_name: str,
    public_key: PublicKey,
    slot: int,
    *,
    replace: bool,
    signer_for: Callable[[str], Signer | None],
) -> UploadResult:
    """Put ``public_key`` into ``slot``; see the module contract.

    Replacing a key deletes the old one with ``%CMNG=3,<slot>,5`` under the session's auth
    mode (:func:`xsudo.provision.policy.decide_auth`), signed with the local key that
    matches the one in the slot (``signer_for(fingerprint)``) when there is one: ``auto``
    sends it plain only when no local key matches, ``required`` refuses then, and nothing
    plain ever follows a signed delete.
    """
    modem = session.modem
    wanted = fingerprint(public_key)
    current = modem.xpmng_read(slot)
    held = _fingerprint_of(current) if current is not None else None
    if held == wanted:
        return _logged(session, UploadResult(slot, wanted, "unchanged", held), key_name)
    if current is not None and not replace:
        raise OperationFailed(
            f"slot {slot} already holds a different public key ({(held or '?')[:16]}...)",
            f"upload with replace=True to delete it and upload {key_name!r}, or choose "
            "another slot",
            remedy=Remedy("replace-key", {"key": key_name, "slot": slot}),
        )
    if current is not None:
        _prepare_delete(session, slot, held, signer_for)
    with offline(modem):
        if current is not None:
            delete = commands.cmng_delete(slot, XPMNG_KEY_TYPE)
            session.run_protected(delete, tag=slot, cred_type=XPMNG_KEY_TYPE)
        modem.xpmng_write(public_key_pem(public_key).encode("ascii"), slot)
    stored = modem.xpmng_read(slot)
    if stored is None or _fingerprint_of(stored) != wanted:
        raise OperationFailed(
            f"after the upload slot {slot} does not hold {key_name!r}",
            "read the slot (Device.slots) and retry",
            remedy=Remedy("read-slots", {"slot": slot}),
        )
    action: Literal["uploaded", "replaced"] = "replaced" if current is not None else "uploaded"
    plan = session.plan
    result = UploadResult(
        slot, wanted, action, held, plan.method if plan else None, plan.reason if plan else ""
    )
    return _logged(session, result, key_name)


def _prepare_delete(
    session: DeviceSession,
    slot: int,
    held: str | None,
    signer_for: Callable[[str], Signer | None],
) -> None:
    """Give ``session`` the key that can sign the delete of the key in ``slot`` and decide
    the plan (before anything protected is sent)."""
    mode = session.auth.mode
    signer = signer_for(held) if held and mode != "never" else None
    if mode == "required" and signer is None:
        raise AuthenticationRequired(
            f"auth policy 'required', but no local key matches the key in slot {slot}, so "
            "its delete cannot be signed",
            "import the key that is in the slot into the key store, or use auth policy 'auto'",
            remedy=Remedy("import-key", {"slot": slot}),
        )
    if session.plan is not None or session.signed_sent:
        raise OperationFailed("the session already decided its authentication")
    session.auth = AuthSettings(mode, signer, slot)
    session.ensure_plan()


def _logged(session: DeviceSession, result: UploadResult, key_name: str) -> UploadResult:
    """Record ``result`` in the audit log; return it with the log's head."""
    if session.audit is None:
        return result
    record = session.audit.append(
        "upload-key",
        device_imei=session.imei,
        key_name=key_name,
        key_fingerprint=result.fingerprint,
        slot=result.slot,
        previous_fingerprint=result.previous_fingerprint,
        auth=result.auth,
        auth_reason=result.auth_reason or None,
        result=result.action,
    )
    return dataclasses.replace(result, audit_head=AuditHead.of(record).to_json())


PROBE_COMMAND = AtCommand.exec("+CGSN")
"""A harmless command (read the IMEI) used to check that authenticated access works."""


@dataclass(frozen=True)
class ProbeResult:
    """Whether a signed harmless command was accepted, and why not (``remedy``: what would
    make the check possible, when it could not be made)."""

    works: bool
    detail: str
    remedy: Remedy | None = field(default=None, compare=False)
    checked: bool = True
    """False when no signed command was sent (no key was given): ``works`` says nothing."""

    @property
    def status(self) -> str:
        """``works``, ``not working`` or ``not checked``."""
        if not self.checked:
            return "not checked"
        return "works" if self.works else "not working"

    def to_json(self) -> dict[str, Any]:
        return {"works": self.works, "checked": self.checked, "detail": self.detail}


def probe_auth(session: DeviceSession) -> ProbeResult:
    """Send ``AT%XSUDO=...;+CGSN`` signed with the session's key to its slot (read-only)."""
    signer, slot = session.auth.signer, session.auth.slot_number
    if signer is None:
        return ProbeResult(False, "no signing key given", Remedy("give-key"), checked=False)
    signed = session.sign(PROBE_COMMAND, result="probe")
    session.signed_sent = True
    try:
        session.modem.send_line(signed.xsudo.render())
    except ModemError as exc:
        if exc.kind == "ERROR" and session.modem.numeric_errors:
            return ProbeResult(False, "the firmware has no %XSUDO (plain ERROR)")
        if exc.kind == "ERROR":
            return ProbeResult(
                False,
                "plain ERROR with numeric error codes off: authentication failed, or the "
                "firmware has no %XSUDO",
            )
        return ProbeResult(False, f"slot {slot} with key {signer.name!r}: {exc.message}")
    return ProbeResult(True, f"a command signed with {signer.name!r} was accepted (slot {slot})")
