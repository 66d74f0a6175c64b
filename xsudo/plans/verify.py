"""Load a plan and check everything about it before any port is opened.

:func:`load_and_verify` refuses (:class:`~xsudo.plans.model.PlanError`, exit 2):

* a file over :data:`~xsudo.plans.model.PLAN_FILE_LIMIT`, or not a strict JWS JSON
  document (:func:`xsudo.plans.jws.parse_document`);
* a signature by a trusted key that does not verify (the payload or the signature changed),
  or fewer than ``approvals`` distinct trusted keys whose signatures verify (signatures by
  keys not trusted are not counted);
* a payload that is not canonical JSON, or does not follow the schema
  (:mod:`xsudo.plans.model`); an expired plan, or one created in the future;
* an entry whose line is not exactly ``AT%XSUDO=<len>,"<sig>",<slot>;<body>`` with the
  plan's slot, or whose body is not exactly the ``%CMNG`` write (delete) of the entry's tag
  and type (a plan cannot smuggle another command), or whose content does not hash to the
  entry's SHA-256, or whose signature does not verify against the plan's line key;
* an ``issue`` entry (signed at the station) that is not a client certificate, whose CA
  certificate is not a canonical PEM P-256 CA certificate hashing (DER) to ``ca_sha256``,
  whose parameters do not pass :func:`xsudo.plans.issue.check_issue`, or whose tag another
  entry also changes the client key of (``%KEYGEN`` makes that key).

The line key (``key_fingerprint``) is the public key embedded in the payload (``key_pem``):
the plan signatures vouch for it, so a station needs only the approvers' public keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from xsudo.at import commands
from xsudo.command import build_xsudo_line, check_command_text, parse_xsudo_line
from xsudo.crypto import PublicKey, fingerprint, load_public_key, verify_digest
from xsudo.encoding import b64decode_strict, decode_any
from xsudo.errors import BadInputError
from xsudo.fileio import read_input
from xsudo.limits import XPMNG_SLOTS
from xsudo.plans.issue import CLIENT_CERT, CLIENT_KEY, ca_certificate, check_issue
from xsudo.plans.jws import CHANGED_AFTER_SIGNING, JwsDocument, parse_document, strict_json
from xsudo.plans.model import (
    CLOCK_SKEW,
    MAX_ENTRIES,
    MAX_VALIDITY,
    PLAN_FILE_LIMIT,
    PLAN_FORMAT,
    PLAN_VERSION,
    PlanEntry,
    PlanError,
    StationIssue,
    VerifiedPlan,
    canonical_json,
    is_hex64,
    parse_time,
)

_PAYLOAD_KEYS = {
    "created",
    "entries",
    "format",
    "key_fingerprint",
    "key_pem",
    "manifest_sha256",
    "not_after",
    "slot",
    "version",
}
_ENTRY_KEYS = {"action", "line", "replace", "sha256", "tag", "type"}
_ISSUE_KEYS = {
    "action",
    "attributes",
    "ca_key",
    "ca_pem",
    "ca_sha256",
    "cn_from",
    "days",
    "replace",
    "tag",
    "type",
}
_HOST_TYPES = range(6)
"""Credential types a host writes (ca-cert .. public-key)."""


class CreatedInTheFuture(PlanError):
    """The plan's creation time lies further in the future than the clock skew allows."""


@dataclass(frozen=True)
class SignatureStatus:
    """One plan signature: its key's fingerprint and whether it verified (``None``: the
    key is not trusted, so it was not checked)."""

    kid: str
    valid: bool | None


@dataclass(frozen=True)
class ParsedPlan:
    """A plan file whose structure, payload and lines are checked (signatures not yet)."""

    document: JwsDocument
    plan: VerifiedPlan
    """The plan, with ``signers`` empty until :func:`check_signatures`."""


def _read(path: Path) -> bytes:
    try:
        return read_input(path, "the plan", limit=PLAN_FILE_LIMIT)
    except BadInputError as exc:
        raise PlanError(exc.message, exc.hint) from None


def read_plan(path: Path) -> ParsedPlan:
    """Read and check ``path`` except for its plan signatures and its validity period."""
    return parse_plan(_read(path))


