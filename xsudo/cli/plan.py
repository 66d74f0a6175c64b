"""``xsudo plan``: create a pre-signed plan from a manifest, approve it, show it.

``xsudo plan MANIFEST ...`` is ``xsudo plan create MANIFEST ...`` (the group routes a first
argument that is not a subcommand to ``create``; see :mod:`xsudo.cli.app`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from xsudo.cli.context import app_context
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.output import counted, emit, emit_json, note, warn
from xsudo.cli.params import SLOT

if TYPE_CHECKING:
    from xsudo.crypto import PublicKey
    from xsudo.plans.issue import StationSigners
    from xsudo.plans.model import VerifiedPlan
    from xsudo.plans.verify import ParsedPlan, SignatureStatus

_PATH = click.Path(dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


@click.command("create")
@click.argument("manifest", type=_PATH)
@click.option(
    "--key", "key_name", default=None, help="Signing key (default: the manifest's [defaults] key)."
)
@click.option(
    "--slot", type=SLOT, default=None, help="XPMNG slot (default: the manifest's, else 0)."
)
@click.option(
    "--expires",
    default="7d",
    show_default=True,
    help="How long the plan is valid: 30m, 12h, 7d, 2w (at most 90 days).",
)
@click.option("-o", "--output", type=_PATH, required=True, help="The plan file to write (new).")
@click.option(
    "--station-signs",
    is_flag=True,
    help="Put issue entries (%KEYGEN, certificate from the CSR) in the plan, signed at the "
    "station: it then needs --key's key and the CA keys.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan's summary as JSON.")
@passphrase_file_option
def create(
    manifest: Path,
    key_name: str | None,
    slot: int | None,
    expires: str,
    output: Path,
    station_signs: bool,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a plan: every %CMNG write of MANIFEST, signed ahead as AT%XSUDO lines, in a
    signed JWS file.

    Every file is validated as xsudo provision would. Entries that cannot be signed ahead
    (issue, per-device {imei} files, [checks] and [finish]) are refused with the reason;
    with --station-signs, issue entries go into the plan with their parameters (covered by
    the plan's signature) and are signed at the station.
    """
    from xsudo.audit.log import AuditLog
    from xsudo.errors import BadInputError
    from xsudo.plans.build import NeedsStationSigning, build_plan, write_plan
    from xsudo.plans.model import parse_duration
    from xsudo.provision.manifest import load_manifest

    validity = parse_duration(expires)
    loaded = load_manifest(manifest)
    for unknown in loaded.unknown_keys:
        warn(f"{manifest}: unknown key {unknown!r} ignored")
    name = key_name or loaded.key
    if name is None:
        raise BadInputError(
            "no signing key: the manifest names none", "give --key NAME (a key in the store)"
        )
    if output.exists() or output.is_symlink():
        raise BadInputError(f"{output} exists", "give another -o file, or remove it")
    audit = AuditLog.in_home(app_context().ensure_home())
    audit.check_appendable()
    signer = key_store(passphrase_file).signer(name)
    unlock = getattr(signer, "unlock", None)
    if callable(unlock):
        unlock()
    try:
        document, parsed = build_plan(
            manifest,
            signer,
            slot=slot,
            validity=validity,
            audit=audit,
            station_signs=station_signs,
        )
    except NeedsStationSigning as exc:
        raise BadInputError(
            exc.message,
            "give --station-signs to have the station sign it (it then needs --key's key and "
            "the CA key), or provision it from the manifest (xsudo provision)",
        ) from None
    write_plan(output, document)
    if as_json:
        emit_json(_summary(parsed, ()))
        return
    plan = parsed.plan
    at_station = len(plan.station_signed)
    signed_there = f" ({at_station} signed at the station)" if at_station else ""
    note(
        f"wrote {output}: {counted(len(plan.entries), 'entry', 'entries')}{signed_there}, "
        f"key {name} slot {plan.slot}, "
        f"expires {plan.not_after.isoformat()}, plan sha256:{plan.plan_hash}"
    )


@click.command()
@click.argument("plan_path", metavar="PLAN", type=_PATH)
@click.option("--key", "key_name", required=True, help="The approving key (in the key store).")
@passphrase_file_option
def approve(plan_path: Path, key_name: str, passphrase_file: Path | None) -> None:
    """Add a signature by --key to PLAN (the payload stays byte for byte the same).

    Refused (exit 2, the file unchanged): a key that has signed the plan already, an
    expired plan, and a plan with a signature that does not verify (against the plan's key,
    --key's or a key in the key store).
    """
    from xsudo.audit.log import AuditLog
    from xsudo.crypto import fingerprint
    from xsudo.plans.build import approve_plan

    audit = AuditLog.in_home(app_context().ensure_home())
    audit.check_appendable()
    signer = key_store(passphrase_file).signer(key_name)
    parsed = approve_plan(plan_path, signer, audit=audit, trusted=_known_keys()[1])
    note(
        f"approved {plan_path} with {key_name} ({fingerprint(signer.public_key())}): "
        f"{len(parsed.document.signatures)} signature(s)"
    )


