"""``xsudo cred list|write|delete|check``: credentials on the modem."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from xsudo.at.modem import CredentialEntry
from xsudo.cli.deviceopts import (
    AuthRequest,
    Connection,
    auth_options,
    auth_settings,
    open_session,
    port_options,
    tag_option,
)
from xsudo.cli.inputs import read_file
from xsudo.cli.keyopts import passphrase_file_option
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
from xsudo.command import AtCommand
from xsudo.content import (
    XSUDO_MAX_OVERHEAD,
    CredType,
    Preflight,
    cred_type_label,
    match_convention,
    normalise_sha,
    parse_cred_type,
    preflight,
    redacted,
    reserved_tag_name,
)
from xsudo.errors import BadInputError, DeviceError, XsudoError
from xsudo.fileio import SECRET_FILE_LIMIT, read_input
from xsudo.provision.writer import CredentialWriter, CredResult

F = TypeVar("F", bound=Callable[..., Any])


def _type_option(required: bool = True) -> Callable[[F], F]:
    return click.option(
        "--type",
        "cred_type",
        required=required,
        help="ca-cert (0), client-cert (1), client-key (2), psk (3), psk-id (4), public-key (5).",
    )


def _read_password(path: Path | None) -> str | None:
    """The encrypted client key's password from ``path`` (a secret: 0600, at most 4 KiB)."""
    if path is None:
        return None
    raw = read_input(path, "the password file", limit=SECRET_FILE_LIMIT, private=True)
    return raw.decode("ascii", "replace").rstrip("\r\n")


@click.group()
def cred() -> None:
    """List, write, delete and check credentials (AT%CMNG)."""


@cred.command("list")
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
    type_id = int(parse_cred_type(cred_type, writable_only=False)) if cred_type else None
    if type_id is not None and tag is None:
        raise BadInputError("--type needs --tag (the modem's list parameters nest)")
    with open_session(connection) as session:
        entries = session.modem.cmng_list(tag, type_id)
    rows: list[dict[str, Any]] = [
        {
            "tag": e.tag,
            "type": cred_type_label(e.type),
            "type_id": e.type,
            "sha": e.sha,
            "reserved": reserved_tag_name(e.tag) if e.reserved else None,
        }
        for e in entries
    ]
    if as_json:
        emit_json(rows)
        return
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


@contextmanager
def outcome_on_error(as_json: bool) -> Iterator[None]:
    """With ``--json``, print what a failed operation left behind (its ``outcome``: e.g.
    whether a write landed) before the error ends the command."""
    try:
        yield
    except XsudoError as exc:
        if as_json and exc.outcome is not None:
            emit_json(exc.outcome)
        raise


def _show_result(result: CredResult, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
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
    click.echo(f"error: {result.message}", err=True)
    return 1


def _dry_run(
    item: Preflight,
    auth: AuthRequest,
    password: str | None,
) -> None:
    """Print the exact wire lines (secrets redacted), data_len and the SHA to expect.

    Nothing is signed: a dry run must not leave a sendable signed line behind (it would be
    replayable, and no audit record would account for it). The signature's place is shown.
    """
    command = AtCommand.set(
        "%CMNG", 0, item.tag, int(item.cred_type), item.content.decode("ascii"), password
    )
    body = command.body()
    display = body.decode("ascii").replace(
        item.content.decode("ascii"), redacted(item.content, item.cred_type)
    )
    if password:
        display = display.replace(f'"{password}"', '"<password redacted>"')
    note("dry run: nothing is sent, nothing is signed")
    emit(f"plain line:  AT{display}")
    if auth.signs:
        slot_part = "" if auth.slot is None else f",{auth.slot}"
        signer = f"<signature by {auth.key_name}>"
        emit(f'xsudo line:  AT%XSUDO={len(body)},"{signer}"{slot_part};{display}')
        emit(f"data_len:    {len(body)}")
        emit(f"signed SHA:  {hashlib.sha256(body).hexdigest()}")
    emit(f"content:     {len(item.content)} bytes")
    emit(f"modem SHA:   {item.sha}")
    if auth.mode == "auto" and auth.signs:
        note("with --auth auto the XSUDO line is used when the modem holds the key's public key")


@cred.command()
@port_options
@auth_options
@tag_option()
@_type_option()
@click.option("--replace", is_flag=True, help="Overwrite different content already stored.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; touch nothing.")
@file_option(
    "--password-file", help="Password of an encrypted client key (sent to the modem as <passwd>)."
)
@file_option("--client-cert", help="For client-key: check that the key matches this certificate.")
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
    as_json: bool,
    passphrase_file: Path | None,
    file: Path,
) -> None:
    """Write FILE as a credential, normalised, validated and verified by SHA.

    PEM is normalised first (real LF line breaks, no BOM, one trailing LF), so the SHA the
    modem lists equals sha256sum of the normalised file.
    """
    kind = parse_cred_type(cred_type)
    password = _read_password(password_file)
    item = _preflight(file, kind, tag, password, client_cert, auth.signs)
    if dry_run:
        _dry_run(item, auth, password)
        return
    settings = auth_settings(auth, passphrase_file)
    with open_session(connection, settings) as session, outcome_on_error(as_json):
        result = CredentialWriter(session).write(item, replace=replace, password=password)
    _show_result(result, as_json)


