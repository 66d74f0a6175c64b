"""Write and delete credentials with the authentication policy, and prove the result by SHA.

Contract (docs/security.md, "Nothing is lost"):

* Content arrives preflighted (:func:`xsudo.content.preflight`): canonical bytes and the SHA
  the modem must list. Nothing unvalidated reaches the device.
* Identical content already stored: ``unchanged``, nothing written, CFUN untouched.
  Different content: ``refused`` unless ``replace`` (then ``replaced``, with the previous
  SHA in the result and the audit log).
* The auth plan is decided before anything is written; writes and deletes go offline and
  restore the previous CFUN on every path where the link answers (:mod:`.offline`).
* After a write, ``%CMNG=1,<tag>,<type>`` must list exactly the SHA of the bytes sent;
  after a delete, nothing.
* **Uncertain outcomes are reconciled.** When anything fails after the protected command
  may have reached the modem, the writer reads the SHA back (when the link answers) and
  says whether the change ``landed``, is ``not-landed``, or is ``unknown``: in the result,
  in the error's ``outcome`` and in the audit record. A change that landed after a link
  fault is a success (it was read back); a refusal by the modem stays an error.
* Every write and delete, successful or not, appends an audit record (no content) and the
  result carries the log's head.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from xsudo.at import commands
from xsudo.command import AtCommand
from xsudo.content.types import check_tag, cred_type_label
from xsudo.errors import (
    BadInputError,
    DeviceError,
    DeviceReset,
    OperationFailed,
    Remedy,
    XsudoError,
)
from xsudo.provision.offline import HeldOffline, OfflineGuard, offline
from xsudo.provision.session import DeviceSession

if TYPE_CHECKING:
    from xsudo.content import Preflight

Action = Literal["written", "unchanged", "replaced", "refused", "deleted", "absent", "failed"]
Landed = Literal["landed", "not-landed", "unknown"]
Kind = Literal["write", "delete"]

READ_BACK_ATTEMPTS = 3
"""How often a read-back is tried after a link fault (the channel resyncs in between)."""


class VerificationFailed(OperationFailed):
    """The modem does not list what was just written (or still lists what was deleted)."""


@dataclass(frozen=True)
class CredResult:
    """The outcome of one credential operation (the ``cred write --json`` object).

    ``landed`` is ``"landed"`` for a change the modem's SHA confirmed, ``"not-landed"`` or
    ``"unknown"`` for a failed one, ``None`` when nothing was to be changed. A refusal says
    what was found in ``message`` and what to do in ``hint`` and ``remedy`` (not in the JSON;
    :meth:`refusal` is the same as an error).
    """

    tag: int
    type: int
    sha: str | None
    action: Action
    auth: str | None
    auth_reason: str
    previous_sha: str | None = None
    message: str = ""
    landed: Landed | None = None
    audit_head: dict[str, Any] | None = None
    hint: str = field(default="", compare=False)
    remedy: Remedy | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.action not in ("refused", "failed")

    def refusal(self) -> OperationFailed:
        """This result's ``message``, ``hint`` and ``remedy`` as an error (exit 1)."""
        return OperationFailed(self.message, self.hint or None, remedy=self.remedy)

    @property
    def sha256(self) -> str | None:
        """The SHA-256 the modem lists for the content (upper-case hex), as ``sha``."""
        return self.sha

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
            "landed": self.landed,
            "audit_head": self.audit_head,
        }


@dataclass(frozen=True)
class _Change:
    """One protected change: what is sent and what the modem must list afterwards."""

    kind: Kind
    tag: int
    cred_type: int
    sha: str | None
    previous: str | None
    command: AtCommand
    action: Action