@click.command()
@click.argument("plan_path", metavar="PLAN", type=_PATH)
@click.option(
    "--trust",
    "trust_files",
    multiple=True,
    type=_PATH,
    help="A trusted public key (PEM); repeat. The key store's keys are trusted too.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(plan_path: Path, trust_files: tuple[Path, ...], as_json: bool) -> None:
    """Show what PLAN writes, who signed it, when it expires, and whether it verifies.

    Exit 1 when a signature by a known key does not verify.
    """
    from xsudo.plans.verify import check_signatures, read_plan

    parsed = read_plan(plan_path)
    names, keys = _known_keys()
    trusted = [*keys, *load_trusted(trust_files)]
    statuses = check_signatures(parsed.document, trusted)
    summary = _summary(parsed, statuses, names)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)
    if any(status.valid is False for status in statuses):
        raise click.exceptions.Exit(1)


def trust_options(function: F) -> F:
    """``--trust KEY.pub`` (repeated), ``--approvals K`` and ``--clock-skew``: whose
    signatures on a plan count, how many of them it needs, how far in the future its
    creation may lie (``apply``, ``station``). At least one ``--trust`` is required;
    :func:`verified_plan` says so, after the command's own usage checks."""
    function = click.option(
        "--clock-skew",
        default="5m",
        show_default=True,
        help="How far in this station's future a plan's creation time may lie: 0m, 30m, "
        "12h (at most 1 day).",
    )(function)
    function = click.option(
        "--approvals",
        type=click.IntRange(1, 16),
        default=1,
        show_default=True,
        help="How many distinct trusted keys must have signed the plan.",
    )(function)
    return click.option(
        "--trust",
        "trust_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="A trusted approver's public key (PEM); repeat for each. Required.",
    )(function)


def verified_plan(
    plan_path: Path, trust_files: tuple[Path, ...], approvals: int, clock_skew: str = "5m"
) -> VerifiedPlan:
    """The plan at ``plan_path``, its signatures checked against the ``--trust`` keys
    and its times against this clock with ``--clock-skew``
    (:func:`xsudo.plans.verify.load_and_verify`; exit 2 before any port is opened)."""
    from xsudo.errors import BadInputError
    from xsudo.plans.model import parse_clock_skew
    from xsudo.plans.verify import CreatedInTheFuture, load_and_verify

    if not trust_files:
        raise BadInputError(
            "no trusted key: the plan's signatures cannot be checked",
            f"give --trust KEY.pub, the public key that signed the plan ({EXPORT_PUBLIC})",
        )
    skew = parse_clock_skew(clock_skew)
    try:
        return load_and_verify(plan_path, load_trusted(trust_files), approvals, clock_skew=skew)
    except CreatedInTheFuture as exc:
        raise CreatedInTheFuture(
            exc.message,
            "check the clocks of the station and of the machine that made the plan (or "
            f"allow more with --clock-skew; now {clock_skew.strip()})",
        ) from None


def station_key_options(function: F) -> F:
    """``--key NAME`` (and the key store's passphrase/PIN options): the station's signer
    for a plan's entries signed at the station (``apply``, ``station``)."""
    function = passphrase_file_option(function)
    return click.option(
        "--key",
        "station_key",
        default=None,
        metavar="NAME",
        help="For a plan with entries signed at the station: the plan's line key in the key "
        "store (any store: keyring, file, PKCS#11, command). The CA keys the entries name "
        "are taken from the same store.",
    )(function)


def station_signers(
    plan: VerifiedPlan, key_name: str | None, passphrase_file: Path | None
) -> StationSigners | None:
    """The signers for ``plan``'s entries signed at the station, opened, checked and
    unlocked (:func:`xsudo.plans.issue.open_station_signers`), or ``None`` for a plan
    without any. Exit 2 before any port is opened when ``--key`` is missing, not needed,
    or does not fit."""
    from xsudo.plans.issue import open_station_signers
    from xsudo.plans.model import PlanError

    needed = plan.station_signed
    if not needed and key_name is None:
        return None
    if not needed:
        raise PlanError(
            "the plan has no entries signed at the station; the station needs no key",
            "apply it without --key",
        )
    if key_name is None:
        raise PlanError(
            f"the plan has {counted(len(needed), 'entry', 'entries')} signed at the station "
            f"(issue at tag {needed[0].tag}), and no station key was given",
            f"give --key with the plan's line key ({plan.key_fingerprint[:16]}...); the CA "
            "keys its entries name must be in the same key store",
        )
    store = key_store(passphrase_file)
    return open_station_signers(plan, store.signer(key_name), store.signer)


