"""``xsudo provision``: many modems in parallel from one manifest."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.context import app_context
from xsudo.cli.deviceopts import (
    AuthRequest,
    Connection,
    auth_settings,
    connection_options,
)
from xsudo.cli.hints import cli_text
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.ledger import ledger_option, open_run_ledger
from xsudo.cli.output import emit_json, file_option, note, printable, warn
from xsudo.cli.params import AUTH_MODES

if TYPE_CHECKING:
    from xsudo.ledger.recording import RunLedger
    from xsudo.provision.fleet import DeviceReport
    from xsudo.provision.manifest import Manifest
    from xsudo.provision.policy import AuthMode, AuthSettings


@click.command()
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--port",
    "ports",
    multiple=True,
    required=True,
    help="A modem's port or URL; repeat for each device.",
)
@file_option("--report", help="Write one JSON object per device to FILE (JSON lines).")
@click.option(
    "--auth",
    type=click.Choice(AUTH_MODES),
    default=None,
    help="Override the manifest's [defaults] auth.",
)
@click.option("--key", "key_name", default=None, help="Override the manifest's [defaults] key.")
@connection_options
@ledger_option
@click.option("--json", "as_json", is_flag=True, help="Print the report lines on stdout.")
@passphrase_file_option
def provision(
    manifest: Path,
    ports: tuple[str, ...],
    report: Path | None,
    auth: AuthMode | None,
    key_name: str | None,
    connection: Connection,
    ledger_url: str | None,
    as_json: bool,
    passphrase_file: Path | None,
) -> None:
    """Write the MANIFEST's credentials to every --port, one worker per port.

    Every file for every device is validated before any device is written. Every device is
    recorded in the ledger (--ledger, $XSUDO_LEDGER, else ledger.sqlite in the home), opened
    before any port: an unreachable ledger stops the run (exit 3) with nothing touched; a
    device whose IMEI is held at another station, or comes with another device UUID, fails
    with nothing written. Exit 0 only when every device succeeded.
    """
    from xsudo.content import decrypt_tag_warning
    from xsudo.errors import BadInputError
    from xsudo.provision.manifest import check_decrypt_tags, load_manifest

    loaded = load_manifest(manifest)
    for name in loaded.unknown_keys:
        warn(f"{manifest}: unknown key {name!r} ignored")
    check_decrypt_tags(loaded, auth or loaded.auth)
    for spec in loaded.decrypt_tag_entries:
        warn(f"{manifest}: [[credential]] #{spec.index}: {decrypt_tag_warning(spec.tag)}")
    request = AuthRequest(auth or loaded.auth, key_name or loaded.key, loaded.slot)
    settings = auth_settings(request, passphrase_file)  # the key is unlocked before any port
    app_context().ensure_home()
    ledger = open_run_ledger(ledger_url)  # no write without a record: before any port
    try:
        reports = _run_with_progress(
            loaded, list(ports), settings, connection, passphrase_file, ledger
        )
    finally:
        ledger.close()
    lines = [json.dumps(r.to_json(), sort_keys=True) for r in reports]
    if report is not None:
        try:
            report.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"cannot write the report {report}: {exc.strerror}") from None
    if as_json:
        for r in reports:
            emit_json(r.to_json())
    failed = [r for r in reports if not r.ok]
    note(f"{provisioned_summary(len(reports) - len(failed), len(reports))} provisioned")
    for r in failed:
        note(f"failed: {r.port} (IMEI {r.imei or '?'}): {_failure(r)}")
    if failed:
        raise click.exceptions.Exit(1)


def _failure(report: DeviceReport) -> str | None:
    """The device's failure with its next step in CLI words (:mod:`xsudo.cli.hints`)."""
    if report.failure is None:
        return report.error
    text = cli_text(report.failure)
    return f"{report.failure_where}: {text}" if report.failure_where else text


def provisioned_summary(ok: int, total: int) -> str:
    """``"1 device"``, ``"3 devices"`` when all succeeded, else ``"2 of 3 devices"``."""
    from xsudo.cli.output import share

    return share(ok, total, "device")


def _run_with_progress(
    loaded: Manifest,
    ports: list[str],
    settings: AuthSettings,
    connection: Connection,
    passphrase_file: Path | None,
    ledger: RunLedger,
) -> list[DeviceReport]:
    """Run the fleet with progress on stderr: a live bar per port on a terminal, else one
    plain line per change of a port's status (never cut to a width)."""
    from xsudo import api

    def run(progress: Callable[[str, int, int, str], None]) -> list[DeviceReport]:
        return api.provision(
            loaded,
            ports,
            key=settings.signer,
            auth=settings.mode,
            home=app_context().ensure_home(),
            store=lambda: key_store(passphrase_file),  # opened when a key is first needed
            progress=progress,
            ledger=ledger,
            **connection.channel_options(),
        )

    if not sys.stderr.isatty():
        return run(_line_progress())
    lock = threading.Lock()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        tasks = {
            p: bar.add_task(printable(p), total=len(loaded.credentials), status="connecting")
            for p in ports
        }

        def progress(port: str, done: int, total: int, status: str) -> None:
            with lock:
                bar.update(tasks[port], completed=done, total=total, status=printable(status))

        return run(progress)


def _line_progress() -> Callable[[str, int, int, str], None]:
    """Progress as plain lines (stderr is a file or pipe): one per new status of a port."""
    lock = threading.Lock()
    last: dict[str, tuple[int, int, str]] = {}

    def progress(port: str, done: int, total: int, status: str) -> None:
        with lock:
            if last.get(port) == (done, total, status):
                return
            last[port] = (done, total, status)
            note(f"{port}: {done}/{total} {status}")

    return progress
