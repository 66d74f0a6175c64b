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

``key_pem`` is the public half of the key that signed the lines (whose fingerprint is
``key_fingerprint``, what the device's slot must hold); the plan signatures vouch for it.
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
"""How far a plan's ``created`` may lie in the future of the station's clock."""

Action = Literal["write", "delete"]
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class PlanError(BadInputError):
    """A plan that cannot be used, or cannot be made: exit 2, before any device is touched."""


@dataclass(frozen=True)
class PlanEntry:
    """One pre-signed protected command.

    ``line`` is the complete ``AT%XSUDO=...;%CMNG=...`` line exactly as sent (no CR/LF);
    ``sha256`` the lower-case hex SHA-256 of the canonical content of a write (``None`` for
    a delete); ``replace`` whether the manifest allows the write to overwrite different
    content already stored."""

    action: Action
    tag: int
    type: int
    line: str
    sha256: str | None
    replace: bool = False

    def to_json(self) -> dict[str, Any]:
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
    match = re.fullmatch(r"([1-9]\d{0,5})([mhdw])", text.strip())
    if match is None:
        raise PlanError(
            f"validity {text!r} is not a duration", "give a number and a unit: 30m, 12h, 7d, 2w"
        )
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    span = timedelta(**{unit: int(match.group(1))})
    if span > MAX_VALIDITY:
        raise PlanError(
            f"validity {text} is longer than {MAX_VALIDITY.days} days",
            "a plan's lines stay valid for the key as long as the key is trusted; keep plans "
            "short-lived",
        )
    return span