class CredentialWriter:
    """Credential operations on one :class:`DeviceSession`."""

    def __init__(self, session: DeviceSession) -> None:
        self.session = session
        self.modem = session.modem
        self._held: HeldOffline | None = None
        self._preloaded: dict[tuple[int, int], str | None] = {}

    @contextlib.contextmanager
    def batch(self) -> Iterator[CredentialWriter]:
        """The writes and deletes inside the block share one trip offline: CFUN is read and
        set to 4 before the first change and restored once, when the block ends
        (:class:`~xsudo.provision.offline.HeldOffline`). A failed change restores at once, as
        outside a batch. A restore that fails at the end raises
        :class:`~xsudo.provision.offline.CfunNotRestored`, or is added to the error that
        ends the block. Nested batches share the outer one."""
        if self._held is not None:
            yield self
            return
        held = self._held = HeldOffline(self.modem)
        try:
            yield self
        except BaseException as exc:
            self._held = None
            self._preloaded.clear()
            if not held.restore() and isinstance(exc, XsudoError):
                exc.amend(held.not_restored_note())
            raise
        self._held = None
        self._preloaded.clear()
        held.release()

    def preload(self, tag: int, cred_types: Iterable[int]) -> None:
        """Inside a :meth:`batch`: list ``tag`` once (``AT%CMNG=1,<tag>``) and keep what it
        holds for each of ``cred_types``, so the first :meth:`write` of each needs no read
        of its own before it. Each kept SHA serves one write; every read after a change
        (verification, reconciliation) goes to the modem. The kept values are dropped when
        the batch ends or the modem reboots. Only for tags nothing else changes during the
        batch (a tag whose key is generated on the device is not preloaded)."""
        if self._held is None:
            raise RuntimeError("preload is for the writes of a batch")
        listed = {e.type: e.sha for e in self.modem.cmng_list(tag) if e.tag == tag}
        for cred_type in cred_types:
            sha = listed.get(cred_type)
            self._preloaded[(tag, cred_type)] = sha.upper() if sha else None

    def stored_sha(self, tag: int, cred_type: int) -> str | None:
        """The SHA the modem lists for ``(tag, type)``, or ``None`` when nothing is stored."""
        entries = [e for e in self.modem.cmng_list(tag, cred_type) if e.type == cred_type]
        return entries[0].sha.upper() if entries and entries[0].sha else None

    def write(
        self, item: Preflight, *, replace: bool = False, password: str | None = None
    ) -> CredResult:
        """Write ``item`` under the policy; see the module contract."""
        tag, cred_type = item.tag, int(item.cred_type)
        if (tag, cred_type) in self._preloaded:
            previous = self._preloaded.pop((tag, cred_type))
        else:
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
                ),
                "write",
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
                    f"(SHA {previous})",
                    hint="write it with replace=True to overwrite it",
                    remedy=Remedy("replace-credential", {"tag": tag, "kind": "content"}),
                ),
                "write",
            )
        command = commands.cmng_write(tag, cred_type, item.content, password)
        action: Action = "replaced" if previous else "written"
        return self._apply(_Change("write", tag, cred_type, item.sha, previous, command, action))

    def delete(self, tag: int, cred_type: int) -> CredResult:
        """Delete ``(tag, type)`` under the policy; ``absent`` when nothing is stored. The
        nRF91x1 TLS decrypt test tags may be deleted like the host's own."""
        check_tag(tag, decrypt_ok=True)
        entries = [e for e in self.modem.cmng_list(tag, cred_type) if e.type == cred_type]
        if not entries:
            return self._record(
                CredResult(tag, cred_type, None, "absent", None, "nothing stored; nothing deleted"),
                "delete",
            )
        previous = entries[0].sha.upper() if entries[0].sha else None
        command = commands.cmng_delete(tag, cred_type)
        return self._apply(_Change("delete", tag, cred_type, None, previous, command, "deleted"))

    # -- one protected change -------------------------------------------------------------

    def _apply(self, change: _Change) -> CredResult:
        """Decide the plan, go offline, send, verify; reconcile anything uncertain."""
        plan = self.session.ensure_plan()
        guard = self._held or offline(self.modem)
        attempted = False
        try:
            with guard:
                attempted = True
                self.session.run_protected(
                    change.command, tag=change.tag, cred_type=change.cred_type
                )
            self._verify(change)
        except XsudoError as exc:
            return self._settle(change, exc, guard, attempted)
        return self._record(
            CredResult(
                change.tag,
                change.cred_type,
                change.sha,
                change.action,
                plan.method,
                plan.reason,
                change.previous,
                landed="landed",
            ),
            change.kind,
        )

    def _verify(self, change: _Change) -> None:
        listed = self.stored_sha(change.tag, change.cred_type)
        if change.kind == "write" and listed != change.sha:
            raise VerificationFailed(
                f"after the write the modem lists SHA {listed} for tag {change.tag} type "
                f"{cred_type_label(change.cred_type)}, but the bytes sent hash to {change.sha}",
                "the content was changed on the way; check the port and retry",
            )
        if change.kind == "delete" and self._listed(change.tag, change.cred_type):
            raise VerificationFailed(
                f"after the delete the modem still lists tag {change.tag} type "
                f"{cred_type_label(change.cred_type)}: the entry may be protected",
                f"check what the modem lists under tag {change.tag}",
                remedy=Remedy("list-credentials", {"tag": change.tag}),
            )

    def _settle(
        self, change: _Change, exc: XsudoError, guard: OfflineGuard, attempted: bool
    ) -> CredResult:
        """After ``exc``: read back what the modem holds, restore CFUN if the link answers
        again, record the outcome; return the result when the change landed after a link
        fault, raise ``exc`` (with ``outcome`` set) otherwise."""
        landed: Landed = "not-landed"
        if attempted and not isinstance(exc, BadInputError):
            landed = self._read_back(change)
        guard.retry_restore(exc)
        plan = self.session.plan
        result = CredResult(
            change.tag,
            change.cred_type,
            change.sha,
            "failed",
            plan.method if plan else None,
            plan.reason if plan else "",
            change.previous,
            f"{exc.message}; read back: {landed}",
            landed,
        )
        if landed == "landed" and isinstance(exc, (DeviceError, VerificationFailed)):
            recovered = dataclasses.replace(
                result, action=change.action, message=f"link fault ({exc.message}); read back"
            )
            if guard.restored:
                return self._record(recovered, change.kind)
            recorded = self._record(recovered, change.kind)
            error = guard.error()
            error.outcome = recorded.to_json()
            raise error from exc
        recorded = self._record(result, change.kind)
        _add_landed_note(exc, landed, change)
        exc.outcome = recorded.to_json()
        raise exc

    def _read_back(self, change: _Change) -> Landed:
        """``landed`` / ``not-landed`` / ``unknown`` from the SHA the modem lists now."""
        for _ in range(READ_BACK_ATTEMPTS):
            try:
                listed = self.stored_sha(change.tag, change.cred_type)
                present = listed is not None or self._listed(change.tag, change.cred_type)
            except DeviceReset:
                self._after_reset()
                continue
            except DeviceError:
                if self.modem.channel.closed:
                    return "unknown"
                continue
            if change.kind == "write":
                if listed == change.sha:
                    return "landed"
                return "not-landed" if listed == change.previous else "unknown"
            return "not-landed" if present else "landed"
        return "unknown"

    def _after_reset(self) -> None:
        """A reboot turns numeric error codes off; turn them back on (best effort). What a
        batch preloaded is read again."""
        self._preloaded.clear()
        with contextlib.suppress(XsudoError):
            self.modem.enable_numeric_errors()

    def _listed(self, tag: int, cred_type: int) -> bool:
        return any(e.type == cred_type for e in self.modem.cmng_list(tag, cred_type))

    # -- audit ----------------------------------------------------------------------------

    def _record(self, result: CredResult, kind: Kind) -> CredResult:
        """Append ``result`` to the audit log as a ``kind`` record; return it with the
        log's head."""
        log = self.session.audit
        if log is None:
            return result
        signed = self.session.last_signed if result.auth == "xsudo" else None
        signer = self.session.auth.signer if result.auth == "xsudo" else None
        record = log.append(
            kind,
            device_imei=self.session.imei,
            tag=result.tag,
            type=result.type,
            sha=result.sha,
            previous_sha=result.previous_sha,
            auth=result.auth,
            auth_reason=result.auth_reason,
            key_fingerprint=signed.key_fingerprint if signed else None,
            key_name=signer.name if signer else None,
            data_len=signed.xsudo.data_len if signed else None,
            signed_sha256=signed.sha256 if signed else None,
            result=result.action if result.action != "failed" else f"failed: {result.message}",
            landed=result.landed,
        )
        head = {"seq": record["seq"], "hash": record["hash"]}
        return dataclasses.replace(result, audit_head=head)


def _add_landed_note(exc: XsudoError, landed: Landed, change: _Change) -> None:
    """Tell the user of ``exc`` whether the change landed (and what to check if unknown)."""
    what = "write" if change.kind == "write" else "delete"
    if landed == "landed":
        exc.amend(f"read back: the {what} landed (the modem lists the new state)")
    elif landed == "not-landed":
        exc.amend(f"read back: the {what} did not land (the modem holds what it held before)")
    else:
        exc.amend(f"read back failed: it is unknown whether the {what} landed")
        exc.amend(
            f"check what the modem lists under tag {change.tag} once it answers",
            Remedy("list-credentials", {"tag": change.tag, "later": 1}),
        )
