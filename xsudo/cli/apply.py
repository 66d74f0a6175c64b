"""``xsudo apply``: write a pre-signed plan to every --port, with no private key (or, for a
plan with entries signed at the station, with the plan's line key and its CA keys)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.context import app_context
from xsudo.cli.deviceopts import Connection, connection_options
from xsudo.cli.ledger import ledger_option, open_ledger
from xsudo.cli.output import emit, emit_json, note, share
from xsudo.cli.plan import station_key_options, station_signers, trust_options, verified_plan

if TYPE_CHECKING:
    from xsudo.plans.apply import BoardOutcome


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--port",
    "ports",
    multiple=True,
    required=True,
    help="A modem's port or URL; repeat for each device.",
)
@trust_options
@ledger_option
@click.option(
    "--replace",
    is_flag=True,
    help="Apply over another plan's run, and overwrite different content.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="The most boards written at once (each holds a ledger connection while it works).",
)
@station_key_options
@connection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per board on stdout.")
def apply(
    plan_path: Path,
    ports: tuple[str, ...],
    trust_files: tuple[Path, ...],
    approvals: int,
    clock_skew: str,
    ledger_url: str | None,
    replace: bool,
    workers: int,
    station_key: str | None,
    passphrase_file: Path | None,
    connection: Connection,
    as_json: bool,
) -> None:
    """Write PLAN's pre-signed lines to every --port, up to --workers at once; no key store.

    The plan is refused (exit 2) before any port is opened when a signature does not
    verify, fewer than --approvals trusted keys signed it, or it expired. A board whose slot
    does not hold the plan's key gets nothing. A plan with entries signed at the station
    (issue) also needs --key, the plan's line key, and the CA keys it names. Exit 1 when any
    board failed or was a duplicate.
    """
    from xsudo.api import load_simulator
    from xsudo.audit.log import AuditLog
    from xsudo.errors import BadInputError
    from xsudo.ledger.recording import station_id
    from xsudo.plans.apply import apply_to_port

    twice = sorted({port for port in ports if ports.count(port) > 1})
    if twice:
        raise BadInputError(f"port {twice[0]} is given twice", "give each port once")
    plan = verified_plan(plan_path, trust_files, approvals, clock_skew)
    home = app_context().ensure_home()
    audit = AuditLog.in_home(home)
    audit.check_appendable()  # no write without a record: before any device is touched
    signers = station_signers(plan, station_key, passphrase_file)  # before any port, too
    for port in ports:
        load_simulator(port)
    station = station_id()
    with open_ledger(ledger_url) as ledger:  # warns of a password on the command line

        def work(port: str) -> BoardOutcome:
            return apply_to_port(
                plan,
                port,
                ledger=ledger,
                audit=audit,
                station=station,
                replace=replace,
                channel=connection.channel_options(),
                signers=signers,
            )

        outcomes = _run(ports, work, workers)
    for outcome in outcomes:
        if as_json:
            emit_json(outcome.to_json())
        else:
            emit(_text(outcome))
    bad = [o for o in outcomes if not o.ok]
    ok = share(len(outcomes) - len(bad), len(outcomes), "board")
    note(f"{ok} ok (plan sha256:{plan.plan_hash})")
    if bad:
        raise click.exceptions.Exit(1)


def _run(
    ports: tuple[str, ...], work: Callable[[str], BoardOutcome], workers: int
) -> list[BoardOutcome]:
    """``work(port)`` for every port, at most ``workers`` at once (a ledger on PostgreSQL
    lends each one a connection from a bounded pool); outcomes in port order. An exception
    (bad input, not a board's failure) is re-raised once every started board has ended."""
    from concurrent.futures import ThreadPoolExecutor

    if not ports:
        return []
    with ThreadPoolExecutor(
        max_workers=min(workers, len(ports)), thread_name_prefix="xsudo-apply"
    ) as pool:
        futures = [pool.submit(work, port) for port in ports]
    return [future.result() for future in futures]


def _text(outcome: BoardOutcome) -> str:
    imei = outcome.imei or "?"
    line = f"{outcome.port}: {outcome.status} (IMEI {imei})"
    return f"{line}: {outcome.error}" if outcome.error else line