def parse_plan(data: bytes) -> ParsedPlan:
    """:func:`read_plan` for bytes in memory."""
    document = parse_document(data)
    return ParsedPlan(document, _payload(document))


def check_signatures(
    document: JwsDocument, trusted: Sequence[PublicKey]
) -> tuple[SignatureStatus, ...]:
    """Check every signature whose key is in ``trusted``; the others are reported
    unchecked (``valid`` ``None``)."""
    keys = {fingerprint(key): key for key in trusted}
    statuses = []
    for signature in document.signatures:
        key = keys.get(signature.kid)
        valid = None if key is None else signature.verifies(document.payload_b64, key)
        statuses.append(SignatureStatus(signature.kid, valid))
    return tuple(statuses)


def load_and_verify(
    path: Path,
    trusted: Sequence[PublicKey],
    approvals: int = 1,
    now: datetime | None = None,
    clock_skew: timedelta = CLOCK_SKEW,
) -> VerifiedPlan:
    """The plan in ``path`` once every check of the module contract passed: the
    signatures first (a changed byte is reported as such), then the payload. A plan
    created up to ``clock_skew`` in the future of ``now`` is accepted."""
    return verify_bytes(_read(path), trusted, approvals, now, clock_skew)


def verify_bytes(
    data: bytes,
    trusted: Sequence[PublicKey],
    approvals: int = 1,
    now: datetime | None = None,
    clock_skew: timedelta = CLOCK_SKEW,
) -> VerifiedPlan:
    """:func:`load_and_verify` for a plan's bytes in memory."""
    if approvals < 1:
        raise PlanError("the number of approvals must be at least 1")
    document = parse_document(data)
    statuses = check_signatures(document, trusted)
    bad = [status.kid for status in statuses if status.valid is False]
    if bad:
        raise PlanError(
            f"the plan signature by key {bad[0]} does not verify: the plan was changed after "
            "it was signed",
            "use the plan file as it was written and approved; do not edit it",
        )
    signers = tuple(status.kid for status in statuses if status.valid)
    if len(signers) < approvals:
        raise PlanError(
            f"the plan carries {len(signers)} verified signature(s) by trusted keys, "
            f"{approvals} required",
            "trust the approvers' public keys, or have the plan approved by more keys",
        )
    plan = _payload(document)
    check_validity(plan, now, clock_skew)
    return VerifiedPlan(
        plan.plan_hash,
        plan.manifest_sha256,
        plan.key_fingerprint,
        plan.slot,
        plan.created,
        plan.not_after,
        plan.entries,
        signers,
        plan.key_pem,
    )


def check_validity(
    plan: VerifiedPlan, now: datetime | None = None, clock_skew: timedelta = CLOCK_SKEW
) -> None:
    """Refuse an expired plan, or one created later than ``now`` plus ``clock_skew``."""
    if clock_skew < timedelta(0):
        raise PlanError("the clock skew must not be negative")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if moment >= plan.not_after:
        raise PlanError(
            f"the plan expired at {plan.not_after.isoformat()}",
            "create a new plan (xsudo plan) and have it approved again",
        )
    if plan.created > moment + clock_skew:
        raise CreatedInTheFuture(
            f"the plan was created at {plan.created.isoformat()}, more than "
            f"{_span(clock_skew)} in the future of this station's clock "
            f"({moment.replace(microsecond=0).isoformat()})",
            "check the clocks of the station and of the machine that made the plan (or "
            "allow a larger clock skew)",
        )


def _span(span: timedelta) -> str:
    """``5 minutes``, ``1 hour``, ``0 seconds``: a tolerance as words."""
    seconds = int(span.total_seconds())
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


# -- the payload ------------------------------------------------------------------------


