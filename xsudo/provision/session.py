"""One provisioning session with one modem: identity, auth plan, and protected commands.

:class:`DeviceSession` decides once how protected commands are sent (see
:mod:`xsudo.provision.policy`), sends them plain or wrapped in ``%XSUDO``, handles the two
outcomes the policy names (a plain ``ERROR`` on ``%XSUDO`` in ``auto`` falls back to plain;
a 520 never falls back and is diagnosed offline), and records every signature in the audit
log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xsudo.at.modem import Modem, ModemIdentity
from xsudo.at.results import AtResponse
from xsudo.audit.log import AuditLog
from xsudo.audit.verify import verify_line
from xsudo.command import AtCommand
from xsudo.crypto import load_public_key
from xsudo.errors import BadInputError, CmeError, ModemError, OperationFailed
from xsudo.provision.policy import (
    AuthenticationRequired,
    AuthPlan,
    AuthSettings,
    SlotState,
    is_plain_error,
    plan_auth,
    slot_state,
)
from xsudo.signing import SignedCommand, sign_command


def _fallback_reason(exc: ModemError) -> str | None:
    """Why ``auto`` may send plain after a signed attempt failed, or ``None`` (never after a
    520, and never for the wrapped command's own errors)."""
    if is_plain_error(exc):
        return "the firmware has no %XSUDO (plain ERROR)"
    if exc.code == 513:
        return "the modem holds no public key in that slot (513)"
    return None


@dataclass(frozen=True)
class Protected:
    """What a protected command returned, and how it was authenticated."""

    response: AtResponse
    plan: AuthPlan


class XsudoRejected(OperationFailed):
    """The modem answered 520 to a signed line; ``diagnosis`` holds the offline verdict."""

    def __init__(self, message: str, hint: str, diagnosis: tuple[str, ...]) -> None:
        super().__init__(message, hint)
        self.diagnosis = diagnosis


@dataclass
class DeviceSession:
    """A modem plus what provisioning needs to know about it.

    ``plan`` is decided lazily on the first protected command (it reads the XPMNG slot).
    """

    modem: Modem
    auth: AuthSettings
    audit: AuditLog | None = None
    identity: ModemIdentity | None = None
    plan: AuthPlan | None = None
    slot_pem: bytes | None = field(default=None, repr=False)
    last_signed: SignedCommand | None = field(default=None, repr=False)

    @property
    def imei(self) -> str | None:
        return self.identity.imei if self.identity else None

    def ensure_identity(self) -> ModemIdentity:
        if self.identity is None:
            self.identity = self.modem.identity()
        return self.identity

    def read_slot(self) -> SlotState:
        """What the configured XPMNG slot holds (read-only)."""
        try:
            self.slot_pem = self.modem.xpmng_read(self.auth.slot_number)
        except ModemError as exc:
            if is_plain_error(exc) or exc.code == 514:
                return slot_state(None, self.auth.signer, unknown=True)
            raise
        return slot_state(self.slot_pem, self.auth.signer)

    def ensure_plan(self) -> AuthPlan:
        """Decide plain or ``%XSUDO`` (once per session)."""
        if self.plan is None:
            if self.auth.mode == "never":
                self.plan = plan_auth(self.auth, SlotState("empty"))
            else:
                self.plan = plan_auth(self.auth, self.read_slot())
        return self.plan

    def run_protected(
        self, command: AtCommand, *, tag: int, cred_type: int, timeout: float | None = None
    ) -> Protected:
        """Send a protected command (write, delete, keygen) per the plan.

        Returns the modem's response and the plan that was used (it changes when ``auto``
        falls back to plain).

        Raises :class:`AuthenticationRequired` when the firmware refuses a plain command
        with 514, :class:`XsudoRejected` on 520, and the channel's errors otherwise.
        """
        plan = self.ensure_plan()
        if plan.method == "plain":
            return Protected(self._send_plain(command, timeout), plan)
        try:
            response = self._send_signed(command, tag=tag, cred_type=cred_type, timeout=timeout)
        except ModemError as exc:
            if exc.code == 520:
                raise self._rejected(command) from None
            fallback = _fallback_reason(exc)
            if fallback is None:
                raise
            if self.auth.mode != "auto":
                raise AuthenticationRequired(
                    f"--auth required, but {fallback}", "upload the key, or use --auth auto"
                ) from None
            self.plan = AuthPlan("plain", f"auto: {fallback}; sending plain AT{command.name}")
            return Protected(self._send_plain(command, timeout), self.plan)
        return Protected(response, plan)

    def _send_plain(self, command: AtCommand, timeout: float | None) -> AtResponse:
        try:
            return self.modem.command(command, timeout=timeout)
        except CmeError as exc:
            if exc.code == 514:
                raise AuthenticationRequired(
                    f"the modem refused plain AT{command.name} with +CME ERROR: 514: this "
                    "firmware requires authenticated access (%XSUDO)",
                    "set up a key: xsudo key generate NAME; xsudo device upload-key --key NAME; "
                    "then retry with --key NAME (or --auth required)",
                ) from None
            raise

    def _send_signed(
        self, command: AtCommand, *, tag: int, cred_type: int, timeout: float | None
    ) -> AtResponse:
        signed = self.sign(command, tag=tag, cred_type=cred_type)
        return self.modem.send_line(signed.xsudo.render(), timeout=timeout)

    def sign(
        self,
        command: AtCommand,
        *,
        tag: int | None = None,
        cred_type: int | None = None,
        result: str = "signed",
    ) -> SignedCommand:
        """Sign ``command`` with the session's key and slot, and record it in the audit log."""
        signer = self.auth.signer
        if signer is None:
            raise BadInputError("no signing key", "give --key NAME")
        signed = sign_command(command.body(), signer, slot=self.auth.slot)
        self.last_signed = signed
        if self.audit is not None:
            self.audit.append(
                "sign",
                **signed.audit_fields(),
                device_imei=self.imei,
                tag=tag,
                type=cred_type,
                result=result,
            )
        return signed

    def _rejected(self, command: AtCommand) -> XsudoRejected:
        """Diagnose a 520 offline: against the key the modem showed, else against ours."""
        assert self.last_signed is not None and self.auth.signer is not None
        line = self.last_signed.xsudo.render()
        if self.slot_pem:
            verdict = verify_line(line, load_public_key(self.slot_pem))
            diagnosis, detail = (
                verdict.diagnosis,
                (
                    "the line verifies offline against the key the slot showed, so the modem "
                    "hashed different bytes than were signed"
                    if verdict.valid
                    else verdict.message
                ),
            )
        elif verify_line(line, self.auth.signer.public_key()).valid:
            diagnosis = ("wrong-key",)
            detail = (
                f"the line verifies offline with {self.auth.signer.name!r}, so slot "
                f"{self.auth.slot_number} holds a different key (wrong-key)"
            )
        else:  # pragma: no cover - sign_command verified the line before it was sent
            diagnosis, detail = ("malformed-signature",), "the line does not verify offline"
        return XsudoRejected(
            f"the modem rejected the signed AT{command.name} with +CME ERROR: 520 "
            f"(authentication failed); not falling back to plain. Diagnosis: {detail}",
            "upload the right key (xsudo device upload-key --replace) or sign with the key "
            "in the slot",
            diagnosis,
        )
