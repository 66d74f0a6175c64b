"""A plan's values and its payload, the bytes every plan signature covers.

The payload is one JSON object in canonical form: keys sorted, no whitespace, ASCII only
(:func:`canonical_json`). A payload whose bytes are not the canonical form of what they
parse to is refused, so one plan has exactly one byte representation and its hash
(:attr:`VerifiedPlan.plan_hash`) names it::

    {"created": "2026-12-06T06:00:00Z", "entries": [ENTRY, ...], "format": "xsudo-plan",
     "key_fingerprint": HEX64, "key_pem": PEM, "manifest_sha256": HEX64,
     "not_after": "2026-12-13T06:00:00Z", "slot": 0, "version": 1}

    ENTRY = {"action": "write" | "delete", "line": "AT%XSUDO=...;%CMNG=...",
             "replace": false, "sha256": HEX64 | null, "tag": N, "type": 0-5}
          | {"action": "issue", "attributes": "O=Acme" | null, "ca_key": NAME,
             "ca_pem": PEM, "ca_sha256": HEX64, "cn_from": "imei" | "uuid" | null,
             "days": N, "replace": false, "tag": N, "type": 1}

``key_pem`` is the public half of the key that signed the lines (whose fingerprint is
``key_fingerprint``, what the device's slot must hold); the plan signatures vouch for it.

An ``issue`` entry is *signed at the station* (``xsudo plan --station-signs``): the key is
generated on each device (``%KEYGEN``) and its certificate issued from that device's CSR by
the CA in ``ca_pem`` (``ca_sha256``: SHA-256 of its DER), whose key the station's key store
holds as ``ca_key``. It carries no line: the station signs ``%KEYGEN`` and the certificate's
``%CMNG`` write with a key whose fingerprint is ``key_fingerprint``. Its parameters are
covered by the plan signatures like every other entry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from xsudo.errors import BadInputError

PLAN_FORMAT = "xsudo-plan"
PLAN_VERSION = 1
MAX_ENTRIES = 256
"""Most entries a plan may carry (a manifest lists a handful)."""
MAX_SIGNATURES = 16
"""Most signatures (approvals) a plan may carry."""
PLAN_FILE_LIMIT = 4 * 1024 * 1024
"""Largest plan file read (256 lines of at most 4095 bytes, Base64url, fit easily)."""
DEFAULT_VALIDITY = timedelta(days=7)
MAX_VALIDITY = timedelta(days=90)
CLOCK_SKEW = timedelta(minutes=5)
"""How far a plan's ``created`` may lie in the future of the station's clock, by default
(``--clock-skew``)."""
MAX_CLOCK_SKEW = timedelta(days=1)
"""The largest ``--clock-skew`` accepted."""
MAX_ISSUE_DAYS = 36500
"""The longest certificate validity an ``issue`` entry may ask for (days)."""

Action = Literal["write", "delete", "issue"]
CnFrom = Literal["imei", "uuid"]
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class PlanError(BadInputError):
    """A plan that cannot be used, or cannot be made: exit 2, before any device is touched."""


@dataclass(frozen=True)
class StationIssue:
    """The parameters of an entry signed at the station (module docstring): the CA
    certificate (canonical PEM) and the SHA-256 of its DER, the name of the CA key in the
    station's key store, the validity in days, where the CN comes from, extra subject
    attributes."""

    ca_pem: str
    ca_sha256: str
    ca_key: str
    days: int = 365
    cn_from: CnFrom | None = None
    attributes: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ca_pem": self.ca_pem,
            "ca_sha256": self.ca_sha256,
            "ca_key": self.ca_key,
            "days": self.days,
            "cn_from": self.cn_from,
            "attributes": self.attributes,
        }


@dataclass(frozen=True)
class PlanEntry:
    """One protected change: a pre-signed command, or an ``issue`` signed at the station.

    ``line`` is the complete ``AT%XSUDO=...;%CMNG=...`` line exactly as sent (no CR/LF;
    ``""`` for an ``issue``); ``sha256`` the lower-case hex SHA-256 of the canonical content
    of a write (``None`` for a delete and an ``issue``, whose certificate is made at the
    station); ``replace`` whether the manifest allows overwriting different content already
    stored; ``issue`` the parameters of an ``issue`` entry (``None`` otherwise)."""

    action: Action
    tag: int
    type: int
    line: str
    sha256: str | None
    replace: bool = False
    issue: StationIssue | None = None

    @property
    def signed_at(self) -> Literal["plan", "station"]:
        """Where this entry's command is signed: ahead in the plan, or at the station."""
        return "station" if self.action == "issue" else "plan"

    def to_json(self) -> dict[str, Any]:
        if self.issue is not None:
            return {
                "action": self.action,
                "tag": self.tag,
                "type": self.type,
                "replace": self.replace,
                **self.issue.to_json(),
            }
        return {
            "action": self.action,
            "tag": self.tag,
            "type": self.type,
            "line": self.line,
            "sha256": self.sha256,
            "replace": self.replace,
        }


