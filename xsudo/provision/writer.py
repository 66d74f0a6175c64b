"""Write and delete credentials with the authentication policy, and prove the result by SHA.

Contract (architecture 3.4, 3.5):

* Content arrives preflighted (:func:`xsudo.content.preflight`): canonical bytes and the SHA
  the modem must list. Nothing unvalidated reaches the device.
* Identical content already stored: ``unchanged``, nothing written, CFUN untouched.
  Different content: ``refused`` unless ``replace`` (then ``replaced``, with the previous
  SHA in the result and the audit log).
* Writes and deletes go offline and restore the previous CFUN, also on error.
* After a write, ``%CMNG=1,<tag>,<type>`` must list exactly the SHA of the bytes sent;
  after a delete, nothing. Anything else is an error.
* Every write and delete, successful or not, appends an audit record (no content).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from xsudo.command import AtCommand
from xsudo.content import Preflight, check_tag, cred_type_label
from xsudo.errors import OperationFailed, XsudoError
from xsudo.provision.offline import offline
from xsudo.provision.session import DeviceSession

Action = Literal["written", "unchanged", "replaced", "refused", "deleted", "absent"]


class VerificationFailed(OperationFailed):
    """The modem does not list what was just written (or still lists what was deleted)."""


@dataclass(frozen=True)
class CredResult:
    """The outcome of one credential operation (the ``cred write --json`` object)."""

    tag: int
    type: int
    sha: str | None
    action: Action
    auth: str | None
    auth_reason: str
    previous_sha: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.action != "refused"

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "type": cred_type_label(self.type),
            "type_id": self.type,
            "sha": self.sha,
            "action": self.action,
            "auth": self.auth,
            "auth_reason": self.auth_reason,
            "previous_sha": self.previous_sha,
            "message": self.message,
        }


class CredentialWriter:
    """Credential operations on one :class:`DeviceSession`."""

    def __init__(self, session: DeviceSession) -> None:
        self.session = session
        self.modem = session.modem

    def stored_sha(self, tag: int, cred_type: int) -> str | None:
        """The SHA the modem lists for ``(tag, type)``, or ``None`` when nothing is stored."""
        entries = [e for e in self.modem.cmng_list(tag, cred_type) if e.type == cred_type]
        return entries[0].sha.upper() if entries and entries[0].sha else None

    def write(
        self, item: Preflight, *, replace: bool = False, password: str | None = None
    ) -> CredResult:
        """Write ``item`` under the policy; see the module contract."""
        tag, cred_type = item.tag, int(item.cred_type)
        previous = self.stored_sha(tag, cred_type)
        if previous == item.sha:
            return self._record(
                CredResult(
                    tag,
                    cred_type,
                    item.sha,
                    "unchanged",
                    None,
                    "identical content is already stored; nothing written",
                    previous,
                )
            )
        if previous is not None and not replace:
            return self._record(
                CredResult(
                    tag,
                    cred_type,
                    item.sha,
                    "refused",
                    None,
                    "not written",
                    previous,
                    f"tag {tag} type {cred_type_label(cred_type)} already holds different content "
                    f"(SHA {previous}); pass --replace to overwrite it",
                )
            )
        command = AtCommand.set("%CMNG", 0, tag, cred_type, item.content.decode("ascii"), password)
        action: Action = "replaced" if previous else "written"
        try:
            with offline(self.modem):
                plan = self.session.run_protected(command, tag=tag, cred_type=cred_type).plan
            listed = self.stored_sha(tag, cred_type)
            if listed != item.sha:
                raise VerificationFailed(
                    f"after the write the modem lists SHA {listed} for tag {tag} type "
                    f"{cred_type_label(cred_type)}, but the bytes sent hash to {item.sha}",
                    "the content was changed on the way; check the port and retry",
                )
        except XsudoError as exc:
            self._audit_failure("write", tag, cred_type, item.sha, previous, exc)
            raise
        return self._record(
            CredResult(tag, cred_type, item.sha, action, plan.method, plan.reason, previous)
        )

    def delete(self, tag: int, cred_type: int) -> CredResult:
        """Delete ``(tag, type)`` under the policy; ``absent`` when nothing is stored."""
        check_tag(tag)
        previous = self.stored_sha(tag, cred_type)
        if previous is None and not self._listed(tag, cred_type):
            return self._record(
                CredResult(tag, cred_type, None, "absent", None, "nothing stored; nothing deleted")
            )
        command = AtCommand.set("%CMNG", 3, tag, cred_type)
        try:
            with offline(self.modem):
                plan = self.session.run_protected(command, tag=tag, cred_type=cred_type).plan
            if self._listed(tag, cred_type):
                raise VerificationFailed(
                    f"after the delete the modem still lists tag {tag} type "
                    f"{cred_type_label(cred_type)}",
                    "the entry may be protected; check xsudo cred list",
                )
        except XsudoError as exc:
            self._audit_failure("delete", tag, cred_type, None, previous, exc)
            raise
        return self._record(
            CredResult(tag, cred_type, None, "deleted", plan.method, plan.reason, previous)
        )

    def _listed(self, tag: int, cred_type: int) -> bool:
        return any(e.type == cred_type for e in self.modem.cmng_list(tag, cred_type))

    def _record(self, result: CredResult) -> CredResult:
        kind = "delete" if result.action in ("deleted", "absent") else "write"
        self._audit(
            kind,
            result.tag,
            result.type,
            result.sha,
            result.previous_sha,
            result.action,
            result.auth,
            result.auth_reason,
        )
        return result

    def _audit_failure(
        self,
        kind: str,
        tag: int,
        cred_type: int,
        sha: str | None,
        previous: str | None,
        exc: XsudoError,
    ) -> None:
        plan = self.session.plan
        self._audit(
            kind,
            tag,
            cred_type,
            sha,
            previous,
            f"failed: {exc.message}",
            plan.method if plan else None,
            plan.reason if plan else "",
        )

    def _audit(
        self,
        kind: str,
        tag: int,
        cred_type: int,
        sha: str | None,
        previous: str | None,
        result: str,
        auth: str | None,
        auth_reason: str,
    ) -> None:
        log = self.session.audit
        if log is None:
            return
        signer = self.session.auth.signer
        signed = self.session.last_signed
        log.append(
            kind,
            device_imei=self.session.imei,
            tag=tag,
            type=cred_type,
            sha=sha,
            previous_sha=previous,
            auth=auth,
            auth_reason=auth_reason,
            key_fingerprint=signed.key_fingerprint if signed and auth == "xsudo" else None,
            key_name=signer.name if signer and auth == "xsudo" else None,
            data_len=signed.xsudo.data_len if signed and auth == "xsudo" else None,
            signed_sha256=signed.sha256 if signed and auth == "xsudo" else None,
            result=result,
        )
