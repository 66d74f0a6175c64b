"""``xsudo audit verify|show``: the hash-chained audit log."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from xsudo.audit.log import AuditLog
from xsudo.cli.context import app_context
from xsudo.cli.output import emit, emit_json, json_option, stdout_console
from xsudo.errors import BadInputError


def _log(path: Path | None) -> AuditLog:
    return AuditLog(path) if path else AuditLog.in_home(app_context().home)


@click.group()
def audit() -> None:
    """Check and show the audit log of signatures and device writes."""


@audit.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@json_option
def verify(file: Path | None, as_json: bool) -> None:
    """Check the hash chain of FILE (default: the home's audit.jsonl); exit 1 if broken."""
    log = _log(file)
    if file is not None and not file.exists():
        raise BadInputError(f"no audit log at {file}")
    report = log.verify()
    if as_json:
        emit_json(report.to_json())
    elif report.ok:
        emit(f"ok: {report.count} records, chain intact, last hash {report.last_hash}")
    else:
        emit(
            f"broken at record {report.first_bad}: {report.reason} "
            f"({report.count} records before it are intact)"
        )
    if not report.ok:
        raise click.exceptions.Exit(1)


@audit.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def show(file: Path | None, as_json: bool) -> None:
    """List the records."""
    try:
        records = list(_log(file).records())
    except ValueError as exc:
        raise BadInputError(f"the audit log is damaged ({exc})", "run xsudo audit verify") from None
    if as_json:
        for record in records:
            emit_json(record)
        return
    table = Table("#", "TIME", "EVENT", "DEVICE", "TAG/TYPE", "AUTH", "RESULT", box=None)
    for r in records:
        where = f"{r['tag']}/{r['type']}" if "tag" in r and "type" in r else r.get("slot", "")
        table.add_row(
            str(r.get("seq")),
            str(r.get("time", ""))[:19],
            str(r.get("event")),
            str(r.get("device_imei", "")),
            str(where),
            str(r.get("auth", "")),
            str(r.get("result", "")),
        )
    stdout_console().print(table)
