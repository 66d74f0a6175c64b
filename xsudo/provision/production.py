"""``AT%XPRODDONE``: mark customer production as done. **Irreversible.**

After it the modem refuses to be programmed with older modem firmware (a smaller version
number), and RF-test AT commands may be disabled (nRF9151 Hardware Verification
Guidelines, "Modem settings"). There is no command to undo it.

Contract:

* Nothing is sent unless ``confirm`` equals the device's IMEI (its firmware UUID when it
  reports no IMEI), read from the device in this session: a typo, or a confirmation meant
  for another board, raises :class:`ConfirmationMismatch` (exit 2) before any byte of
  ``%XPRODDONE`` is sent.
* The audit log must be able to take the record before the command is sent (no change
  without a record); the attempt is recorded whatever its outcome (``done``, ``refused``,
  ``unknown`` after a link fault).
* Sent plain: the AT reference does not list it among the commands ``%XSUDO`` protects.
  CFUN is not changed.
* A firmware without ``%XPRODDONE`` answers a plain ``ERROR``:
  :class:`ProductionDoneUnsupported` (exit 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from xsudo.at import commands
from xsudo.audit.log import AuditHead
from xsudo.errors import BadInputError, DeviceError, ModemError, OperationFailed
from xsudo.provision.session import DeviceSession

EVENT = "production-done"
"""The audit event of every ``%XPRODDONE`` attempt."""


class ConfirmationMismatch(BadInputError):
    """The confirmation does not name this device; nothing was sent."""


class ProductionDoneUnsupported(OperationFailed):
    """The firmware has no ``%XPRODDONE`` (a plain ``ERROR``)."""


@dataclass(frozen=True)
class ProductionDone:
    """``%XPRODDONE`` was accepted by the device ``imei`` (or ``uuid``)."""

    imei: str | None
    uuid: str | None
    audit_head: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "imei": self.imei,
            "firmware_uuid": self.uuid,
            "production_done": True,
            "audit_head": self.audit_head,
        }


def confirmation_token(session: DeviceSession) -> str:
    """What a caller must pass as ``confirm``: the IMEI, else the firmware UUID."""
    identity = session.ensure_identity()
    token = identity.imei or identity.uuid
    if token is None:
        raise OperationFailed(
            "the modem reports neither an IMEI nor a firmware UUID, so production done "
            "cannot be confirmed for it",
            "check that this is the device you mean and that its firmware answers AT+CGSN",
        )
    return token


def production_done(session: DeviceSession, confirm: str) -> ProductionDone:
    """Send ``AT%XPRODDONE`` to the session's device; see the module contract."""
    expected = confirmation_token(session)
    if confirm != expected:
        raise ConfirmationMismatch(
            "the confirmation does not match this device; nothing was sent",
            "confirm with the device's IMEI (its firmware UUID when it has no IMEI)",
        )
    if session.audit is not None:
        session.audit.check_appendable()
    identity = session.ensure_identity()
    try:
        session.modem.command(commands.xproddone())
    except ModemError as exc:
        _record(session, "refused", error=str(exc))
        if exc.kind == "ERROR":
            raise _unsupported(session.modem.numeric_errors) from None
        raise
    except DeviceError as exc:
        _record(session, "unknown", error=str(exc))
        raise
    head = _record(session, "done")
    return dataclasses.replace(
        ProductionDone(identity.imei, identity.uuid), audit_head=head.to_json() if head else None
    )


def _record(session: DeviceSession, result: str, error: str | None = None) -> AuditHead | None:
    if session.audit is None:
        return None
    identity = session.ensure_identity()
    record = session.audit.append(
        EVENT,
        device_imei=identity.imei,
        firmware_uuid=identity.uuid,
        mfw=identity.mfw,
        result=result,
        error=error,
    )
    return AuditHead.of(record)


def _unsupported(numeric: bool) -> ProductionDoneUnsupported:
    if numeric:
        return ProductionDoneUnsupported(
            "this modem firmware has no %XPRODDONE (it answered a plain ERROR); nothing "
            "was changed",
            "production done exists on nRF91x1 firmware (nRF9151 and later); check the "
            "firmware version",
        )
    return ProductionDoneUnsupported(
        "AT%XPRODDONE answered a plain ERROR with numeric error codes off: this firmware "
        "probably has no %XPRODDONE",
        "check that the modem accepts AT+CMEE=1 and the firmware version",
    )
