"""Create a plan from a manifest, and add approvals to it.

:func:`build_plan` loads the manifest, refuses what cannot be signed ahead of time (an
``issue`` entry: the key is made on the device and its certificate issued from the CSR,
unless ``station_signs``; a per-device ``{imei}`` file; ``[checks]`` and ``[finish]``,
which run on the device and are not ``%CMNG`` changes), validates and normalises every file
exactly as ``xsudo provision`` does (:func:`xsudo.provision.manifest.prepare_device`),
renders each write as the signed ``AT%XSUDO`` line the writer would send
(:func:`xsudo.at.commands.cmng_write`, :func:`xsudo.signing.sign_command`), and signs the
payload (:mod:`xsudo.plans.jws`). With ``station_signs`` each ``issue`` entry goes into the
plan as an entry *signed at the station* (:mod:`xsudo.plans.issue`): its parameters and CA
certificate, no line. Every line signature and the plan itself are recorded in the audit
log (no content).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from xsudo.at import commands
from xsudo.atomic import write_atomic
from xsudo.audit.log import AuditLog
from xsudo.crypto import PublicKey, fingerprint, public_key_pem
from xsudo.errors import BadInputError
from xsudo.fileio import CREDENTIAL_FILE_LIMIT, MANIFEST_LIMIT, read_input
from xsudo.plans.issue import CLIENT_CERT, ca_certificate, check_issue
from xsudo.plans.jws import CHANGED_AFTER_SIGNING, JwsDocument, add_signature, new_document
from xsudo.plans.model import (
    DEFAULT_VALIDITY,
    MAX_ENTRIES,
    MAX_VALIDITY,
    PLAN_FORMAT,
    PLAN_VERSION,
    PlanEntry,
    PlanError,
    StationIssue,
    canonical_json,
    format_time,
)
from xsudo.plans.verify import ParsedPlan, parse_plan, read_plan
from xsudo.provision.manifest import (
    CredentialSpec,
    Manifest,
    check_decrypt_tags,
    load_manifest,
    prepare_device,
)
from xsudo.signing import Signer, sign_command


class NeedsStationSigning(PlanError):
    """An ``issue`` entry in a plan made without ``station_signs``: it could go in as an
    entry signed at the station (the command line names its option)."""


def refuse_unsignable(manifest: Manifest, station_signs: bool = False) -> None:
    """Raise :class:`PlanError` naming the first entry (or section) a plan cannot carry
    (an ``issue`` entry only without ``station_signs``)."""
    for spec in manifest.credentials:
        where = f"{manifest.path}: [[credential]] #{spec.index}"
        if spec.issue is not None and not station_signs:
            raise NeedsStationSigning(
                f"{where} issues a certificate: the key is generated on each device and its "
                "certificate signed from that device's CSR, so it cannot be signed ahead",
                "let the station sign it (the station then needs the plan's key and the CA "
                "key), or provision it from the manifest",
            )
        if spec.file is not None and ("{" in spec.file or "}" in spec.file):
            raise PlanError(
                f"{where} file {spec.file!r} is per device ({{imei}}): a plan carries only "
                "content that is the same for every device",
                "provision per-device files from the manifest at a station that holds the key",
            )
    if manifest.finish.expiry_within_days is not None or manifest.finish.production_done:
        raise PlanError(
            f"{manifest.path}: [checks] and [finish] run on each device, not as %CMNG "
            "changes, so a plan cannot carry them",
            "remove them from the manifest for the plan (or provision from the manifest)",
        )
    if len(manifest.credentials) > MAX_ENTRIES:
        raise PlanError(f"{manifest.path}: a plan holds at most {MAX_ENTRIES} entries")


def build_plan(
    manifest_path: Path,
    signer: Signer,
    *,
    slot: int | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
    now: datetime | None = None,
    audit: AuditLog | None = None,
    station_signs: bool = False,
) -> tuple[JwsDocument, ParsedPlan]:
    """The signed plan for the manifest at ``manifest_path`` (module contract).

    ``slot`` defaults to the manifest's, else 0. ``station_signs`` puts ``issue`` entries
    in the plan as entries signed at the station (else they are refused). Raises
    :class:`PlanError` (or the manifest's and content's
    :class:`~xsudo.errors.BadInputError`) before anything is signed.
    """
    if not timedelta(0) < validity <= MAX_VALIDITY:
        raise PlanError(f"a plan is valid for at most {MAX_VALIDITY.days} days")
    raw = read_input(manifest_path, "the manifest", limit=MANIFEST_LIMIT)
    manifest = load_manifest(manifest_path)
    refuse_unsignable(manifest, station_signs)
    check_decrypt_tags(manifest, "required")  # every plan line is an authenticated write
    chosen = slot if slot is not None else (manifest.slot if manifest.slot is not None else 0)
    files = tuple(spec for spec in manifest.credentials if spec.issue is None)
    prepared = prepare_device(dataclasses.replace(manifest, credentials=files), None, signing=True)
    issued = {
        spec.index: _station_entry(manifest, spec)
        for spec in manifest.credentials
        if spec.issue is not None
    }
    if audit is not None:
        audit.check_appendable()  # no signature without a record
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    key = signer.public_key()
    key_fp = fingerprint(key)
    written: dict[int, PlanEntry] = {}
    for item in prepared:
        assert item.item is not None  # files only: issue entries are not prepared
        command = commands.cmng_write(item.item.tag, int(item.item.cred_type), item.item.content)
        signed = sign_command(command.body(), signer, slot=chosen)
        if audit is not None:
            audit.append(
                "sign",
                **signed.audit_fields(),
                tag=item.item.tag,
                type=int(item.item.cred_type),
                result="plan",
            )
        written[item.spec.index] = PlanEntry(
            "write",
            item.item.tag,
            int(item.item.cred_type),
            signed.line,
            hashlib.sha256(item.item.content).hexdigest(),
            item.spec.replace,
        )
    entries = [
        written.get(spec.index) or issued[spec.index] for spec in manifest.credentials
    ]  # manifest order
    payload = canonical_json(
        {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "created": format_time(created),
            "not_after": format_time(created + validity),
            "manifest_sha256": hashlib.sha256(raw).hexdigest(),
            "key_fingerprint": key_fp,
            "key_pem": public_key_pem(key),
            "slot": chosen,
            "entries": [entry.to_json() for entry in entries],
        }
    )
    document = new_document(payload, signer)
    parsed = parse_plan(document.to_bytes())  # the plan as any station will read it
    if audit is not None:
        audit.append(
            "plan",
            plan_hash=parsed.plan.plan_hash,
            manifest_sha256=parsed.plan.manifest_sha256,
            key_fingerprint=key_fp,
            key_name=signer.name,
            slot=chosen,
            entries=len(entries),
            station_signed=len(issued),
            not_after=format_time(parsed.plan.not_after),
            result="created",
        )
    return document, parsed


def _station_entry(manifest: Manifest, spec: CredentialSpec) -> PlanEntry:
    """The plan entry, signed at the station, of the ``issue`` entry ``spec``: its CA
    certificate read (relative to the manifest) and checked, its parameters checked."""
    assert spec.issue is not None
    where = f"{manifest.path}: [[credential]] #{spec.index} issue"
    path = Path(spec.issue.ca)
    path = path if path.is_absolute() else manifest.base_dir / path
    try:
        data = read_input(path, "the CA certificate", limit=CREDENTIAL_FILE_LIMIT)
    except BadInputError as exc:
        raise PlanError(f"{where}: {exc.message}", exc.hint) from None
    pem, sha = ca_certificate(data, where)
    issue = StationIssue(
        pem, sha, spec.issue.ca_key, spec.issue.days, spec.issue.cn_from, spec.issue.attributes
    )
    check_issue(spec.tag, issue, where)
    return PlanEntry("issue", spec.tag, CLIENT_CERT, "", None, spec.replace, issue)


def approve_plan(
    path: Path,
    signer: Signer,
    *,
    audit: AuditLog | None = None,
    trusted: Sequence[PublicKey] = (),
    now: datetime | None = None,
) -> ParsedPlan:
    """Add ``signer``'s signature to the plan in ``path`` (rewritten in place, payload
    bytes unchanged). Refuses (:class:`PlanError`, nothing written) a key that has signed
    it already, an expired plan, and a plan with a signature that does not verify against
    a key it can check: the plan's own key (``key_pem``), ``signer``'s and ``trusted``."""
    from xsudo.crypto import load_public_key
    from xsudo.plans.verify import check_signatures

    parsed = read_plan(path)
    plan = parsed.plan
    if (now or datetime.now(UTC)) >= plan.not_after:
        raise PlanError(
            f"the plan expired at {plan.not_after.isoformat()}; it was not approved",
            "make a new plan",
        )
    keys = [load_public_key(plan.key_pem.encode("ascii")), signer.public_key(), *trusted]
    bad = [s.kid for s in check_signatures(parsed.document, keys) if s.valid is False]
    if bad:
        raise PlanError(
            f"the plan signature by key {bad[0]} does not verify: the plan was changed after "
            "it was signed; it was not approved",
            CHANGED_AFTER_SIGNING,
        )
    document = add_signature(parsed.document, signer)
    if audit is not None:
        audit.check_appendable()
    write_plan(path, document, replace=True)
    if audit is not None:
        audit.append(
            "plan",
            plan_hash=parsed.plan.plan_hash,
            key_fingerprint=fingerprint(signer.public_key()),
            key_name=signer.name,
            result="approved",
        )
    return parse_plan(document.to_bytes())


def write_plan(path: Path, document: JwsDocument, *, replace: bool = False) -> None:
    """Write the plan file atomically (mode 0644: a plan holds no secret)."""
    try:
        write_atomic(path, document.to_bytes(), mode=0o644, replace=replace)
    except FileExistsError:
        raise PlanError(f"{path} exists", "give another -o file, or remove it") from None
    except OSError as exc:
        raise BadInputError(f"cannot write the plan {path}: {exc.strerror or exc}") from None
