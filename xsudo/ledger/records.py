"""What the ledger stores, as plain values (no database code): one :class:`DeviceRecord`
per device provisioned, with one :class:`CredentialEntry` per credential; the
:class:`Claim` a station holds while it provisions a device; :class:`Previous`, what the
last completed run left on a device; :class:`Flag`, an event the ledger refused or marked;
:class:`AuditHeadEntry`, a station's audit log head.

Conventions (docs/reference/json.md): times are aware UTC datetimes (``to_json`` renders
ISO 8601 with ``+00:00``); modem SHAs are 64 upper-case hex digits, key fingerprints 64
lower-case ones, as elsewhere in xsudo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from xsudo.errors import BadInputError

Result = Literal["ok", "failed"]
RESULTS: tuple[str, ...] = ("ok", "failed")

FlagKind = Literal["concurrent-claim", "cloned-identity", "released-claim"]

IMEI_PATTERN = re.compile(r"[0-9]{15}")
"""An IMEI as the modem reports it (``AT+CGSN``): 15 decimal digits."""

LIMITS: Mapping[str, int] = {
    "device_uuid": 64,
    "model": 128,
    "firmware": 128,
    "station": 128,
    "plan_hash": 128,
    "key_fingerprint": 64,
    "type": 32,
    "sha": 64,
    "previous_sha": 64,
    "auth": 16,
    "action": 16,
}
"""The longest text each field may hold (the column sizes of the schema)."""


def check_imei(imei: str) -> str:
    """``imei`` if it is 15 decimal digits, else :class:`BadInputError`."""
    if not isinstance(imei, str) or not IMEI_PATTERN.fullmatch(imei):
        raise BadInputError(
            f"{str(imei)[:40]!r} is not an IMEI", "give the 15 digits the modem reports"
        )
    return imei


def check_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    """``value`` if it fits the column ``name`` (:data:`LIMITS`), else :class:`BadInputError`."""
    if value is None or value == "":
        if required:
            raise BadInputError(f"the ledger needs a {name}", f"give a {name}")
        return None
    if not isinstance(value, str) or len(value) > LIMITS[name]:
        raise BadInputError(
            f"the {name} {str(value)[:40]!r}... is longer than {LIMITS[name]} characters",
            f"give a shorter {name}",
        )
    return value


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already (SQLite returns them)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds (``2026-12-06T05:49:00.123+00:00``), or ``None``."""
    return None if moment is None else as_utc(moment).isoformat(timespec="milliseconds")


def _check_certificate(pem: str, where: str) -> None:
    """:class:`BadInputError` unless ``pem`` is one PEM certificate (never a private key:
    the ledger keeps public material only)."""
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise BadInputError(
            f"the certificate recorded for {where} is not a PEM certificate",
            "give the certificate written (public), or none",
        ) from None


@dataclass(frozen=True)
class CredentialEntry:
    """One credential of a device run: where (``tag``, ``type_id``, ``type`` name), what the
    modem lists (``sha``; ``previous_sha`` before), how it was sent (``auth``: ``xsudo``,
    ``plain`` or ``None`` when nothing was sent) and what happened (``action``, as in a
    ``cred write`` result: ``written``, ``unchanged``, ``replaced``, ``refused``,
    ``failed``; a ``cred delete`` result: ``deleted`` with ``sha`` ``None`` and the SHA
    deleted in ``previous_sha``, or ``absent``; ``keygen`` for a key generated on the
    device, ``issued`` for the CA-signed certificate written back for it). An entry is never
    changed afterwards: a later run's entry at the same tag and type says what became of
    it. ``certificate_pem`` is the public certificate written, when the ledger
    should be able to export it for nRF Cloud onboarding (a client certificate); never a
    private key."""

    tag: int
    type_id: int
    type: str
    action: str
    sha: str | None = None
    previous_sha: str | None = None
    auth: str | None = None
    certificate_pem: str | None = None

    def checked(self) -> CredentialEntry:
        """This entry, if every field fits the schema, else :class:`BadInputError`."""
        if not 0 <= self.tag < 2**32 or not 0 <= self.type_id < 256:
            raise BadInputError(
                f"credential {self.tag}/{self.type_id} is out of range",
                "give a sec_tag below 2^32 and a type id below 256",
            )
        check_text("type", self.type, required=True)
        check_text("action", self.action, required=True)
        check_text("sha", self.sha)
        check_text("previous_sha", self.previous_sha)
        check_text("auth", self.auth)
        if self.certificate_pem is not None:
            _check_certificate(self.certificate_pem, f"{self.tag}/{self.type}")
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "type": self.type,
            "type_id": self.type_id,
            "sha": self.sha,
            "previous_sha": self.previous_sha,
            "auth": self.auth,
            "action": self.action,
            "certificate": self.certificate_pem is not None,
        }


@dataclass(frozen=True)
class DeviceRecord:
    """One device run at one station, as stored (``id`` is the record id)."""

    id: int
    imei: str
    station: str
    result: Result
    started_at: datetime
    finished_at: datetime
    device_uuid: str | None = None
    model: str | None = None
    firmware: str | None = None
    plan_hash: str | None = None
    key_fingerprint: str | None = None
    error: str | None = None
    credentials: tuple[CredentialEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "imei": self.imei,
            "device_uuid": self.device_uuid,
            "model": self.model,
            "firmware": self.firmware,
            "station": self.station,
            "plan_hash": self.plan_hash,
            "key_fingerprint": self.key_fingerprint,
            "result": self.result,
            "error": self.error,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "credentials": [entry.to_json() for entry in self.credentials],
        }


