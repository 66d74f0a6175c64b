"""``xsudo ledger list|show|export``: read the provisioning ledger.

The ledger is a SQLite file in the xsudo home unless ``--ledger URL`` or ``$XSUDO_LEDGER``
names another (a PostgreSQL database shared by stations). SQLAlchemy, Alembic and the
PostgreSQL driver are imported when a command runs, never for ``--help``. A URL is printed
only masked; a password given on the command line earns a warning (``ps`` shows argv).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from xsudo.cli.context import app_context
from xsudo.cli.output import cell, emit, emit_json, json_option, note, stdout_console, warn

if TYPE_CHECKING:
    from xsudo.ledger import DeviceHistory, DeviceRecord, Ledger
    from xsudo.ledger.recording import RunLedger

F = TypeVar("F", bound=Callable[..., Any])


def ledger_option(function: F) -> F:
    """``--ledger URL``: where the ledger is (default: $XSUDO_LEDGER, else the home's
    ledger.sqlite)."""
    return click.option(
        "--ledger",
        "ledger_url",
        metavar="URL",
        default=None,
        help="The ledger: postgresql://USER@HOST:PORT/DB, sqlite:///PATH or a file path "
        "(default: $XSUDO_LEDGER, else ledger.sqlite in the xsudo home). Keep passwords "
        "in ~/.pgpass or $XSUDO_LEDGER, not on the command line.",
    )(function)


def open_ledger(url: str | None) -> Ledger:
    """The ledger at ``url`` (``None``: the default), opened and migrated."""
    from xsudo.ledger import Ledger

    _warn_password(url)
    return Ledger.open(url, app_context().home)


def open_run_ledger(url: str | None) -> RunLedger:
    """The ledger at ``url`` opened for recording device runs
    (:func:`xsudo.ledger.recording.open_for_run`: an existing SQLite ledger is written
    without loading SQLAlchemy)."""
    from xsudo.ledger.recording import open_for_run

    _warn_password(url)
    return open_for_run(url, app_context().home)


def _warn_password(url: str | None) -> None:
    from xsudo.ledger.url import mask_url

    # mask_url shows each password as ***; comparing whole strings would also flag a
    # percent-encoded query (?host=%2Ftmp) that it re-encodes
    if url is not None and mask_url(url).count("***") > url.count("***"):
        warn("the ledger URL on the command line holds a password that other users can see")


@click.command("list")
@click.option(
    "--since",
    metavar="WHEN",
    default=None,
    help="Only runs finished since WHEN: an ISO 8601 date or time (UTC unless it says), "
    "or a span back from now such as 30m, 12h, 7d, 2w.",
)
@click.option("--station", default=None, help="Only runs of this station.")
@ledger_option
@json_option
def list_(since: str | None, station: str | None, ledger_url: str | None, as_json: bool) -> None:
    """List the device runs in the ledger, oldest first (one line each)."""
    moment = _since(since)
    with open_ledger(ledger_url) as ledger:
        records = ledger.list(since=moment, station=station)
    if as_json:
        emit_json([record.to_json() for record in records])
        return
    _print_records(records)


@click.command()
@click.argument("imei")
@ledger_option
@json_option
def show(imei: str, ledger_url: str | None, as_json: bool) -> None:
    """Show everything the ledger knows of IMEI: runs (newest first) with their
    credentials, the device UUID, flags and a claim held now; exit 1 unless a run ended ok.

    So a script can ask "was this device provisioned?": a device the ledger knows only by
    a claim, a flag or failed runs exits 1 (after printing what is known)."""
    with open_ledger(ledger_url) as ledger:
        history = ledger.show(imei)
    if as_json:
        emit_json(history.to_json())
    else:
        _print_history(history)
    if not any(record.result == "ok" for record in history.records):
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("imei")
@ledger_option
@click.option(
    "--station",
    "station",
    default=None,
    help="Who releases it, for the flag (default: $XSUDO_STATION, else the host name).",
)
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal).")
def release(imei: str, ledger_url: str | None, station: str | None, yes: bool) -> None:
    """Give back the claim held on IMEI by a run that stopped without its record.

    A station that was killed, or lost power, mid-board leaves its claim: the device is
    then refused everywhere until the claim times out. Release it only when no station is
    working on that device; the release is flagged in the device's history. Check the
    board (xsudo cred list) before provisioning it again.
    """
    from xsudo.errors import BadInputError
    from xsudo.ledger.recording import station_id
    from xsudo.ledger.records import check_imei

    imei = check_imei(imei)
    if not yes:
        if not sys.stdin.isatty():
            raise BadInputError(
                "releasing a claim needs a confirmation", "give --yes (no terminal to ask)"
            )
        click.confirm(
            f"Release the claim on IMEI {imei}? No station may be working on it", abort=True
        )
    with open_ledger(ledger_url) as ledger:
        held = ledger.release_imei(imei, station or station_id())
    if held is None:
        note(f"no claim is held on IMEI {imei}; nothing released")
        return
    since = held.claimed_at.isoformat(timespec="seconds")
    emit(f"released the claim of station {held.station} on IMEI {imei} (held since {since})")


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "nrfcloud"]),
    required=True,
    help="csv: one row per credential, with a header; jsonl: one run per line (as list "
    "--json); nrfcloud: nRF Cloud bulk-onboarding rows (as --onboarding-csv writes).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE (replaced atomically, mode 0600) instead of stdout.",
)
@click.option("--since", metavar="WHEN", default=None, help="As for ledger list.")
@click.option("--station", default=None, help="Only runs of this station.")
@click.option("--subtype", default="", help="For nrfcloud: the device subtype.")
@click.option("--tags", default="", help="For nrfcloud: |-separated device tags.")
@click.option(
    "--fw-types",
    default="APP|MODEM",
    show_default=True,
    help="For nrfcloud: firmware types for FOTA, |-separated.",
)
@ledger_option
def export(
    fmt: str,
    output: Path | None,
    since: str | None,
    station: str | None,
    subtype: str,
    tags: str,
    fw_types: str,
    ledger_url: str | None,
) -> None:
    """Export the ledger's runs as csv, jsonl or nrfcloud rows.

    nrfcloud gives one row per device ID (the client certificate's CN) from the newest
    successful run that recorded the certificate.
    """
    from xsudo.ledger.export import render
    from xsudo.provision.onboarding import check_fw_types

    check_fw_types(fw_types)
    moment = _since(since)
    with open_ledger(ledger_url) as ledger:
        records = ledger.iter_records(since=moment, station=station)
        pieces = render(records, fmt, subtype=subtype, tags=tags, fw_types=fw_types)
        if output is None:
            _write_stdout(pieces)
            return
        text = "".join(pieces)
    _write_file(output, text)


def _since(text: str | None) -> datetime | None:
    from xsudo.ledger.records import parse_since

    return None if text is None else parse_since(text, datetime.now(UTC))


def _write_stdout(pieces: Iterable[str]) -> None:
    """The export on stdout: exact bytes into a file or pipe; on a terminal, control
    characters (device text is untrusted) shown escaped."""
    from xsudo.cli.output import printable

    terminal = sys.stdout.isatty()
    for piece in pieces:
        click.echo(printable(piece, keep_newlines=True) if terminal else piece, nl=False)


def _write_file(path: Path, text: str) -> None:
    from xsudo.atomic import write_atomic
    from xsudo.errors import BadInputError

    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise BadInputError(
            f"cannot write {path} ({exc.strerror or exc})", "give a writable path"
        ) from None
    click.echo(f"wrote {path}", err=True)


def _print_records(records: list[DeviceRecord]) -> None:
    from rich.table import Table

    table = Table("ID", "FINISHED", "IMEI", "STATION", "RESULT", "CREDS", "PLAN", box=None)
    for record in records:
        table.add_row(
            *map(
                cell,
                (
                    record.id,
                    record.finished_at.isoformat(timespec="seconds"),
                    record.imei,
                    record.station,
                    record.result,
                    len(record.credentials),
                    (record.plan_hash or "-")[:16],
                ),
            )
        )
    stdout_console().print(table)


def _print_history(history: DeviceHistory) -> None:
    emit(f"IMEI {history.imei}, device UUID {history.device_uuid or 'unknown'}")
    if history.claim is not None:
        claim = history.claim
        emit(
            f"claimed by station {claim.station} since "
            f"{claim.claimed_at.isoformat(timespec='seconds')}"
        )
    for record in history.records:
        emit(
            f"record {record.id}: {record.result} at station {record.station}, "
            f"{record.started_at.isoformat(timespec='seconds')} to "
            f"{record.finished_at.isoformat(timespec='seconds')}, plan {record.plan_hash or '-'}, "
            f"model {record.model or '-'}, firmware {record.firmware or '-'}, "
            f"key {record.key_fingerprint or '-'}"
        )
        if record.error:
            emit(f"  error: {record.error}")
        for entry in record.credentials:
            was = f", was {entry.previous_sha}" if entry.previous_sha else ""
            emit(
                f"  {entry.tag}/{entry.type}: {entry.action}, auth {entry.auth or '-'}, "
                f"sha {entry.sha or '-'}{was}"
            )
    for flag in history.flags:
        emit(
            f"flag {flag.id}: {flag.kind} at station {flag.station}, "
            f"{flag.at.isoformat(timespec='seconds')}: {flag.detail}"
        )
