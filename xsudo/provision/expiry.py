"""Certificate expiry on the device: ``%CERTEXPIRY`` for every certificate the modem lists.

Contract:

* Read-only: ``AT%CMNG=1[,<tag>]`` lists the entries, then one
  ``AT%CERTEXPIRY=<tag>,<type>`` per certificate (types 0 and 1; the command takes sec_tags
  1-2147483647, so a certificate on tag 0 is listed as ``skipped``). CFUN is not touched.
* The reply is device text and parsed strictly (:func:`parse_certexpiry`): the serial is
  1-42 hex digits (an X.509 serial is at most 20 octets, plus the sign octet), both times
  exactly ``yyyymmddhhmmssZ`` and real UTC dates, notBefore not after notAfter. Anything else
  raises :class:`~xsudo.at.parse.ResponseFormatError` (exit 3).
* A firmware without ``%CERTEXPIRY`` answers the first query with a plain ``ERROR``:
  :class:`CertExpiryUnsupported` (exit 1), nothing else is asked. An entry that vanished
  (513) or whose content the modem cannot parse (527) is reported on its own line
  (``error``), and the other certificates are still read.
* ``days_left`` is whole days from the time of the read to notAfter, rounded down (negative
  once expired). :meth:`ExpiryReport.expiring` is what ``--within DAYS`` checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from xsudo.at import commands
from xsudo.at.modem import Modem
from xsudo.at.parse import ResponseFormatError
from xsudo.content import cred_type_label
from xsudo.errors import CmeCode, ModemError, OperationFailed
from xsudo.limits import MAX_USER_SEC_TAG

CERTIFICATE_TYPES = (0, 1)
"""The ``%CMNG`` types read: CA certificates and client certificates."""

MAX_SERIAL_HEX = 42
"""Longest serial accepted: 20 octets (RFC 5280's bound) plus a leading ``00`` sign octet."""

_LINE = re.compile(rb"%CERTEXPIRY: ?([0-9A-Fa-f]{1,42}),(\d{14})Z,(\d{14})Z")
_TIME = "%Y%m%d%H%M%S"

Status = Literal["valid", "expiring", "expired", "unreadable", "skipped"]


class CertExpiryUnsupported(OperationFailed):
    """The firmware has no ``%CERTEXPIRY`` (a plain ``ERROR`` to the query)."""


@dataclass(frozen=True)
class CertExpiry:
    """One certificate's validity as the modem reports it, or why it could not be read."""

    tag: int
    type: int
    serial: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    days_left: int | None = None
    error: str | None = None
    skipped: bool = False

    def status(self, within_days: int | None = None) -> Status:
        """``expired``, ``expiring`` (within ``within_days``), ``valid``, ``unreadable``
        (the modem refused the query) or ``skipped`` (a tag %CERTEXPIRY cannot take)."""
        if self.skipped:
            return "skipped"
        if self.days_left is None:
            return "unreadable"
        if self.not_after is not None and self.days_left < 0:
            return "expired"
        if within_days is not None and self.days_left < within_days:
            return "expiring"
        return "valid"

    def to_json(self, within_days: int | None = None) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "type": cred_type_label(self.type),
            "type_id": self.type,
            "serial": self.serial,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "days_left": self.days_left,
            "status": self.status(within_days),
            "error": self.error,
        }


@dataclass(frozen=True)
class ExpiryReport:
    """Every certificate read (in the modem's list order) and when it was read."""

    certificates: tuple[CertExpiry, ...]
    checked_at: datetime

    def expiring(self, within_days: int) -> tuple[CertExpiry, ...]:
        """Certificates that expire within ``within_days`` days (or have expired), and those
        the modem could not report on: what fails a ``within`` check."""
        return tuple(
            c
            for c in self.certificates
            if c.status(within_days) in ("expired", "expiring", "unreadable")
        )

    def to_json(self, within_days: int | None = None) -> dict[str, Any]:
        failing = self.expiring(within_days) if within_days is not None else ()
        return {
            "checked_at": _iso(self.checked_at),
            "within_days": within_days,
            "ok": not failing,
            "certificates": [c.to_json(within_days) for c in self.certificates],
        }