@dataclass(frozen=True)
class Claim:
    """A station's hold on an IMEI while it provisions the device (from
    :meth:`~xsudo.ledger.Ledger.begin_device`); give it back to ``record_device`` or
    ``release``. ``token`` tells this claim from a later one on the same IMEI."""

    imei: str
    station: str
    token: str
    claimed_at: datetime
    device_uuid: str | None = None
    plan_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "imei": self.imei,
            "station": self.station,
            "device_uuid": self.device_uuid,
            "plan_hash": self.plan_hash,
            "claimed_at": iso(self.claimed_at),
        }


@dataclass(frozen=True)
class Previous:
    """What the latest completed (``result == "ok"``) run left on a device: enough to tell
    whether a new run would change anything (same plan hash and same SHAs: ``unchanged``)
    or would replace credentials (a different SHA at a tag/type: needs replace)."""

    record_id: int
    station: str
    finished_at: datetime
    plan_hash: str | None
    device_uuid: str | None
    shas: Mapping[tuple[int, int], str | None] = field(default_factory=dict)
    """The SHA the modem listed after that run, by ``(tag, type_id)``."""

    def sha_for(self, tag: int, type_id: int) -> str | None:
        """The SHA stored at ``tag``/``type_id`` by that run (``None``: nothing recorded)."""
        return self.shas.get((tag, type_id))

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "station": self.station,
            "finished_at": iso(self.finished_at),
            "plan_hash": self.plan_hash,
            "device_uuid": self.device_uuid,
            "credentials": [
                {"tag": tag, "type_id": type_id, "sha": sha}
                for (tag, type_id), sha in sorted(self.shas.items())
            ],
        }


@dataclass(frozen=True)
class Flag:
    """An event the ledger marked on an IMEI: ``concurrent-claim`` (a station asked for an
    IMEI another station held) or ``cloned-identity`` (the IMEI came with another device
    UUID than the ledger knows). ``detail`` names the other side."""

    id: int
    imei: str
    kind: FlagKind
    station: str
    device_uuid: str | None
    detail: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "imei": self.imei,
            "kind": self.kind,
            "station": self.station,
            "device_uuid": self.device_uuid,
            "detail": self.detail,
            "at": iso(self.at),
        }


@dataclass(frozen=True)
class AuditHeadEntry:
    """The newest audit log head a station stored
    (:meth:`~xsudo.ledger.Ledger.store_audit_head`)."""

    station: str
    seq: int
    hash: str
    stored_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "seq": self.seq,
            "hash": self.hash,
            "stored_at": iso(self.stored_at),
        }


@dataclass(frozen=True)
class DeviceHistory:
    """Everything the ledger knows of one IMEI: its records (newest first), its flags
    (newest first), the known device UUID and the claim held on it now, if any."""

    imei: str
    records: tuple[DeviceRecord, ...]
    flags: tuple[Flag, ...]
    device_uuid: str | None
    claim: Claim | None

    def to_json(self) -> dict[str, Any]:
        return {
            "imei": self.imei,
            "device_uuid": self.device_uuid,
            "claim": None if self.claim is None else self.claim.to_json(),
            "records": [record.to_json() for record in self.records],
            "flags": [flag.to_json() for flag in self.flags],
        }


_SPAN = re.compile(r"([0-9]{1,6})\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """The moment ``text`` names: a span back from ``now`` (``30m``, ``12h``, ``7d``, ``2w``)
    or an ISO 8601 date or time (``2026-12-01``, ``2026-12-01T08:00``; UTC unless it says
    otherwise). Raises :class:`BadInputError` for anything else."""
    text = text.strip()
    span = _SPAN.fullmatch(text)
    if span:
        return as_utc(now) - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise BadInputError(
            f"{text[:40]!r} is neither a date nor a span",
            "give an ISO 8601 date or time (2026-12-01, 2026-12-01T08:00Z) or a span "
            "such as 30m, 12h, 7d or 2w",
        ) from None


def record_row(
    *,
    imei: str,
    station: str,
    result: str,
    started_at: datetime,
    finished_at: datetime,
    **optional: str | None,
) -> dict[str, Any]:
    """The ``device_records`` row, every field checked (:class:`BadInputError`), times in
    UTC: what :meth:`~xsudo.ledger.store.Ledger.record_device` and the quick SQLite path of
    :mod:`xsudo.ledger.recording` both insert."""
    check_imei(imei)
    check_text("station", station, required=True)
    if result not in RESULTS:
        raise BadInputError(f"result {result!r} is not one of {', '.join(RESULTS)}")
    for moment in (started_at, finished_at):
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise BadInputError(
                "the ledger needs timezone-aware start and end times", "give UTC datetimes"
            )
    if finished_at < started_at:
        raise BadInputError("the run finished before it started", "check the clock")
    for name, value in optional.items():
        if name != "error":
            check_text(name, value)
    return {
        "imei": imei,
        "station": station,
        "result": result,
        "started_at": as_utc(started_at),
        "finished_at": as_utc(finished_at),
        **optional,
    }
