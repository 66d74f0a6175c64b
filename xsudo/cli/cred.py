"""``xsudo cred list|write|delete|check|expiry``: credentials on the modem."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from xsudo.cli import print_error
from xsudo.cli.deviceopts import (
    AuthRequest,
    Connection,
    auth_options,
    auth_settings,
    open_device,
    port_options,
    tag_option,
)
from xsudo.cli.inputs import read_file
from xsudo.cli.keyopts import passphrase_file_option
from xsudo.cli.ledger import ledger_option
from xsudo.cli.output import (
    cell,
    emit,
    emit_json,
    file_option,
    json_option,
    note,
    stdout_console,
    warn,
)

if TYPE_CHECKING:
    from xsudo.content import CredType, Preflight
    from xsudo.device import BulkDelete, Credential, Device
    from xsudo.ledger.recording import DeviceRun, RunLedger
    from xsudo.provision.expiry import ExpiryReport
    from xsudo.provision.policy import AuthSettings
    from xsudo.provision.writer import CredResult

F = TypeVar("F", bound=Callable[..., Any])


_TYPES_HELP = "ca-cert (0), client-cert (1), client-key (2), psk (3), psk-id (4)"


def _type_option(required: bool = True, *, public_key: bool = True) -> Callable[[F], F]:
    return click.option(
        "--type",
        "cred_type",
        required=required,
        help=_TYPES_HELP + (", public-key (5)." if public_key else "."),
    )


def _read_password(path: Path | None) -> str | None:
    """The encrypted client key's password from ``path`` (a secret: 0600, at most 4 KiB)."""
    from xsudo.fileio import SECRET_FILE_LIMIT, read_input

    if path is None:
        return None
    raw = read_input(path, "the password file", limit=SECRET_FILE_LIMIT, private=True)
    return raw.decode("ascii", "replace").rstrip("\r\n")


@click.command("list")
@port_options
@tag_option(required=False)
@_type_option(required=False)
@json_option
def list_(
    connection: Connection,
    tag: int | None,
    cred_type: str | None,
    as_json: bool,
) -> None:
    """List stored credentials with their SHA-256 (read-only: CFUN is not changed)."""
    from xsudo.errors import BadInputError

    if cred_type is not None and tag is None:
        raise BadInputError("--type needs --tag (the modem's list parameters nest)")
    with open_device(connection) as dev:
        rows = [c.to_json() for c in dev.list_credentials(tag, cred_type)]
    if as_json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("TAG", "TYPE", "SHA-256", "NOTE", box=None, pad_edge=False)
    for row in rows:
        table.add_row(
            *map(cell, (row["tag"], row["type"], row["sha"] or "-", row["reserved"] or ""))
        )
    stdout_console().print(table)
    if not rows:
        note("no credentials stored" + (f" under tag {tag}" if tag is not None else ""))


def _preflight(
    file: Path,
    cred_type: CredType,
    tag: int,
    password: str | None,
    client_cert: Path | None,
    signing: bool,
) -> Preflight:
    from xsudo.content import XSUDO_MAX_OVERHEAD, preflight

    item = preflight(
        read_file(file, "credential file"),
        cred_type,
        tag,
        password=password,
        client_cert=read_file(client_cert, "client certificate") if client_cert else None,
        extra_overhead=XSUDO_MAX_OVERHEAD if signing else 0,
    )
    for repair in item.repairs:
        note(f"repaired {file.name}: {repair.message}")
    for warning in item.warnings:
        warn(str(warning))
    return item


def _checked_json(item: Preflight) -> dict[str, Any]:
    """What preflight repaired and warned about, for ``--json`` output."""
    return {
        "repairs": [r.message for r in item.repairs],
        "warnings": [{"code": w.code, "message": w.message} for w in item.warnings],
    }


@contextmanager
def outcome_on_error(as_json: bool) -> Iterator[None]:
    """With ``--json``, print what a failed operation left behind (its ``outcome``: e.g.
    whether a write landed) before the error ends the command."""
    from xsudo.errors import XsudoError

    try:
        yield
    except XsudoError as exc:
        if as_json and exc.outcome is not None:
            emit_json(exc.outcome)
        raise


