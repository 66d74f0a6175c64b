"""``xsudo station``: a provisioning station that applies one signed plan to every board.

The plan is verified once, before any port is opened (a bad, expired or under-approved plan
is exit 2 with no board touched); so are the station's keys for a plan with entries signed
at the station (``--key``: the plan's line key, and the CA keys the entries name). Each
board then goes through :func:`xsudo.plans.apply.apply_to_port` in its own worker
(:mod:`xsudo.station.runner`), recorded in the ledger. On a terminal the progress (the
entry each board is at) is a live dashboard
(:mod:`xsudo.station.dashboard`); otherwise, or with ``--json``, stdout carries exactly one
JSON line per board outcome (:mod:`xsudo.station.events`) and the totals go to stderr.

Exit codes: 0 every board attempted was written or unchanged; 1 a board failed or was
flagged as a duplicate, a given ``--port`` was never started (stopped first), or the run
was aborted (second Ctrl-C: each board in flight stops before its next entry and records
what it did, waited for up to :data:`ABORT_WAIT` seconds); 2 bad plan, trust key, option or
ledger URL; 3 the ledger cannot be reached.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.apply import cli_outcome
from xsudo.cli.context import app_context
from xsudo.cli.deviceopts import Connection, connection_options
from xsudo.cli.ledger import ledger_option, open_ledger
from xsudo.cli.output import json_option, note
from xsudo.cli.plan import station_key_options, station_signers, trust_options, verified_plan

if TYPE_CHECKING:
    from xsudo.station.events import Outcome
    from xsudo.station.runner import Progress, ProvisionOne, Station, Totals
    from xsudo.station.watch import BoardSource

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.option("--plan", "plan_file", type=_PATH, required=True, help="The signed plan (JSON).")
@trust_options
@ledger_option
@click.option(
    "--station-id",
    "station_name",
    default=None,
    help="This station's name in the ledger (default: $XSUDO_STATION, else the host name).",
)
@click.option("--port", "ports", multiple=True, help="A board's port; repeat for each.")
@click.option(
    "--watch",
    is_flag=True,
    help="Run until stopped, provisioning every nRF91 kit plugged in by USB.",
)
@click.option(
    "--ports-from",
    type=_PATH,
    default=None,
    help="With --watch: the ports listed in FILE (one a line), re-read at every poll, "
    "instead of USB.",
)
@click.option(
    "--port-glob",
    default=None,
    metavar="PATTERN",
    help="With --watch: the paths matching PATTERN at every poll, instead of USB.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="The most boards provisioned at once.",
)
@click.option(
    "--poll",
    "interval",
    type=click.FloatRange(0.05, 60.0),
    default=0.5,
    show_default=True,
    help="Seconds between two looks for new boards.",
)
@station_key_options
@connection_options
@json_option
def station(
    plan_file: Path,
    trust_files: tuple[Path, ...],
    approvals: int,
    clock_skew: str,
    ledger_url: str | None,
    station_name: str | None,
    ports: tuple[str, ...],
    watch: bool,
    ports_from: Path | None,
    port_glob: str | None,
    workers: int,
    interval: float,
    station_key: str | None,
    passphrase_file: Path | None,
    connection: Connection,
    as_json: bool,
) -> None:
    """Apply a signed plan to each --port once, or (--watch) to every nRF91 kit plugged in
    until stopped.

    The plan is verified first (signatures of --approvals of the --trust keys, expiry); a
    plan that fails is refused before any board is touched. A board is known by its port
    and USB serial number; it is provisioned once, and again only when its attempt failed
    and it is unplugged and plugged in again. Ctrl-C finishes the boards in flight and
    starts no new one; a second Ctrl-C aborts. Exit 0 when no board failed. A plan with
    entries signed at the station (issue) also needs --key, the plan's line key, and the CA
    keys it names.
    """
    from xsudo.api import load_simulator
    from xsudo.audit.log import AuditLog
    from xsudo.ledger.recording import station_id
    from xsudo.plans.apply import apply_to_port

    source, waiting_for = _source(ports, watch, ports_from, port_glob)
    plan = verified_plan(plan_file, trust_files, approvals, clock_skew)
    home = app_context().ensure_home()
    audit = AuditLog.in_home(home)
    audit.check_appendable()
    signers = station_signers(plan, station_key, passphrase_file)  # before any port
    name = station_name or station_id()
    channel = connection.channel_options()
    cancel = threading.Event()
    with open_ledger(ledger_url) as ledger:  # warns of a password on the command line

        def provision_one(port: str, progress: Progress) -> Outcome:
            load_simulator(port)
            outcome = apply_to_port(
                plan,
                port,
                ledger=ledger,
                audit=audit,
                station=name,
                channel=channel,
                signers=signers,
                progress=progress,
                cancel=cancel,
            )
            return cli_outcome(outcome)

        runner, totals = _run(
            provision_one,
            source,
            once=not watch,
            workers=workers,
            interval=interval,
            station=name,
            as_json=as_json or not sys.stdout.isatty(),
            cancel=cancel,
            waiting_for=waiting_for,
        )
    if _report(runner, totals, name, given=ports):
        raise click.exceptions.Exit(1)


def _source(
    ports: tuple[str, ...], watch: bool, ports_from: Path | None, port_glob: str | None
) -> tuple[BoardSource, str]:
    """Where boards come from, from the options (usage errors are exit 2), and what the
    dashboard says it waits for."""
    from xsudo.cli.output import printable, warn
    from xsudo.errors import BadInputError
    from xsudo.station.watch import USB_BOARDS, fixed_boards, ports_from_file, usb_boards
    from xsudo.station.watch import port_glob as glob_source

    twice = sorted({port for port in ports if ports.count(port) > 1})
    if twice:
        raise BadInputError(f"port {twice[0]} is given twice", "give each port once")

    if bool(ports) == watch:
        raise click.UsageError("give either --port (one or more) or --watch")
    if (ports_from or port_glob) and not watch:
        raise click.UsageError("--ports-from and --port-glob go with --watch")
    if ports_from and port_glob:
        raise click.UsageError("give --ports-from or --port-glob, not both")
    if ports:
        return fixed_boards(ports), ""
    if ports_from:
        if not ports_from.is_file():
            raise BadInputError(
                f"the port list {ports_from} does not exist",
                "create it (one port a line; it may be empty) before starting the station",
            )
        return ports_from_file(ports_from, warn=warn), f"the ports listed in {ports_from}"
    if port_glob:
        return glob_source(port_glob), f"ports matching {printable(port_glob)}"
    return usb_boards(), USB_BOARDS


def _run(
    provision_one: ProvisionOne,
    source: BoardSource,
    *,
    once: bool,
    workers: int,
    interval: float,
    station: str,
    as_json: bool,
    cancel: threading.Event | None = None,
    waiting_for: str = "",
) -> tuple[Station, Totals]:
    """Run the station until done or stopped: JSON lines on stdout, or the dashboard."""
    from xsudo.station.events import event_line
    from xsudo.station.runner import Station

    def print_line(outcome: Outcome) -> None:
        click.echo(event_line(outcome, station))

    runner = Station(
        provision_one,
        source,
        once=once,
        workers=workers,
        interval=interval,
        on_outcome=print_line if as_json else None,
    )
    with _interrupts(runner, cancel):
        if as_json:
            return runner, runner.run()
        return runner, _run_live(runner, station, waiting_for)


def _run_live(runner: Station, station: str, waiting_for: str = "") -> Totals:
    """:meth:`Station.run` under a live dashboard on stdout (refreshed 4 times a second)."""
    from rich.console import Console
    from rich.live import Live

    from xsudo.station.dashboard import live_view

    console = Console(highlight=False, emoji=False)
    with Live(
        get_renderable=lambda: live_view(
            runner, title=f"xsudo station {station}", waiting_for=waiting_for
        ),
        console=console,
        refresh_per_second=4,
        redirect_stdout=False,
        redirect_stderr=False,
    ):
        return runner.run()


class _SecondSignal(BaseException):
    """The second SIGINT/SIGTERM. Not an ``Exception``: the runner, which finishes the
    boards in flight before it re-raises an ``Exception``, lets this one through at once."""


ABORT_WAIT = 30.0
"""Seconds an abort waits for the boards in flight to stop and record what they did."""


@contextmanager
def _interrupts(
    runner: Station, cancel: threading.Event | None = None, abort_wait: float = ABORT_WAIT
) -> Iterator[None]:
    """SIGINT or SIGTERM stops the station gracefully; a second one aborts (``aborted``,
    exit 1): ``cancel`` is set, so each board in flight stops before its next entry and
    records what it did, and the abort waits up to ``abort_wait`` seconds for them (a third
    signal ends the wait). Installed only in the main thread (where Python delivers
    signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: object) -> None:
        if runner.stopping:
            raise _SecondSignal()
        runner.stop()
        note("stopping: boards in flight finish, no new board starts (again to abort)")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _SecondSignal:
        if cancel is not None:
            cancel.set()
            note("aborting: each board in flight stops before its next entry and is recorded")
            signal.signal(signal.SIGINT, signal.default_int_handler)
            with suppress(KeyboardInterrupt):
                runner.wait_idle(abort_wait)
        raise click.exceptions.Abort() from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report(runner: Station, totals: Totals, station: str, *, given: tuple[str, ...]) -> bool:
    """The totals and every failure on stderr; True when the run failed (module
    docstring's exit codes)."""
    from xsudo.cli.output import printable
    from xsudo.station.dashboard import totals_line

    views = runner.snapshot()
    note(f"station {station}: {totals_line(totals)}")
    for view in views:
        if view.state in ("failed", "duplicate") and view.outcome is not None:
            imei = view.outcome.imei or "?"
            note(f"{view.state}: {view.board.port} (IMEI {imei}): {view.outcome.error}")
    started = {view.board.port for view in views if view.attempts > 0}
    never = [port for port in dict.fromkeys(given) if port not in started]
    if never:
        shown = ", ".join(printable(port) for port in never)
        note(f"{len(never)} given port(s) not started: {shown}")
        return True
    return not totals.ok