EXPORT_PUBLIC = "xsudo key export NAME -o NAME.pub"
"""How a user gets a key's public half into a file (the hint of a bad ``--trust``)."""


def load_trusted(paths: tuple[Path, ...]) -> list[PublicKey]:
    """The public keys in ``paths`` (PEM or DER), each a P-256 key. A file that holds a
    private key (PEM, any kind) is refused (exit 2): a station holds no private key."""
    from xsudo.crypto import load_public_key
    from xsudo.errors import BadInputError
    from xsudo.fileio import read_input

    keys = []
    for path in paths:
        data = read_input(
            path,
            "the trusted public key",
            limit=64 * 1024,
            hint=f"give the path of a public key exported with {EXPORT_PUBLIC}",
        )
        if b"PRIVATE KEY-----" in data:
            raise BadInputError(
                f"{path} holds a private key", f"give its public key ({EXPORT_PUBLIC})"
            )
        try:
            keys.append(load_public_key(data))
        except BadInputError as exc:
            raise BadInputError(f"{path}: {exc.message}", exc.hint) from None
    return keys


def _known_keys() -> tuple[dict[str, str], list[PublicKey]]:
    """Names by fingerprint, and public keys, of the local key store (none if unreadable)."""
    from xsudo.crypto import load_public_key
    from xsudo.errors import XsudoError

    names: dict[str, str] = {}
    keys: list[PublicKey] = []
    try:
        records = key_store(None).list()
    except XsudoError as exc:
        warn(f"the key store cannot be read ({exc}); only --trust keys are checked")
        return names, keys
    for record in records:
        try:
            keys.append(load_public_key(record.public_key_pem.encode("ascii")))
        except (XsudoError, UnicodeEncodeError):
            continue
        names[record.fingerprint] = record.name
    return names, keys


def _summary(
    parsed: ParsedPlan,
    statuses: tuple[SignatureStatus, ...],
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    from datetime import UTC, datetime

    plan, known = parsed.plan, names or {}
    checked = {status.kid: status.valid for status in statuses}
    return {
        "plan_hash": plan.plan_hash,
        "manifest_sha256": plan.manifest_sha256,
        "key_fingerprint": plan.key_fingerprint,
        "key_name": known.get(plan.key_fingerprint),
        "slot": plan.slot,
        "created": plan.created.isoformat(),
        "not_after": plan.not_after.isoformat(),
        "expired": datetime.now(UTC) >= plan.not_after,
        "entries": [
            {
                **{k: v for k, v in entry.to_json().items() if k not in ("line", "ca_pem")},
                "signed_at": entry.signed_at,
            }
            for entry in plan.entries
        ],
        "signatures": [
            {"fingerprint": kid, "key_name": known.get(kid), "verified": checked.get(kid)}
            for kid in parsed.document.kids
        ],
    }


def _issue_text(entry: dict[str, Any]) -> str:
    """An issue entry's parameters on one line (key names and attributes escaped: a plan
    file is input)."""
    from xsudo.cli.output import printable

    parts = [
        f"CA sha256 {entry['ca_sha256']}",
        f"CA key {printable(str(entry['ca_key']))}",
        f"{entry['days']} days",
    ]
    if entry["cn_from"]:
        parts.append(f"CN from {entry['cn_from']}")
    if entry["attributes"]:
        parts.append(f"attributes {printable(str(entry['attributes']))}")
    return ", ".join(parts)


def _print_summary(summary: dict[str, Any]) -> None:
    from xsudo.content import cred_type_label

    emit(f"plan sha256:{summary['plan_hash']}")
    emit(f"manifest sha256:{summary['manifest_sha256']}")
    key = summary["key_name"] or "not in the key store"
    emit(f"lines signed by {summary['key_fingerprint']} ({key}), slot {summary['slot']}")
    state = "EXPIRED" if summary["expired"] else "valid"
    emit(f"created {summary['created']}, expires {summary['not_after']} ({state})")
    for entry in summary["entries"]:
        replace = " (replace)" if entry["replace"] else ""
        where = f"{entry['tag']}/{cred_type_label(entry['type'])}"
        if entry["signed_at"] == "station":
            emit(f"  issue {where}{replace}, signed at the station: {_issue_text(entry)}")
            continue
        sha = f" sha256 {entry['sha256']}" if entry["sha256"] else ""
        emit(f"  {entry['action']} {where}{sha}{replace}")
    for signature in summary["signatures"]:
        verdict = {True: "verified", False: "DOES NOT VERIFY", None: "not checked (unknown key)"}[
            signature["verified"]
        ]
        name = f" ({signature['key_name']})" if signature["key_name"] else ""
        emit(f"signed by {signature['fingerprint']}{name}: {verdict}")
