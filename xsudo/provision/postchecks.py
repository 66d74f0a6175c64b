"""A manifest's last steps on one device, after every credential is written and verified.

Contract (:class:`~xsudo.provision.manifest.Finish`):

* Run only after every credential of the device succeeded (the caller's duty: a device
  that stopped at an error or a refusal never gets here).
* First the expiry check (``[checks] expiry_within_days``): ``%CERTEXPIRY`` for every
  certificate on the device (:mod:`xsudo.provision.expiry`); a certificate that expires
  within the limit, has expired or cannot be read fails the device with
  :class:`ExpiryCheckFailed` (exit 1) and nothing after it runs.
* Then, only if everything before succeeded, ``%XPRODDONE`` (``[finish] production_done``,
  **irreversible**), confirmed with the IMEI this session read from the device itself
  (:mod:`xsudo.provision.production`; audited).
* Each step that ran adds one record to the device's report (:func:`finish_device`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from xsudo.content import cred_type_label
from xsudo.errors import OperationFailed
from xsudo.provision.expiry import ExpiryReport, read_expiry
from xsudo.provision.manifest import Finish
from xsudo.provision.production import confirmation_token, production_done
from xsudo.provision.session import DeviceSession


class ExpiryCheckFailed(OperationFailed):
    """A certificate on the device expires within the manifest's limit (or has expired, or
    cannot be read); ``report`` holds every certificate read."""

    def __init__(self, message: str, hint: str, report: ExpiryReport, within_days: int) -> None:
        super().__init__(message, hint)
        self.report = report
        self.outcome = {"step": "expiry", **report.to_json(within_days)}


def finish_device(
    session: DeviceSession, finish: Finish, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Run ``finish`` on the session's device; return one report record per step run.

    Raises :class:`ExpiryCheckFailed`, or what the steps raise
    (:class:`~xsudo.provision.expiry.CertExpiryUnsupported`,
    :class:`~xsudo.provision.production.ProductionDoneUnsupported`, modem and device
    errors); ``%XPRODDONE`` is then not sent."""
    records: list[dict[str, Any]] = []
    if finish.expiry_within_days is not None:
        records.append(check_expiry(session, finish.expiry_within_days, now=now))
    if finish.production_done:
        done = production_done(session, confirmation_token(session))
        records.append({"step": "production-done", **done.to_json()})
    return records


def check_expiry(
    session: DeviceSession, within_days: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """The expiry check's report record; :class:`ExpiryCheckFailed` when it fails."""
    report = read_expiry(session.modem, now=now)
    failing = report.expiring(within_days)
    if failing:
        first = failing[0]
        what = f"tag {first.tag} {cred_type_label(first.type)}"
        if first.days_left is None:
            detail = f"{what} cannot be checked: {first.error}"
        elif first.days_left < 0:
            detail = f"{what} has expired ({first.days_left} days)"
        else:
            detail = f"{what} expires in {first.days_left} days"
        more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
        raise ExpiryCheckFailed(
            f"certificate expiry check ({within_days} days) failed: {detail}{more}",
            "write a certificate that is valid for longer, or lower [checks] expiry_within_days",
            report,
            within_days,
        )
    return {"step": "expiry", **report.to_json(within_days)}