def _payload(document: JwsDocument) -> VerifiedPlan:
    data = document.payload
    payload = strict_json(data, "plan payload", CHANGED_AFTER_SIGNING)
    if not isinstance(payload, dict) or set(payload) != _PAYLOAD_KEYS:
        raise PlanError(
            "the plan payload does not have the fields of an xsudo plan",
            f"expected exactly {', '.join(sorted(_PAYLOAD_KEYS))}",
        )
    if canonical_json(payload) != data:
        raise PlanError("the plan payload is not in canonical form (sorted keys, no spaces)")
    version = payload["version"]
    if payload["format"] != PLAN_FORMAT or type(version) is not int or version != PLAN_VERSION:
        raise PlanError(
            f"the plan is format {payload['format']!r} version {payload['version']!r}; this "
            f"xsudo reads {PLAN_FORMAT!r} version {PLAN_VERSION}",
            "use the xsudo version that wrote the plan, or create it again",
        )
    created = parse_time(payload["created"], "created time")
    not_after = parse_time(payload["not_after"], "expiry (not_after)")
    if not created < not_after <= created + MAX_VALIDITY:
        raise PlanError(
            f"the plan's validity must be after its creation and at most {MAX_VALIDITY.days} days"
        )
    for name in ("manifest_sha256", "key_fingerprint"):
        if not is_hex64(payload[name]):
            raise PlanError(f"the plan's {name} is not 64 lower-case hex digits")
    slot = payload["slot"]
    if isinstance(slot, bool) or not isinstance(slot, int) or slot not in XPMNG_SLOTS:
        raise PlanError(f"the plan's slot must be 0-{XPMNG_SLOTS.stop - 1}")
    key = _line_key(payload["key_pem"], payload["key_fingerprint"])
    entries = _entries(payload["entries"], slot, key)
    return VerifiedPlan(
        hashlib.sha256(data).hexdigest(),
        payload["manifest_sha256"],
        payload["key_fingerprint"],
        slot,
        created,
        not_after,
        entries,
        (),
        payload["key_pem"],
    )


def _line_key(pem: Any, expected: str) -> PublicKey:
    if not isinstance(pem, str):
        raise PlanError("the plan's key_pem is not a PEM public key")
    try:
        key = load_public_key(pem.encode("ascii"))
    except (BadInputError, UnicodeEncodeError):
        raise PlanError("the plan's key_pem is not a P-256 public key") from None
    if fingerprint(key) != expected:
        raise PlanError("the plan's key_pem does not have the plan's key_fingerprint")
    return key


