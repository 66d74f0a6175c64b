"""Ctrl-C during ``xsudo apply``: no write without a record. A board interrupted while its
write is on the wire is recorded in the ledger as ``failed`` (``interrupted``) with what the
read-back found, no claim is left, and the process exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.plans.conftest import CA_TAG, ca_pem
from tests.plans.test_apply import apply, locked_board, station  # noqa: F401
from tests.station.fakes import wait_until
from tests.support.boards import Result, board, snapshot, xsudo  # noqa: F401
from xsudo.crypto import PublicKey
from xsudo.ledger.errors import NotInLedger
from xsudo.ledger.store import Ledger
from xsudo.plans.apply import BoardOutcome
from xsudo.sim import PtyServer
from xsudo.sim.options import FaultSpec

Run = Callable[..., Result]
LATE = 2.0
"""Seconds the simulated board holds back its answer to the write."""


def first_write_number(server: PtyServer, after: int) -> int:
    """The command number of the first ``AT%XSUDO`` line the board got after ``after``."""
    return next(
        record.number
        for record in server.board.journal
        if record.number > after and b"XSUDO" in record.command
    )


def where_apply_writes(
    boards: Callable[..., PtyServer], run: Run, files: dict[str, Path]
) -> tuple[int, int]:
    """Apply the plan in ``files`` to a probe board prepared like the boards under test:
    the command number of its first write, and how many commands the preparation took
    (the same on every board prepared the same way)."""
    probe = locked_board(boards, run)
    uploaded = probe.board.commands_handled
    assert apply(run, files["plan"], files["pub"], probe.path).code == 0
    return first_write_number(probe, uploaded), uploaded


def ended(child: subprocess.Popen[str]) -> bool:
    return child.poll() is not None


def interrupted_apply(
    files: dict[str, Path],
    ports: list[str],
    url: str,
    tmp_path: Path,
    until: Callable[[], bool],
) -> tuple[int, str, str]:
    """``xsudo apply --json`` of the plan in ``files`` (``plan``, ``pub``) over ``ports`` in
    a child process, sent SIGINT once ``until()`` holds (a board is mid-write); its exit
    code, stdout and stderr."""
    env = {**os.environ, "XSUDO_HOME": str(tmp_path / "station-home")}
    args = ["apply", str(files["plan"]), "--trust", str(files["pub"]), "--json"]
    child = subprocess.Popen(
        [sys.executable, "-m", "xsudo", *args, *ports, "--ledger", url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: until() or ended(child), 60)
        assert not ended(child), child.communicate()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, out, err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child and ptys: POSIX")
def test_ctrl_c_during_a_write_records_the_run_and_leaves_no_claim(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    # Where apply's first write falls (the same on every board prepared the same way).
    number, uploaded = where_apply_writes(board, xsudo, station)
    # The board under test answers that write LATE seconds late: Ctrl-C lands in the wait.
    imei = "352656100099995"
    server = board("locked", imei=imei, fault=(FaultSpec.parse(f"late:{number}:{LATE}"),))
    assert xsudo("device", "upload-key", "--port", server.path, "--key", "factory").code == 0
    assert server.board.commands_handled == uploaded
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    code, out, err = interrupted_apply(
        station,
        ["--port", server.path],
        url,
        tmp_path,
        lambda: server.board.commands_handled >= number,
    )
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert (CA_TAG, 0) in snapshot(server)  # the write landed before the answer came
    with Ledger.open(url, tmp_path) as ledger:
        history = ledger.show(imei)
    assert history.claim is None
    (record,) = history.records
    assert record.result == "failed"
    assert record.error is not None and record.error.startswith("interrupted")
    assert "read back: landed" in record.error
    (entry,) = record.credentials
    assert (entry.tag, entry.action) == (CA_TAG, "failed")
    assert entry.sha is not None
    assert out == ""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child and ptys: POSIX")
def test_ctrl_c_with_several_ports_finishes_the_board_in_flight_and_starts_no_other(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    number, _ = where_apply_writes(board, xsudo, station)
    first = board("locked", imei="352656100099987", fault=(FaultSpec.parse(f"late:{number}:1"),))
    second = locked_board(board, xsudo)
    assert xsudo("device", "upload-key", "--port", first.path, "--key", "factory").code == 0
    untouched = snapshot(second)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ports = ["--port", first.path, "--port", second.path, "--workers", "1"]
    code, out, err = interrupted_apply(
        station, ports, url, tmp_path, lambda: first.board.commands_handled >= number
    )
    assert code == 130, err
    assert "stopping" in err and "1 of 2 port(s) not started" in err
    (line,) = [json.loads(text) for text in out.splitlines()]
    assert (line["port"], line["status"]) == (first.path, "written")  # finished, not cut
    assert snapshot(second) == untouched
    with Ledger.open(url, tmp_path) as ledger:
        history = ledger.show("352656100099987")
    assert history.claim is None
    assert [record.result for record in history.records] == ["ok"]


def test_a_cancelled_board_stops_before_its_next_entry_and_is_recorded(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    """``cancel`` set while the first entry is written (the station's abort): the first
    entry finishes, the second is never sent, the run is recorded as interrupted."""
    from xsudo.plans.apply import apply_to_port
    from xsudo.plans.verify import load_and_verify

    server = locked_board(board, xsudo)
    plan = load_and_verify(station["plan"], [_public(station["pub"])], 1)
    cancel = threading.Event()

    def progress(number: int, total: int, step: str) -> None:
        if number == 1:
            cancel.set()

    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}", tmp_path) as ledger:
        outcome: BoardOutcome = apply_to_port(
            plan, server.path, ledger=ledger, audit=None, station="line-1", progress=progress,
            cancel=cancel,
        )  # fmt: skip
        assert (outcome.status, outcome.error) == ("failed", "interrupted")
        history = ledger.show(outcome.imei or "")
    assert history.claim is None
    (record,) = history.records
    assert record.result == "failed" and record.error == "interrupted"
    assert [entry.action for entry in record.credentials] == ["written"]
    assert snapshot(server)[(CA_TAG, 0)] == ca_pem().encode()
    assert len([key for key in snapshot(server) if key[0] == CA_TAG + 1]) == 0


def test_a_board_cancelled_before_any_write_gives_its_claim_back(
    tmp_path: Path,
    board: Callable[..., PtyServer],  # noqa: F811
    xsudo: Run,  # noqa: F811
    station: dict[str, Path],  # noqa: F811
) -> None:
    from xsudo.plans.apply import apply_to_port
    from xsudo.plans.verify import load_and_verify

    server = locked_board(board, xsudo)
    plan = load_and_verify(station["plan"], [_public(station["pub"])], 1)
    cancel = threading.Event()
    cancel.set()
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}", tmp_path) as ledger:
        outcome = apply_to_port(
            plan, server.path, ledger=ledger, audit=None, station="line-1", cancel=cancel
        )
        assert (outcome.status, outcome.error) == ("failed", "interrupted")
        with pytest.raises(NotInLedger):  # no claim held, nothing recorded
            ledger.show(outcome.imei or "")


def _public(path: Path) -> PublicKey:
    from xsudo.crypto import load_public_key

    return load_public_key(path.read_bytes())


@pytest.mark.parametrize("interrupts", [1, 2])
def test_ctrl_c_with_several_ports_finishes_the_boards_in_flight_and_starts_no_new_one(
    interrupts: int,
) -> None:
    """The first Ctrl-C (SIGINT to this process) starts no new board and waits for the
    one in flight; a second also sets ``cancel`` (each board stops before its next entry)."""
    from datetime import UTC, datetime

    from xsudo.cli import apply as apply_cli

    started, release, cancel = threading.Event(), threading.Event(), threading.Event()
    calls: list[str] = []

    def work(port: str) -> BoardOutcome:
        calls.append(port)
        started.set()
        release.wait(30)
        now = datetime.now(UTC)
        return BoardOutcome(port, None, "written", None, [], now, now)

    def interrupt() -> None:
        started.wait(30)
        waiting.wait(30)  # the main thread waits for the boards now
        for count in range(1, interrupts + 1):
            os.kill(os.getpid(), signal.SIGINT)
            wait_until(lambda: len(notes) >= count, 30)  # noqa: B023
        if interrupts == 2:
            wait_until(cancel.is_set, 30)
        release.set()

    notes: list[str] = []
    waiting = threading.Event()
    wait_for = apply_cli._wait_for

    def waits(*args: Any) -> int:
        waiting.set()
        return wait_for(*args)

    helper = threading.Thread(target=interrupt)
    original = apply_cli.note
    apply_cli.note = notes.append  # type: ignore[assignment]
    apply_cli._wait_for = waits  # type: ignore[assignment]
    helper.start()
    try:
        outcomes, interrupted = apply_cli._run(("a", "b", "c"), work, 1, cancel)
    finally:
        apply_cli.note = original  # type: ignore[assignment]
        apply_cli._wait_for = wait_for  # type: ignore[assignment]
        release.set()
        helper.join(30)
    assert interrupted
    assert calls == ["a"] and [o.port for o in outcomes] == ["a"]
    assert cancel.is_set() == (interrupts == 2)
