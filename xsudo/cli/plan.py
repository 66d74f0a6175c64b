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
@click.option("--json", "as_json", is_flag=True, help="Print the plan's summary as JSON.")
@passphrase_file_option
def create(
    manifest: Path,
    key_name: str | None,
    slot: int | None,
    expires: str,
    output: Path,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Create a plan: every %CMNG write of MANIFEST, signed ahead as AT%XSUDO lines, in a
    signed JWS file.

    Every file is validated as xsudo provision would. Entries that cannot be signed ahead
    (issue, per-device {imei} files, [checks] and [finish]) are refused with the reason.
    """
    from xsudo.audit.log import AuditLog
    from xsudo.errors import BadInputError
    from xsudo.plans.build import build_plan, write_plan
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
    document, parsed = build_plan(manifest, signer, slot=slot, validity=validity, audit=audit)
    write_plan(output, document)
    if as_json:
        emit_json(_summary(parsed, ()))
        return
    plan = parsed.plan
    note(
        f"wrote {output}: {counted(len(plan.entries), 'entry', 'entries')}, "
        f"key {name} slot {plan.slot}, "
        f"expires {plan.not_after.isoformat()}, plan sha256:{plan.plan_hash}"
    )


@click.command()
@click.argument("plan_path", metavar="PLAN", type=_PATH)
@click.option("--key", "key_name", required=True, help="The approving key (in the key store).")
@passphrase_file_option
def approve(plan_path: Path, key_name: str, passphrase_file: Path | None) -> None:
    """Add a signature by --key to PLAN (the payload stays byte for byte the same).

    A key that has signed the plan already is refused.
    """
    from xsudo.audit.log import AuditLog
    from xsudo.crypto import fingerprint
    from xsudo.plans.build import approve_plan

    audit = AuditLog.in_home(app_context().ensure_home())
    audit.check_appendable()
    signer = key_store(passphrase_file).signer(key_name)
    parsed = approve_plan(plan_path, signer, audit=audit)
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
    """``--trust KEY.pub`` (repeated) and ``--approvals K``: whose signatures on a plan
    count, and how many of them it needs (``apply``, ``station``). At least one ``--trust``
    is required; :func:`verified_plan` says so, after the command's own usage checks."""
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


def verified_plan(plan_path: Path, trust_files: tuple[Path, ...], approvals: int) -> VerifiedPlan:
    """The plan at ``plan_path``, its signatures checked against the ``--trust`` keys
    (:func:`xsudo.plans.verify.load_and_verify`; exit 2 before any port is opened)."""
    from xsudo.plans.verify import load_and_verify

    if not trust_files:
        raise click.UsageError("give --trust KEY.pub: the public key that signed the plan")
    return load_and_verify(plan_path, load_trusted(trust_files), approvals)


def load_trusted(paths: tuple[Path, ...]) -> list[PublicKey]:
    """The public keys in ``paths`` (PEM or DER), each a P-256 key."""
    from xsudo.crypto import load_public_key
    from xsudo.errors import BadInputError
    from xsudo.fileio import read_input

    keys = []
    for path in paths:
        data = read_input(path, "the trusted public key", limit=64 * 1024)
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
            {k: v for k, v in entry.to_json().items() if k != "line"} for entry in plan.entries
        ],
        "signatures": [
            {"fingerprint": kid, "key_name": known.get(kid), "verified": checked.get(kid)}
            for kid in parsed.document.kids
        ],
    }


def _print_summary(summary: dict[str, Any]) -> None:
    from xsudo.content import cred_type_label

    emit(f"plan sha256:{summary['plan_hash']}")
    emit(f"manifest sha256:{summary['manifest_sha256']}")
    key = summary["key_name"] or "not in the key store"
    emit(f"lines signed by {summary['key_fingerprint']} ({key}), slot {summary['slot']}")
    state = "EXPIRED" if summary["expired"] else "valid"
    emit(f"created {summary['created']}, expires {summary['not_after']} ({state})")
    for entry in summary["entries"]:
        sha = f" sha256 {entry['sha256']}" if entry["sha256"] else ""
        replace = " (replace)" if entry["replace"] else ""
        emit(f"  {entry['action']} {entry['tag']}/{cred_type_label(entry['type'])}{sha}{replace}")
    for signature in summary["signatures"]:
        verdict = {True: "verified", False: "DOES NOT VERIFY", None: "not checked (unknown key)"}[
            signature["verified"]
        ]
        name = f" ({signature['key_name']})" if signature["key_name"] else ""
        emit(f"signed by {signature['fingerprint']}{name}: {verdict}")