def _entries(value: Any, slot: int, key: PublicKey) -> tuple[PlanEntry, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ENTRIES:
        raise PlanError(f"the plan must hold 1 to {MAX_ENTRIES} entries")
    entries = tuple(_entry(item, index, slot, key) for index, item in enumerate(value, start=1))
    seen: set[tuple[int, int]] = set()
    for entry in entries:
        if (entry.tag, entry.type) in seen:
            raise PlanError(f"the plan changes tag {entry.tag} type {entry.type} twice")
        seen.add((entry.tag, entry.type))
    for entry in entries:
        if entry.issue is not None and (entry.tag, CLIENT_KEY) in seen:
            raise PlanError(
                f"the plan issues a certificate at tag {entry.tag} (the key is made on the "
                "device) and also changes that tag's client key"
            )
    return entries


def _entry(item: Any, index: int, slot: int, key: PublicKey) -> PlanEntry:
    where = f"plan entry #{index}"
    if isinstance(item, dict) and item.get("action") == "issue":
        return _issue_entry(item, where)
    if not isinstance(item, dict) or set(item) != _ENTRY_KEYS:
        raise PlanError(f"{where} must have exactly {', '.join(sorted(_ENTRY_KEYS))}")
    action, tag, cred_type = item["action"], item["tag"], item["type"]
    if action not in ("write", "delete"):
        raise PlanError(f"{where}: action must be write or delete")
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag < 2**32:
        raise PlanError(f"{where}: tag must be a sec_tag (0-4294967295)")
    if type(cred_type) is not int or cred_type not in _HOST_TYPES:
        raise PlanError(f"{where}: type must be a host credential type (0-5)")
    if not isinstance(item["replace"], bool):
        raise PlanError(f"{where}: replace must be true or false")
    sha = item["sha256"]
    if (action == "write" and not is_hex64(sha)) or (action == "delete" and sha is not None):
        raise PlanError(f"{where}: sha256 must be 64 hex digits for a write, null for a delete")
    line = item["line"]
    if not isinstance(line, str):
        raise PlanError(f"{where}: line must be a string")
    entry = PlanEntry(action, tag, cred_type, line, sha, item["replace"])
    check_line(entry, slot, key, where)
    return entry


def _issue_entry(item: dict[str, Any], where: str) -> PlanEntry:
    """An ``issue`` entry, signed at the station (module contract)."""
    if set(item) != _ISSUE_KEYS:
        raise PlanError(f"{where} (issue) must have exactly {', '.join(sorted(_ISSUE_KEYS))}")
    tag, cred_type = item["tag"], item["type"]
    if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag < 2**32:
        raise PlanError(f"{where}: tag must be a sec_tag (0-4294967295)")
    if type(cred_type) is not int or cred_type != CLIENT_CERT:
        raise PlanError(f"{where}: an issue entry is a client certificate (type {CLIENT_CERT})")
    if not isinstance(item["replace"], bool):
        raise PlanError(f"{where}: replace must be true or false")
    pem, sha = item["ca_pem"], item["ca_sha256"]
    if not isinstance(pem, str) or not pem.isascii() or not is_hex64(sha):
        raise PlanError(f"{where}: ca_pem must be PEM text and ca_sha256 64 hex digits")
    canonical, digest = ca_certificate(pem.encode("ascii"), where)
    if canonical != pem:
        raise PlanError(f"{where}: ca_pem is not one certificate in canonical PEM")
    if digest != sha:
        raise PlanError(f"{where}: the CA certificate does not hash to the entry's ca_sha256")
    issue = StationIssue(
        pem, sha, item["ca_key"], item["days"], item["cn_from"], item["attributes"]
    )
    check_issue(tag, issue, where)
    return PlanEntry("issue", tag, cred_type, "", None, item["replace"], issue)


def check_line(entry: PlanEntry, slot: int, key: PublicKey, where: str) -> None:
    """The line is the entry's own ``%CMNG`` command, signed by ``key`` for ``slot``."""
    try:
        raw = check_command_text(entry.line, what=f"{where} line")
        parsed = parse_xsudo_line(raw)
        rebuilt = build_xsudo_line(parsed.body, parsed.signature_text, parsed.slot).render()
    except BadInputError as exc:
        raise PlanError(f"{where}: {exc.message}") from None
    if rebuilt != raw or parsed.slot != slot or parsed.data_len != len(parsed.body):
        raise PlanError(
            f"{where}: the line is not a canonical %XSUDO line for slot {slot} (one "
            "signature, data_len equal to the command's length, no spaces)"
        )
    expected = _expected_body(entry, parsed.body, where)
    if parsed.body != expected:
        raise PlanError(
            f"{where}: the signed command is not the entry's %CMNG "
            f"{'write' if entry.action == 'write' else 'delete'} of tag {entry.tag} type "
            f"{entry.type}"
        )
    try:
        _, r, s = decode_any(b64decode_strict(parsed.signature_text))
    except BadInputError as exc:
        raise PlanError(f"{where}: {exc.message}") from None
    if not verify_digest(key, hashlib.sha256(parsed.body).digest(), r, s):
        raise PlanError(f"{where}: the line's signature does not verify against the plan's key")


def _expected_body(entry: PlanEntry, body: bytes, where: str) -> bytes:
    """The one body the entry may carry: ``%CMNG=3,<tag>,<type>`` for a delete, and for a
    write ``%CMNG=0,<tag>,<type>,"<content>"`` with content hashing to ``sha256``."""
    if entry.action == "delete":
        return commands.cmng_delete(entry.tag, entry.type).body()
    template = commands.cmng_write(entry.tag, entry.type, "x").body()
    prefix = template[: -len(b'x"')]  # the write's text up to its content's opening quote
    if not body.startswith(prefix) or not body.endswith(b'"') or len(body) <= len(prefix) + 1:
        return b""
    content = body[len(prefix) : -1]
    if hashlib.sha256(content).hexdigest() != entry.sha256:
        raise PlanError(f"{where}: the line's content does not hash to the entry's sha256")
    try:
        return commands.cmng_write(entry.tag, entry.type, content).body()
    except BadInputError:
        return b""