@cred.command()
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
@json_option
@passphrase_file_option
def delete(
    connection: Connection,
    auth: AuthRequest,
    tag: int | None,
    cred_type: str | None,
    delete_all: bool,
    yes: bool,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Delete one credential (--tag and --type), or all of them (--all [--tag T]).

    Asks on a terminal unless --yes. --all never deletes the modem's reserved entries or
    an %XPMNG public key; delete such a key by name (--tag N --type public-key).
    """
    if delete_all:
        _delete_all(connection, auth, tag, cred_type, yes, as_json, passphrase_file)
        return
    if tag is None or cred_type is None:
        raise BadInputError("delete needs --tag and --type", "or --all to delete every credential")
    kind = parse_cred_type(cred_type, writable_only=False)
    if not yes:
        if not sys.stdin.isatty():
            raise BadInputError("deleting needs confirmation", "pass --yes to delete unasked")
        click.confirm(f"delete tag {tag} {cred_type_label(kind)} from the modem?", abort=True)
    settings = auth_settings(auth, passphrase_file)
    with open_session(connection, settings) as session, outcome_on_error(as_json):
        result = CredentialWriter(session).delete(tag, int(kind))
    if result.action == "absent":
        warn(f"nothing stored at tag {tag} {cred_type_label(kind)}; nothing deleted")
    _show_result(result, as_json)


XPMNG_KEY_TYPE = 5
XPMNG_SLOTS = range(10)


def _kept_reason(entry: CredentialEntry) -> str | None:
    """Why ``delete --all`` leaves ``entry`` alone, or ``None`` when it deletes it."""
    if entry.reserved:
        return f"reserved ({reserved_tag_name(entry.tag)})"
    if entry.type == XPMNG_KEY_TYPE and entry.tag in XPMNG_SLOTS:
        return "the %XSUDO public key of slot " + str(entry.tag) + " (delete it by name)"
    return None


def _entry_json(entry: CredentialEntry, **extra: Any) -> dict[str, Any]:
    return {"tag": entry.tag, "type": cred_type_label(entry.type), "type_id": entry.type, **extra}


def _delete_all(
    connection: Connection,
    auth: AuthRequest,
    tag: int | None,
    cred_type: str | None,
    yes: bool,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """``delete --all``: list, keep reserved and XPMNG entries, delete the rest one by one
    through :meth:`CredentialWriter.delete` (same policy, audit and verification)."""
    if cred_type is not None:
        raise BadInputError(
            "--all deletes every type; it takes no --type",
            "to delete one credential give --tag and --type without --all",
        )
    if not yes and not sys.stdin.isatty():
        raise BadInputError("deleting needs confirmation", "pass --yes to delete unasked")
    settings = auth_settings(auth, passphrase_file)
    deleted: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    stopped: XsudoError | None = None
    with open_session(connection, settings) as session:
        entries = session.modem.cmng_list(tag)
        kept = [(e, reason) for e in entries if (reason := _kept_reason(e)) is not None]
        doomed = [e for e in entries if _kept_reason(e) is None]
        if doomed and not yes:
            listed = ", ".join(f"{e.tag}/{cred_type_label(e.type)}" for e in doomed)
            click.confirm(f"delete {len(doomed)} credentials ({listed})?", abort=True, err=True)
        writer = CredentialWriter(session)
        for index, entry in enumerate(doomed):
            try:
                deleted.append(writer.delete(entry.tag, entry.type).to_json())
            except XsudoError as exc:
                landed = (exc.outcome or {}).get("landed")
                failed.append(_entry_json(entry, error=str(exc), landed=landed))
                if isinstance(exc, DeviceError) or session.signed_sent:
                    stopped = exc  # a broken link, or a refused signed line: stop here
                    failed += [_entry_json(e, error="not attempted") for e in doomed[index + 1 :]]
                    break
        head = session.audit.head() if session.audit is not None else None
    summary: dict[str, Any] = {
        "deleted": deleted,
        "kept": [_entry_json(e, reason=reason) for e, reason in kept],
        "failed": failed,
        "audit_head": head.to_json() if head is not None else None,
    }
    _show_bulk(summary, as_json, tag)
    if stopped is not None:
        raise stopped
    if failed:
        raise click.exceptions.Exit(1)


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


@cred.command()
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
    kind = parse_cred_type(cred_type, writable_only=False)
    raw = read_file(file, "credential file")
    with open_session(connection) as session:
        entries = [e for e in session.modem.cmng_list(tag, int(kind)) if e.type == int(kind)]
    device_sha = normalise_sha(entries[0].sha) if entries and entries[0].sha else None
    convention = match_convention(raw, kind, device_sha) if device_sha else None
    report = {
        "tag": tag,
        "type": cred_type_label(kind),
        "stored": bool(entries),
        "device_sha": device_sha,
        "matches": convention is not None,
        "convention": convention,
    }
    if as_json:
        emit_json(report)
    elif not entries:
        emit(f"absent: nothing stored at tag {tag} {cred_type_label(kind)}")
    elif convention:
        emit(f"matches: the modem holds {file.name} ({convention} convention), SHA {device_sha}")
    else:
        emit(f"differs: the modem holds SHA {device_sha}, which no convention of {file.name} gives")
    if convention is None:
        raise click.exceptions.Exit(1)
