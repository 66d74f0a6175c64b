"""One provisioning session with one modem: identity, the auth decision, protected commands.

Contract (docs/security.md, "Authentication never downgrades"):

* :meth:`DeviceSession.ensure_plan` decides plain or ``%XSUDO`` **once**, before the first
  protected command, from facts read without sending one (:func:`decide_auth`). The plan
  never changes afterwards.
* Once a signed line has been sent (or may have reached the device), no plain protected
  command is sent in this session, whatever the modem answered: :meth:`run_protected`
  refuses, and a failed signed command stops with a diagnosis (an offline verification
  for a 520 or a bare ``ERROR``).
* Every signature is recorded in the audit log before the line is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xsudo.at import commands
from xsudo.at.modem import Modem, ModemIdentity
from xsudo.at.results import AtResponse
from xsudo.audit.log import AuditLog
from xsudo.command import AtCommand
from xsudo.crypto import load_public_key
from xsudo.errors import BadInputError, CmeCode, CmeError, ModemError, OperationFailed, Remedy
from xsudo.provision.policy import (
    AuthenticationRequired,
    AuthFacts,
    AuthPlan,
    AuthSettings,
    XsudoSupport,
    classify_slot,
    decide_auth,
)
from xsudo.signing import SignedCommand, sign_command

XSUDO_FAMILIES = ("nrf9160", "nrf91x1")
"""Firmware families whose AT reference documents ``%XSUDO`` and ``%XPMNG``."""


@dataclass(frozen=True)
class Protected:
    """What a protected command returned, and how it was authenticated."""

    response: AtResponse
    plan: AuthPlan


class XsudoRejected(OperationFailed):
    """The modem refused a signed line with 520 or a bare ``ERROR``; ``diagnosis`` holds
    the offline verdict."""

    def __init__(
        self,
        message: str,
        hint: str,
        diagnosis: tuple[str, ...],
        *,
        remedy: Remedy | None = None,
    ) -> None:
        super().__init__(message, hint, remedy=remedy)
        self.diagnosis = diagnosis


class DowngradeRefused(OperationFailed):
    """A plain protected command was about to follow a signed one (never sent)."""


@dataclass
class DeviceSession:
    """A modem plus what provisioning needs to know about it (see the module contract)."""

    modem: Modem
    auth: AuthSettings
    audit: AuditLog | None = None
    identity: ModemIdentity | None = None
    plan: AuthPlan | None = None
    facts: AuthFacts | None = None
    slot_pem: bytes | None = field(default=None, repr=False)
    last_signed: SignedCommand | None = field(default=None, repr=False)
    signed_sent: bool = False
    known_imei: str | None = field(default=None, repr=False)

    @property
    def imei(self) -> str | None:
        """The IMEI audit records carry: the identity's, else the one :meth:`ensure_imei`
        read (``None`` before either, or when the firmware has none)."""
        return self.identity.imei if self.identity else self.known_imei

    def ensure_imei(self) -> str | None:
        """Read the IMEI alone (one ``AT+CGSN``, checked) unless it is known; the rest of the
        identity is read when something asks for it (:meth:`ensure_identity`)."""
        if self.identity is None and self.known_imei is None:
            self.known_imei = self.modem.imei()
        return self.imei

    def ensure_identity(self) -> ModemIdentity:
        if self.identity is None:
            self.identity = self.modem.identity()
        return self.identity

    # -- the decision ---------------------------------------------------------------------

    def learn_facts(self) -> AuthFacts:
        """Read the key slot (and, when that is inconclusive, whether the firmware has
        ``%XSUDO``) without sending a protected command."""
        if self.facts is None:
            numeric = self.modem.numeric_errors
            pem, error = self._read_slot()
            self.slot_pem = pem
            kind, held = classify_slot(pem, error, self.auth.signer, numeric)
            support = self._xsudo_support(numeric) if kind == "unsupported" else "unknown"
            self.facts = AuthFacts(kind, held, support, numeric)
        return self.facts

    def _read_slot(self) -> tuple[bytes | None, ModemError | None]:
        try:
            return self.modem.xpmng_read(self.auth.slot_number), None
        except ModemError as exc:
            return None, exc

    def _xsudo_support(self, numeric: bool) -> XsudoSupport:
        """``yes`` for a documented family or a modem that knows ``AT%XSUDO=?``; ``no`` when
        it answers a bare ``ERROR`` while numeric error codes are on."""
        identity = self.ensure_identity()
        if identity.family in XSUDO_FAMILIES:
            return "yes"
        try:
            self.modem.command(commands.xsudo_test())
        except ModemError as exc:
            return "no" if exc.kind == "ERROR" and numeric else "yes"
        return "yes"

    def ensure_plan(self) -> AuthPlan:
        """Decide plain or ``%XSUDO`` (once per session; see the module contract)."""
        if self.plan is None:
            needs_facts = self.auth.mode != "never" and self.auth.signer is not None
            self.plan = decide_auth(self.auth, self.learn_facts() if needs_facts else None)
        return self.plan

    # -- protected commands ---------------------------------------------------------------

    def run_protected(
        self, command: AtCommand, *, tag: int, cred_type: int, timeout: float | None = None
    ) -> Protected:
        """Send a protected command (write, delete, keygen) as the plan says.

        Raises :class:`AuthenticationRequired` when the firmware refuses a plain command with
        514, :class:`XsudoRejected` when it refuses a signed one with 520 or a bare
        ``ERROR``, :class:`DowngradeRefused` if a plain command would follow a signed one,
        and the channel's errors otherwise. Nothing is ever retried another way.
        """
        plan = self.ensure_plan()
        if plan.method == "plain":
            if self.signed_sent:
                raise DowngradeRefused(
                    f"refusing to send AT{command.name} plain after a signed line in this session",
                    "this is a bug in the caller; nothing was sent",
                )
            return Protected(self._send_plain(command, timeout), plan)
        return Protected(self._send_signed(command, tag, cred_type, timeout), plan)

    def _send_plain(self, command: AtCommand, timeout: float | None) -> AtResponse:
        try:
            return self.modem.command(command, timeout=timeout)
        except CmeError as exc:
            if exc.kind == "CME" and exc.code == CmeCode.NO_ACCESS:
                raise AuthenticationRequired(
                    f"the modem refused plain AT{command.name} with +CME ERROR: 514: the "
                    "entry is reserved or this firmware requires authenticated access (%XSUDO)",
                    "set up a key: generate one, upload its public half to an XSUDO slot, then "
                    "retry with that key (or with auth policy 'required')",
                    remedy=Remedy("set-up-key"),
                ) from None
            raise

    def _send_signed(
        self, command: AtCommand, tag: int, cred_type: int, timeout: float | None
    ) -> AtResponse:
        signed = self.sign(command, tag=tag, cred_type=cred_type)
        self.signed_sent = True  # from here on the bytes may reach the device
        try:
            return self.modem.send_line(signed.xsudo.render(), timeout=timeout)
        except ModemError as exc:
            raise self._signed_failure(command, exc) from None

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
            raise BadInputError("no signing key", "give a signing key", remedy=Remedy("give-key"))
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

    # -- diagnosis of a refused signed line -----------------------------------------------

    def _signed_failure(self, command: AtCommand, exc: ModemError) -> OperationFailed:
        """The error for a signed ``command`` the modem refused (never followed by plain)."""
        where = f"slot {self.auth.slot_number}"
        if exc.kind == "ERROR" or exc.code in (CmeCode.AUTH_FAILED_OR_EXISTS, CmeCode.PLAIN_ERROR):
            return self._rejected(command, exc)
        if exc.code == CmeCode.NOT_FOUND:
            signer_name = self.auth.signer.name if self.auth.signer is not None else None
            return AuthenticationRequired(
                f"the modem answered the signed AT{command.name} with +CME ERROR: 513: {where} "
                "holds no public key; not sending it plain",
                f"upload the key's public half to {where} first, or write plain with auth "
                "policy 'never'",
                remedy=Remedy(
                    "upload-key", {"key": signer_name, "slot": self.auth.slot_number, "or_plain": 1}
                ),
            )
        if exc.code == CmeCode.NO_ACCESS:
            return OperationFailed(
                f"the modem answered the signed AT{command.name} with +CME ERROR: 514, which "
                "is ambiguous: %XSUDO may not allow this command, or the command itself was "
                "refused (reserved sec_tag, unreadable type); not sending it plain",
                "check the sec_tag and type; if they are yours, this firmware does not let "
                "%XSUDO run the command",
            )
        return exc

    def _rejected(self, command: AtCommand, exc: ModemError) -> XsudoRejected:
        """Diagnose a 520 (or bare ``ERROR``) offline: against the key the slot showed,
        else against ours."""
        assert self.last_signed is not None and self.auth.signer is not None
        line = self.last_signed.xsudo.render()
        bare = exc.kind == "ERROR" or exc.code == CmeCode.PLAIN_ERROR
        diagnosis, detail = self._offline_verdict(line, bare)
        label = (
            f"{'ERROR' if exc.kind == 'ERROR' else '+CME ERROR: 0'} (authentication failed, "
            "or no %XSUDO in this firmware)"
            if bare
            else f"+CME ERROR: {exc.code} (authentication failed)"
        )
        return XsudoRejected(
            f"the modem refused the signed AT{command.name} with {label}; not falling back "
            f"to plain. Diagnosis: {detail}",
            "upload the right key to the slot (replacing the key there) or sign with the key "
            "in the slot; diagnose a saved line offline (xsudo.verify)",
            diagnosis,
            remedy=Remedy(
                "fix-signed-line", {"key": self.auth.signer.name, "slot": self.auth.slot_number}
            ),
        )

    def _offline_verdict(self, line: bytes, bare: bool) -> tuple[tuple[str, ...], str]:
        from xsudo.diagnose import verify_line  # only a refused signed line is diagnosed

        assert self.auth.signer is not None
        if self.slot_pem:
            try:
                verdict = verify_line(line, load_public_key(self.slot_pem))
            except BadInputError:
                return ("wrong-key",), "the key the slot showed cannot be parsed"
            if verdict.valid:
                return verdict.diagnosis, (
                    "the line verifies offline against the key the slot showed, so the modem "
                    "hashed different bytes than were signed"
                    + (", or does not run %XSUDO" if bare else "")
                )
            return verdict.diagnosis, verdict.message
        if verify_line(line, self.auth.signer.public_key()).valid:
            return ("wrong-key",), (
                f"the line verifies offline with {self.auth.signer.name!r}, so slot "
                f"{self.auth.slot_number} holds a different key (wrong-key)"
                + (", or the firmware has no %XSUDO" if bare else "")
            )
        return ("malformed-signature",), "the line does not verify offline"  # pragma: no cover