def parse_certexpiry(line: bytes) -> tuple[str, datetime, datetime]:
    """``(serial, not_before, not_after)`` from ``%CERTEXPIRY: <serial>,<nb>,<na>`` (serial
    upper-case, times aware UTC); :class:`ResponseFormatError` for anything else."""
    match = _LINE.fullmatch(line.strip(b" \t"))
    if match is None:
        raise ResponseFormatError(
            f"the modem's %CERTEXPIRY answer is not <serial>,<notBefore>,<notAfter>: "
            f"{_shown(line)}",
            "check that the port is an nRF91 modem's AT interface",
        )
    serial, before, after = match.groups()
    not_before, not_after = _time(before), _time(after)
    if not_before > not_after:
        raise ResponseFormatError(
            "the modem's %CERTEXPIRY answer has notBefore after notAfter",
            "check the certificate stored on the device",
        )
    return serial.decode("ascii").upper(), not_before, not_after


def _time(digits: bytes) -> datetime:
    try:
        return datetime.strptime(digits.decode("ascii"), _TIME).replace(tzinfo=UTC)
    except ValueError:
        raise ResponseFormatError(
            f"the modem's %CERTEXPIRY answer has an impossible date {_shown(digits)}Z",
            "check that the port is an nRF91 modem's AT interface",
        ) from None


def _shown(data: bytes) -> str:
    return repr(data[:80].decode("ascii", "replace"))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_expiry(
    modem: Modem, tag: int | None = None, *, now: datetime | None = None
) -> ExpiryReport:
    """Query every certificate (under ``tag``) the modem lists; see the module contract."""
    when = now or datetime.now(UTC)
    entries = [e for e in modem.cmng_list(tag) if e.type in CERTIFICATE_TYPES]
    found = []
    for entry in entries:
        if not 1 <= entry.tag <= MAX_USER_SEC_TAG:
            why = f"%CERTEXPIRY takes sec_tags 1-{MAX_USER_SEC_TAG}"
            found.append(CertExpiry(entry.tag, entry.type, error=why, skipped=True))
            continue
        found.append(_query(modem, entry.tag, entry.type, when))
    return ExpiryReport(tuple(found), when)


def _query(modem: Modem, tag: int, type_: int, now: datetime) -> CertExpiry:
    try:
        response = modem.command(commands.certexpiry(tag, type_))
    except ModemError as exc:
        if exc.kind == "ERROR":
            raise _unsupported(modem.numeric_errors) from None
        if exc.code in (CmeCode.NOT_FOUND, CmeCode.INVALID_CONTENT):
            return CertExpiry(tag, type_, error=_refusal(exc.code))
        raise
    lines = response.with_prefix("%CERTEXPIRY:")
    if not lines:
        raise ResponseFormatError(
            "the modem answered AT%CERTEXPIRY without a %CERTEXPIRY line",
            "check that the port is an nRF91 modem's AT interface",
        )
    serial, not_before, not_after = parse_certexpiry(lines[0])
    days = (not_after - now) // timedelta(days=1)
    return CertExpiry(tag, type_, serial, not_before, not_after, days)


def _refusal(code: int) -> str:
    if code == CmeCode.NOT_FOUND:
        return "not found (513): the entry went away after it was listed"
    return "invalid content (527): the modem cannot parse the stored certificate"


def _unsupported(numeric: bool) -> CertExpiryUnsupported:
    if numeric:
        return CertExpiryUnsupported(
            "this modem firmware has no %CERTEXPIRY (it answered a plain ERROR)",
            "certificate expiry needs a firmware that documents %CERTEXPIRY; check the "
            "certificate files instead",
        )
    return CertExpiryUnsupported(
        "AT%CERTEXPIRY answered a plain ERROR with numeric error codes off: this firmware "
        "probably has no %CERTEXPIRY",
        "check that the modem accepts AT+CMEE=1, or check the certificate files instead",
    )
