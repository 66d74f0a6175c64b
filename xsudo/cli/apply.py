"""``xsudo apply``: write a pre-signed plan to every --port, with no private key (or, for a
plan with entries signed at the station, with the plan's line key and its CA keys)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.context import app_context
from xsudo.cli.deviceopts import Connection, connection_options
from xsudo.cli.hints import cli_text
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

    Ctrl-C finishes the boards in flight and starts no new one (a second Ctrl-C stops each
    board before its next entry); every board touched is recorded, then exit 130.
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
    cancel = threading.Event()
    with open_ledger(ledger_url) as ledger:  # warns of a password on the command line

        def work(port: str) -> BoardOutcome:
            outcome = apply_to_port(
                plan,
                port,
                ledger=ledger,
                audit=audit,
                station=station,
                replace=replace,
                channel=connection.channel_options(),
                signers=signers,
                cancel=cancel,
            )
            return cli_outcome(outcome)

        outcomes, interrupted = _run(ports, work, workers, cancel)
    for outcome in outcomes:
        if as_json:
            emit_json(outcome.to_json())
        else:
            emit(_text(outcome))
    if interrupted:
        note(f"interrupted: {len(ports) - len(outcomes)} of {len(ports)} port(s) not started")
        raise KeyboardInterrupt
    bad = [o for o in outcomes if not o.ok]
    ok = share(len(outcomes) - len(bad), len(outcomes), "board")
    note(f"{ok} ok (plan sha256:{plan.plan_hash})")
    if bad:
        raise click.exceptions.Exit(1)


def _run(
    ports: tuple[str, ...],
    work: Callable[[str], BoardOutcome],
    workers: int,
    cancel: threading.Event,
) -> tuple[list[BoardOutcome], bool]:
    """``work(port)`` for every port, at most ``workers`` at once (a ledger on PostgreSQL
    lends each one a connection from a bounded pool); the outcomes of the boards that ran,
    in port order, and whether Ctrl-C stopped the run. One port runs in this thread (a
    ``KeyboardInterrupt`` reaches the board, which records what it did and raises it
    again). Several run on worker threads while this one waits: the first Ctrl-C starts no
    new board and waits for those in flight; the second sets ``cancel`` (each board stops
    before its next entry, recorded); a third is raised at once. An exception (bad input,
    not a board's failure) is re-raised once every started board has ended."""
    if len(ports) <= 1:
        return [work(port) for port in ports], False
    queue, lock, stop = list(range(len(ports))), threading.Lock(), threading.Event()
    outcomes: dict[int, BoardOutcome] = {}
    errors: list[Exception] = []
    count = min(workers, len(ports))
    running, ended = [count], threading.Event()

    def worker() -> None:
        try:
            while True:
                with lock:
                    if stop.is_set() or not queue:
                        return
                    index = queue.pop(0)
                try:
                    outcomes[index] = work(ports[index])
                except Exception as exc:  # bad input: raised once every board has ended
                    errors.append(exc)
        finally:
            with lock:
                running[0] -= 1
                if not running[0]:
                    ended.set()

    masked = _block_sigint()  # a Ctrl-C now waits for _wait_for (and no worker gets it)
    for number in range(count):
        threading.Thread(target=worker, name=f"xsudo-apply-{number}", daemon=True).start()
    interrupts = _wait_for(ended, stop, cancel, masked)
    if errors:
        raise errors[0]
    return [outcomes[index] for index in sorted(outcomes)], interrupts > 0


def _block_sigint() -> set[int | signal.Signals] | None:
    """Hold SIGINT back from this thread (and the threads it starts); the signal mask to
    put back, or ``None`` where signal masks do not exist."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _wait_for(
    ended: threading.Event,
    stop: threading.Event,
    cancel: threading.Event,
    masked: set[int | signal.Signals] | None = None,
) -> int:
    """Wait until ``ended`` is set (every worker has ended); returns how many Ctrl-C came
    (see :func:`_run`). ``masked``: the signal mask to put back first (a Ctrl-C held back
    arrives here). A Ctrl-C is counted first and acted on at the next turn, so one that
    comes at any point is neither lost nor raised. (An event, not ``Thread.join``: an
    interrupted join can leave a running thread looking ended.)"""
    interrupts = acted = 0
    while True:
        try:
            if masked is not None:
                mask, masked = masked, None
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if acted < interrupts:
                acted += 1
                stop.set()
                if acted == 2:
                    cancel.set()
                note(_STOPPING[acted])
            if ended.is_set() and acted == interrupts:
                return interrupts
            ended.wait(0.5)
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts >= 3:
                raise


_STOPPING = {
    1: "stopping: boards in flight finish, no new board starts (again to stop them sooner)",
    2: "stopping each board before its next entry; every board is recorded",
}


def cli_outcome(outcome: BoardOutcome) -> BoardOutcome:
    """``outcome`` with its error and result messages worded for the command line (in
    place): a library error's remedy as :func:`~xsudo.cli.hints.cli_text` words it, and the
    refusals' remedies as options and commands (``--replace``, ``xsudo device
    upload-key``)."""
    from xsudo.plans.apply import APPLY_WITH_REPLACE, UPLOAD_PLAN_KEY

    words = {
        APPLY_WITH_REPLACE: "apply with --replace",
        UPLOAD_PLAN_KEY: f"{UPLOAD_PLAN_KEY} with xsudo device upload-key",
    }

    def word(text: str) -> str:
        for library, cli in words.items():
            text = text.replace(library, cli)
        return text

    error = outcome.error_text(cli_text)
    outcome.error = word(error) if error is not None else None
    for result in outcome.results:
        if isinstance(result.get("message"), str):
            result["message"] = word(result["message"])
    return outcome


def _text(outcome: BoardOutcome) -> str:
    imei = outcome.imei or "?"
    line = f"{outcome.port}: {outcome.status} (IMEI {imei})"
    return f"{line}: {outcome.error}" if outcome.error else line