def _show_result(result: CredResult, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    from xsudo.content import cred_type_label

    if as_json:
        emit_json({**result.to_json(), **(extra or {})})
    elif result.action == "refused":
        pass
    else:
        how = f" via {result.auth}" if result.auth else ""
        emit(
            f"{result.action}: tag {result.tag} {cred_type_label(result.type)}"
            + (f" SHA {result.sha}" if result.sha else "")
            + how
        )
        note(result.auth_reason)
    if result.action == "refused":
        raise click.exceptions.Exit(_refuse(result))


def _refuse(result: CredResult) -> int:
    print_error(result.refusal())
    return 1


def _dry_run(item: Preflight, auth: AuthRequest, password: str | None, as_json: bool) -> None:
    """Print :func:`xsudo.provision.dryrun.dry_run`: the wire lines (secrets redacted, the
    signature's place shown: nothing is signed), data_len and the SHA to expect; with
    ``as_json`` one object that also lists the repairs and warnings."""
    from xsudo.provision.dryrun import dry_run

    plan = dry_run(
        item, password=password, key_name=auth.key_name if auth.signs else None, slot=auth.slot
    )
    note("dry run: nothing is sent, nothing is signed")
    if as_json:
        signed = plan.xsudo_line is not None
        emit_json(
            {
                "dry_run": True,
                "tag": item.tag,
                "type": item.cred_type.label,
                "type_id": int(item.cred_type),
                "plain_line": plan.plain_line,
                "xsudo_line": plan.xsudo_line,
                "data_len": plan.data_len if signed else None,
                "signed_sha256": plan.signed_sha256 if signed else None,
                "content_bytes": plan.content_bytes,
                "modem_sha": plan.modem_sha,
                **_checked_json(item),
            }
        )
        return
    emit(f"plain line:  {plan.plain_line}")
    if plan.xsudo_line is not None:
        emit(f"xsudo line:  {plan.xsudo_line}")
        emit(f"data_len:    {plan.data_len}")
        emit(f"signed SHA:  {plan.signed_sha256}")
    emit(f"content:     {plan.content_bytes} bytes")
    emit(f"modem SHA:   {plan.modem_sha}")
    if auth.mode == "auto" and auth.signs:
        note("with --auth auto the XSUDO line is used when the modem holds the key's public key")


@click.command()
@port_options
@auth_options
@tag_option()
@_type_option(public_key=False)
@click.option("--replace", is_flag=True, help="Overwrite different content already stored.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; touch nothing.")
@file_option(
    "--password-file", help="Password of an encrypted client key (sent to the modem as <passwd>)."
)
@file_option("--client-cert", help="For client-key: check that the key matches this certificate.")
@ledger_option
@json_option
@passphrase_file_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def write(
    connection: Connection,
    auth: AuthRequest,
    tag: int,
    cred_type: str,
    replace: bool,
    dry_run: bool,
    password_file: Path | None,
    client_cert: Path | None,
    ledger_url: str | None,
    as_json: bool,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Write FILE as a credential, normalised, validated and verified by SHA.

    PEM is normalised first (real LF line breaks, no BOM, one trailing LF), so the SHA the
    modem lists equals sha256sum of the normalised file. Public keys for XSUDO are not
    written here: use xsudo device upload-key (AT%XPMNG).

    Every write is recorded in the ledger (--ledger, $XSUDO_LEDGER, else ledger.sqlite in
    the home), which is opened before the port and claims the IMEI before anything is
    written: an unreachable ledger (exit 3) or an IMEI held by another station or seen
    with another device UUID (exit 1) stops the command with nothing written.
    """
    from xsudo.content import CredType, parse_cred_type
    from xsudo.errors import BadInputError

    kind = parse_cred_type(cred_type)
    if kind is CredType.PUBLIC_KEY:
        raise BadInputError(
            "cred write does not write public keys: the XSUDO public key goes into an "
            "%XPMNG slot, not %CMNG",
            "upload it with xsudo device upload-key --key NAME [--slot N]",
        )
    password = _read_password(password_file)
    item = _preflight(file, kind, tag, password, client_cert, auth.signs)
    if dry_run:
        _dry_run(item, auth, password, as_json)
        return
    settings = auth_settings(auth, passphrase_file)
    with recorded_device(ledger_url, connection, settings, passphrase_file, as_json) as (dev, run):
        result = dev.write_credential(tag, kind, item, replace=replace, password=password)
        record_results(run, dev, [result.to_json()], None if result.ok else result.message)
    warn_head(run)
    _show_result(result, as_json, _checked_json(item))


@contextmanager
def recorded_device(
    ledger_url: str | None,
    connection: Connection,
    settings: AuthSettings,
    passphrase_file: Path | None,
    as_json: bool = False,
) -> Iterator[tuple[Device, DeviceRun]]:
    """The connected device inside its ledger record, in the order no change without a
    record needs: the ledger opened before the port, the IMEI claimed before the first
    protected command (:func:`recorded_run`); with ``as_json`` a failure's outcome is
    printed (:func:`outcome_on_error`)."""
    from xsudo.cli.ledger import open_run_ledger

    ledger = open_run_ledger(ledger_url)
    with (
        closing(ledger),
        open_device(connection, settings, passphrase_file) as dev,
        outcome_on_error(as_json),
        recorded_run(ledger, dev) as run,
    ):
        yield dev, run


@contextmanager
def recorded_run(ledger: RunLedger, dev: Device) -> Iterator[DeviceRun]:
    """:func:`xsudo.ledger.recording.device_record` for one connected device, entered
    before the command's first protected command: its IMEI (a modem without one cannot be
    recorded, so nothing is written), its device UUID
    (:func:`xsudo.provision.attest.recorded_device_uuid`), model and
    firmware when the session has read them. A refused claim (exit 1) or a ledger that
    stops answering (exit 3) raises here, with nothing sent to the modem but reads."""
    from xsudo.errors import OperationFailed
    from xsudo.ledger.recording import device_record, station_id
    from xsudo.provision.attest import recorded_device_uuid

    session = dev.session
    imei = session.imei
    if imei is None:
        raise OperationFailed(
            "the modem reports no IMEI (AT+CGSN), so the ledger cannot record this change; "
            "nothing was changed",
            "use a modem with production firmware (test firmware has no IMEI)",
        )
    known = session.identity
    with device_record(
        ledger,
        station_id(),
        imei=imei,
        device_uuid=recorded_device_uuid(dev.modem),
        model=known.model if known else None,
        firmware=known.mfw if known else None,
        audit=session.audit,
    ) as run:
        yield run


@click.command()
@port_options
@auth_options
@tag_option(required=False)
@_type_option(required=False)
@click.option(
    "--all",
    "delete_all",
    is_flag=True,
    help="Delete every credential (under --tag, if given), except the modem's reserved "
    "entries and the %XPMNG public keys (type 5 on tags 0-9).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@ledger_option
@json_option
@passphrase_file_option
def delete(
    connection: Connection,
    auth: AuthRequest,
    tag: int | None,
    cred_type: str | None,
    delete_all: bool,
    yes: bool,
    ledger_url: str | None,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Delete one credential (--tag and --type), or all of them (--all [--tag T]).

    Asks on a terminal unless --yes. --all never deletes the modem's reserved entries or
    an %XPMNG public key; delete such a key by name (--tag N --type public-key).

    Every delete is recorded in the ledger, as cred write records a write: the ledger is
    opened before the port and the IMEI claimed before anything is deleted (exit 3 when
    the ledger cannot be reached, exit 1 when it refuses the IMEI; nothing deleted).
    """
    from xsudo.content import cred_type_label, parse_cred_type
    from xsudo.errors import BadInputError

    if delete_all:
        _delete_all(connection, auth, tag, cred_type, yes, ledger_url, as_json, passphrase_file)
        return
    if tag is None or cred_type is None:
        raise BadInputError("delete needs --tag and --type", "or --all to delete every credential")
    kind = parse_cred_type(cred_type, writable_only=False)
    if not yes:
        if not sys.stdin.isatty():
            raise BadInputError("deleting needs confirmation", "pass --yes to delete unasked")
        click.confirm(f"delete tag {tag} {cred_type_label(kind)} from the modem?", abort=True)
    settings = auth_settings(auth, passphrase_file)
    result = _delete_one(connection, settings, passphrase_file, ledger_url, as_json, tag, kind)
    if result.action == "absent" and not as_json:
        emit(f"absent: nothing stored at tag {tag} {cred_type_label(kind)}; nothing deleted")
        return
    _show_result(result, as_json)


def _delete_one(
    connection: Connection,
    settings: AuthSettings,
    passphrase_file: Path | None,
    ledger_url: str | None,
    as_json: bool,
    tag: int,
    kind: CredType,
) -> CredResult:
    """Delete ``(tag, kind)`` inside the ledger's claim and record (``deleted`` with the
    SHA it removed as ``previous_sha``, or ``absent``)."""
    with recorded_device(ledger_url, connection, settings, passphrase_file, as_json) as (dev, run):
        result = dev.delete_credential(tag, kind)
        record_results(run, dev, [result.to_json()], None if result.ok else result.message)
    warn_head(run)
    return result


def record_results(
    run: DeviceRun,
    dev: Device,
    results: Iterable[Mapping[str, Any] | tuple[Mapping[str, Any], str]],
    error: str | None = None,
) -> None:
    """Add ``results`` (``CredResult.to_json()`` objects, or one with the certificate PEM
    it wrote) to ``run``, fail it with ``error`` when given, and name the signing key when
    any entry was sent with %XSUDO."""
    from xsudo.ledger.recording import key_fingerprint_of

    for item in results:
        result, pem = item if isinstance(item, tuple) else (item, None)
        run.add(result, pem)
    if error is not None:
        run.fail(error)
    run.key_fingerprint = key_fingerprint_of(dev.key, run.entries)


def warn_head(run: DeviceRun | None) -> None:
    """Warn when the audit head could not be stored in the ledger (the record stands)."""
    if run is not None and run.head_problem:
        warn(f"the audit head was not stored in the ledger: {run.head_problem}")


def _delete_all(
    connection: Connection,
    auth: AuthRequest,
    tag: int | None,
    cred_type: str | None,
    yes: bool,
    ledger_url: str | None,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """``delete --all``: :meth:`xsudo.device.Device.delete_all`, asking first on a terminal.

    The ledger is opened before the port; the IMEI is claimed once the entries to delete
    are known and confirmed, before the first delete (:func:`_bulk_recorded`). Nothing to
    delete: nothing claimed, nothing recorded."""
    from xsudo.errors import BadInputError

    if cred_type is not None:
        raise BadInputError(
            "--all deletes every type; it takes no --type",
            "to delete one credential give --tag and --type without --all",
        )
    if not yes and not sys.stdin.isatty():
        raise BadInputError("deleting needs confirmation", "pass --yes to delete unasked")

    def confirm(doomed: list[Credential]) -> None:
        if not yes:
            listed = ", ".join(f"{c.tag}/{c.type_label}" for c in doomed)
            click.confirm(f"delete {len(doomed)} credentials ({listed})?", abort=True, err=True)

    from xsudo.cli.ledger import open_run_ledger

    settings = auth_settings(auth, passphrase_file)
    ledger = open_run_ledger(ledger_url)  # no change without a record: before the port opens
    with closing(ledger), open_device(connection, settings, passphrase_file) as dev:
        bulk, run = _bulk_recorded(ledger, dev, tag, confirm)
    warn_head(run)
    _show_bulk(bulk.to_json(), as_json, tag)
    if bulk.error is not None:
        raise bulk.error
    if bulk.failed:
        raise click.exceptions.Exit(1)


def _bulk_recorded(
    ledger: RunLedger,
    dev: Device,
    tag: int | None,
    confirm: Callable[[list[Credential]], None],
) -> tuple[BulkDelete, DeviceRun | None]:
    """:meth:`Device.delete_all` with its run recorded: the claim is taken right after
    ``confirm`` accepts the entries (a refusal raises there, before any delete), and the
    record lists each entry deleted and each that failed (not those never attempted)."""
    runs: list[DeviceRun] = []
    with ExitStack() as stack:

        def claim_then_delete(doomed: list[Credential]) -> None:
            confirm(doomed)
            runs.append(stack.enter_context(recorded_run(ledger, dev)))

        bulk = dev.delete_all(tag, confirm=claim_then_delete)
        if runs:
            results = [r.to_json() for r in bulk.deleted] + _failed_deletes(bulk)
            error = None
            if bulk.failed:
                first = bulk.error if bulk.error is not None else bulk.failed[0][1]
                error = f"{len(bulk.failed)} not deleted: {first}"
            record_results(runs[0], dev, results, error)
    return bulk, runs[0] if runs else None


def _failed_deletes(bulk: BulkDelete) -> list[dict[str, Any]]:
    """The ledger entries of the deletes that failed (``failed``; ``sha`` is the SHA still
    stored when the delete did not land, ``None`` when that is not known); those never
    attempted are left out: nothing was sent for them."""
    return [
        {
            "tag": c.tag,
            "type_id": c.type,
            "action": "failed",
            "sha": c.sha256 if landed == "not-landed" else None,
            "previous_sha": c.sha256,
        }
        for c, error, landed in bulk.failed
        if error != "not attempted"
    ]


def _show_bulk(summary: dict[str, Any], as_json: bool, tag: int | None) -> None:
    if as_json:
        emit_json(summary)
    else:
        for item in summary["deleted"]:
            emit(f"deleted: tag {item['tag']} {item['type']} via {item['auth']}")
        for item in summary["kept"]:
            emit(f"kept: tag {item['tag']} {item['type']}: {item['reason']}")
        for item in summary["failed"]:
            emit(f"failed: tag {item['tag']} {item['type']}: {item['error']}")
    scope = f" under tag {tag}" if tag is not None else ""
    note(
        f"deleted {len(summary['deleted'])}, kept {len(summary['kept'])}, "
        f"failed {len(summary['failed'])}{scope}"
    )


@click.command()
@port_options
@tag_option()
@_type_option()
@json_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check(
    connection: Connection,
    tag: int,
    cred_type: str,
    as_json: bool,
    file: Path,
) -> None:
    """Does the modem hold FILE at TAG/TYPE? Compares SHAs (read-only) and names the writer
    convention that matches: canonical, stripped (trailing newline removed), crlf, ..."""
    from xsudo.content import cred_type_label, parse_cred_type

    kind = parse_cred_type(cred_type, writable_only=False)
    raw = read_file(file, "credential file")
    with open_device(connection) as dev:
        found = dev.check_credential(tag, kind, raw)
    convention, device_sha = found.convention, found.device_sha
    if as_json:
        emit_json(found.to_json())
    elif not found.stored:
        emit(f"absent: nothing stored at tag {tag} {cred_type_label(kind)}")
    elif convention:
        emit(f"matches: the modem holds {file.name} ({convention} convention), SHA {device_sha}")
    else:
        emit(f"differs: the modem holds SHA {device_sha}, which no convention of {file.name} gives")
    if convention is None:
        raise click.exceptions.Exit(1)


@click.command()
@port_options
@tag_option(required=False)
@click.option(
    "--within",
    "within_days",
    type=click.IntRange(0, 36500),
    default=None,
    metavar="DAYS",
    help="Exit 1 if a certificate expires within DAYS days (or has expired, or the modem "
    "cannot report on it).",
)
@json_option
def expiry(
    connection: Connection,
    tag: int | None,
    within_days: int | None,
    as_json: bool,
) -> None:
    """Serial, validity and days left of every certificate on the modem (AT%CERTEXPIRY,
    read-only).

    Reads every CA and client certificate the modem lists (under --tag, if given). Exit 0
    when all is well, 1 when --within finds a certificate that expires within DAYS days (or
    has expired, or cannot be read), or when the firmware has no %CERTEXPIRY.
    """
    with open_device(connection) as dev:
        report = dev.cert_expiry(tag)
    if as_json:
        emit_json(report.to_json(within_days))
    else:
        _show_expiry(report, within_days)
    if within_days is not None and report.expiring(within_days):
        raise click.exceptions.Exit(1)


def _show_expiry(report: ExpiryReport, within_days: int | None) -> None:
    from rich.table import Table

    table = Table(
        "TAG", "TYPE", "SERIAL", "NOT BEFORE", "NOT AFTER", "DAYS LEFT", "STATUS",
        box=None, pad_edge=False,
    )  # fmt: skip
    for cert in report.certificates:
        row = cert.to_json(within_days)
        status = row["status"] if cert.error is None else f"{row['status']}: {cert.error}"
        columns = ("tag", "type", "serial", "not_before", "not_after", "days_left")
        table.add_row(*map(cell, (*(row[c] for c in columns), status)))
    stdout_console().print(table)
    if not report.certificates:
        note("no certificates stored")
    elif within_days is not None:
        failing = len(report.expiring(within_days))
        note(
            f"{failing} of {_count(len(report.certificates), 'certificate')} "
            f"{'fails' if failing == 1 else 'fail'} the {within_days}-day check"
            if failing
            else f"none expires within {within_days} days"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