@dataclass(frozen=True)
class VerifiedPlan:
    """A plan whose every check passed (:func:`xsudo.plans.verify.load_and_verify`)."""

    plan_hash: str
    """Lower-case hex SHA-256 of the payload bytes (the JWS payload)."""
    manifest_sha256: str
    key_fingerprint: str
    """Of the key that signed the lines: what the device's slot must hold."""
    slot: int
    created: datetime
    not_after: datetime
    entries: tuple[PlanEntry, ...]
    signers: tuple[str, ...]
    """Fingerprints of the verified plan signatures (trusted keys only)."""
    key_pem: str = ""
    """The PEM of ``key_fingerprint`` as the payload carries it."""

    @property
    def station_signed(self) -> tuple[PlanEntry, ...]:
        """The entries signed at the station (``issue``), in plan order."""
        return tuple(entry for entry in self.entries if entry.issue is not None)


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON: sorted keys, no whitespace, ASCII (``\\u`` escapes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def format_time(moment: datetime) -> str:
    """``2026-12-06T06:00:00Z`` (UTC, whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object, what: str) -> datetime:
    """A time written by :func:`format_time`; :class:`PlanError` for anything else."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise PlanError(f"the plan's {what} is not a UTC time like 2026-12-06T06:00:00Z")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise PlanError(f"the plan's {what} is not a valid date and time") from None


def is_hex64(value: object) -> bool:
    """True for 64 lower-case hex digits (a SHA-256 or key fingerprint)."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``2w`` as a duration, at most :data:`MAX_VALIDITY`."""
    span = _duration(text, "validity", zero=False)
    if span > MAX_VALIDITY:
        raise PlanError(
            f"validity {text} is longer than {MAX_VALIDITY.days} days",
            "a plan's lines stay valid for the key as long as the key is trusted; keep plans "
            "short-lived",
        )
    return span


def parse_clock_skew(text: str) -> timedelta:
    """A ``--clock-skew`` (how far a plan's creation may lie in the station's future), in
    the form of :func:`parse_duration` (``0m`` allowed), at most :data:`MAX_CLOCK_SKEW`."""
    span = _duration(text, "clock skew", zero=True)
    if span > MAX_CLOCK_SKEW:
        raise PlanError(
            f"clock skew {text} is longer than {MAX_CLOCK_SKEW.days} day",
            "set the station's clock right (NTP) instead of widening the tolerance",
        )
    return span


def _duration(text: str, what: str, *, zero: bool) -> timedelta:
    """``<number><unit>`` (m, h, d, w) as a duration; :class:`PlanError` otherwise."""
    number = r"(0|[1-9]\d{0,5})" if zero else r"([1-9]\d{0,5})"
    match = re.fullmatch(number + r"([mhdw])", text.strip(), flags=re.ASCII)
    if match is None:
        raise PlanError(
            f"{what} {text!r} is not a duration", "give a number and a unit: 30m, 12h, 7d, 2w"
        )
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})
