"""``xsudo station`` as a command: options, the plan checked before any port, JSON lines,
the interrupt handling, and end to end on simulated ``locked`` boards holding the plan key."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from tests.plans.conftest import CA_TAG, PSK_ID_TAG, write_manifest
from tests.station.fakes import Boards, wait_until
from tests.support.boards import Result, snapshot
from tests.support.signers import MemorySigner
from xsudo.cli import station as station_cli
from xsudo.plans.build import build_plan, write_plan
from xsudo.sim import PtyServer
from xsudo.station.runner import Station
from xsudo.station.watch import Board as Seen
from xsudo.station.watch import fixed_boards

Run = Callable[..., Result]
Board = Callable[..., PtyServer]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "--port (one or more) or --watch"),
        (["--port", "/dev/null", "--watch"], "--port (one or more) or --watch"),
        (["--port", "/dev/null", "--ports-from", "x"], "go with --watch"),
        (["--watch", "--ports-from", "x", "--port-glob", "y*"], "not both"),
        (["--port", "/dev/null"], "--trust"),
    ],
)
def test_usage_errors_are_exit_2(
    xsudo: Run, tmp_path: Path, args: list[str], fragment: str
) -> None:
    result = xsudo("station", "--plan", str(tmp_path / "plan.json"), *args)
    assert result.code == 2, result.err
    assert fragment in result.err
    assert result.out == ""


@pytest.mark.parametrize("case", ["garbage", "untrusted signer", "too few approvals"])
def test_a_bad_plan_is_refused_before_any_board(
    xsudo: Run, board: Board, tmp_path: Path, case: str
) -> None:
    plan, public = plan_setup(xsudo, tmp_path)
    server = locked_board(xsudo, board)
    extra: list[str] = []
    if case == "garbage":
        plan.write_text('{"payload": "e30", "signatures": []}')
    elif case == "untrusted signer":
        document, _ = build_plan(plan.parent / "fleet.toml", MemorySigner(), now=datetime.now(UTC))
        write_plan(plan, document, replace=True)
    else:
        extra = ["--approvals", "2"]
    before = snapshot(server)
    result = xsudo(
        "station", "--plan", str(plan), "--trust", str(public), "--port", server.path, *extra
    )
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and result.out == ""
    assert snapshot(server) == before


def test_json_lines_mode_prints_one_line_per_board_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    boards = Boards({"/dev/ttyACM1": "failed"})
    runner, totals = station_cli._run(
        boards,
        fixed_boards(["/dev/ttyACM0", "/dev/ttyACM1"]),
        once=True,
        workers=4,
        interval=0.01,
        station="line-7",
        as_json=True,
    )
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted((d["port"], d["status"]) for d in lines) == [
        ("/dev/ttyACM0", "written"),
        ("/dev/ttyACM1", "failed"),
    ]
    assert {d["station"] for d in lines} == {"line-7"}
    assert all(datetime.fromisoformat(d["time"]).tzinfo is not None for d in lines)
    assert (totals.written, totals.failed) == (1, 1)
    assert station_cli._report(runner, totals, "line-7", given=("/dev/ttyACM0", "/dev/ttyACM1"))
    err = capsys.readouterr().err
    assert "1 failed" in err and "failed: /dev/ttyACM1" in err


def test_first_interrupt_stops_gracefully_second_aborts() -> None:
    runner = Station(Boards(), fixed_boards([]))
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(click.exceptions.Abort), station_cli._interrupts(runner):
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        handler(signal.SIGINT, None)
        assert runner.stopping
        handler(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is before


def test_an_abort_is_not_held_up_by_boards_in_flight() -> None:
    boards = Boards(hold=True)
    runner = Station(boards, fixed_boards(["/dev/ttyACM0"]), interval=0.01)

    def source_then_abort() -> list[Seen]:
        if boards.calls:  # the board is in flight: a second signal arrives now
            runner.stop()
            raise station_cli._SecondSignal()
        return [Seen("/dev/ttyACM0")]

    runner._source = source_then_abort
    try:
        with pytest.raises(click.exceptions.Abort), station_cli._interrupts(runner):
            runner.run()
        assert runner.totals().in_flight == 1  # returned without waiting for it
    finally:
        boards.release.set()


def test_an_abort_tells_the_boards_in_flight_to_stop_and_waits_for_their_record() -> None:
    """The second signal sets ``cancel``: a board in flight stops at its next entry and
    returns (records) its outcome before the station exits."""
    boards = Boards(hold=True)
    cancel = threading.Event()
    runner = Station(boards, fixed_boards(["/dev/ttyACM0"]), interval=0.01)

    def source_then_abort() -> list[Seen]:
        if boards.calls:  # the board is in flight: a second signal arrives now
            runner.stop()
            raise station_cli._SecondSignal()
        return [Seen("/dev/ttyACM0")]

    def stop_on_cancel() -> None:
        cancel.wait(30)
        boards.release.set()  # the board's next entry boundary: it stops and returns

    helper = threading.Thread(target=stop_on_cancel)
    helper.start()
    runner._source = source_then_abort
    try:
        with pytest.raises(click.exceptions.Abort), station_cli._interrupts(runner, cancel, 10):
            runner.run()
        assert cancel.is_set()
        assert runner.totals().in_flight == 0  # waited for the board to end
    finally:
        boards.release.set()
        helper.join(30)


# -- end to end with the real apply_to_port -------------------------------------------------


def plan_setup(xsudo: Run, tmp_path: Path) -> tuple[Path, Path]:
    """A plan signed by key store key ``factory``, and its public key file."""
    from xsudo.api import open_key

    assert xsudo("key", "generate", "factory").code == 0
    public = tmp_path / "factory.pub"
    public.write_text(xsudo("key", "export", "factory").out)
    document, _ = build_plan(write_manifest(tmp_path), open_key("factory"), now=datetime.now(UTC))
    plan = tmp_path / "plan.json"
    write_plan(plan, document)
    return plan, public


def locked_board(xsudo: Run, board: Board, imei: str = "352656100000017") -> PtyServer:
    server = board("locked", imei=imei)
    upload = xsudo("device", "upload-key", "--port", server.path, "--key", "factory")
    assert upload.code == 0, upload.err
    return server


def test_station_provisions_given_ports_then_finds_them_unchanged(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    plan, public = plan_setup(xsudo, tmp_path)
    servers = [locked_board(xsudo, board, f"35265610000001{n}") for n in range(2)]
    ledger = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    args = ["station", "--plan", str(plan), "--trust", str(public), "--ledger", ledger]
    ports = [arg for server in servers for arg in ("--port", server.path)]
    first = xsudo(*args, *ports, "--station-id", "line-1", "--json")
    assert first.code == 0, first.err
    lines = [json.loads(line) for line in first.out.splitlines()]
    assert sorted(d["port"] for d in lines) == sorted(s.path for s in servers)
    assert {d["status"] for d in lines} == {"written"}, lines
    assert {d["station"] for d in lines} == {"line-1"}
    for server in servers:
        held = snapshot(server)
        assert (CA_TAG, 0) in held and (PSK_ID_TAG, 4) in held
    assert "2 done (2 written" in first.err
    again = xsudo(*args, *ports, "--station-id", "line-1", "--json")
    assert again.code == 0, again.err
    assert {json.loads(line)["status"] for line in again.out.splitlines()} == {"unchanged"}


def test_station_fails_a_board_without_the_plan_key(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    plan, public = plan_setup(xsudo, tmp_path)
    bare = board("locked")  # no key in its slot: nothing may be written
    before = snapshot(bare)
    result = xsudo(
        "station", "--plan", str(plan), "--trust", str(public), "--port", bare.path, "--json"
    )
    assert result.code == 1, result.err
    (line,) = [json.loads(text) for text in result.out.splitlines()]
    assert line["status"] == "failed" and line["error"]
    assert snapshot(bare) == before
    assert "failed: " in result.err


def test_watch_provisions_a_board_plugged_in_and_stops_on_sigint(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    plan, public = plan_setup(xsudo, tmp_path)
    server = locked_board(xsudo, board)
    listing = tmp_path / "ports.txt"
    listing.write_text("")  # no board yet
    finished = threading.Event()

    def plug_then_interrupt() -> None:
        listing.write_text(server.path + "\n")  # the board is plugged in
        # the first write landed: the board is in flight, the handler installed (on a
        # timeout the station is stopped all the same, and the assertions below fail)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: (CA_TAG, 0) in snapshot(server) or finished.is_set(), 30)
        if not finished.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=plug_then_interrupt)
    helper.start()
    try:
        result = xsudo(
            "station", "--plan", str(plan), "--trust", str(public), "--watch",
            "--ports-from", str(listing), "--poll", "0.05", "--json",
        )  # fmt: skip
    finally:
        finished.set()
        helper.join(30)
    assert result.code == 0, result.err
    (line,) = [json.loads(text) for text in result.out.splitlines()]
    assert (line["port"], line["status"]) == (server.path, "written")
    assert "stopping" in result.err and "1 done (1 written" in result.err


def test_dashboard_mode_prints_the_table_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    boards = Boards({"/dev/ttyACM1": "failed"})
    _, totals = station_cli._run(
        boards,
        fixed_boards(["/dev/ttyACM0", "/dev/ttyACM1"]),
        once=True,
        workers=4,
        interval=0.01,
        station="line-7",
        as_json=False,
    )
    out = capsys.readouterr().out
    assert "xsudo station line-7" in out and "/dev/ttyACM1" in out
    assert "failed: /dev/ttyACM1" in out and "1 done (1 written" in out
    assert '"status"' not in out
    assert totals.failed == 1


def test_station_opens_sim_ports_in_a_fresh_process(xsudo: Run, tmp_path: Path) -> None:
    """A ``sim://`` port works in ``xsudo station`` run as its own process (where nothing
    else has loaded the simulator): the board is written, and is in its state file."""
    import subprocess
    import sys

    from xsudo.sim import load_nvm

    plan, public = plan_setup(xsudo, tmp_path)
    state = tmp_path / "board.json"
    port = f"sim://?profile=locked&imei=352656100000025&state={state}"
    upload = xsudo("device", "upload-key", "--port", port, "--key", "factory")
    assert upload.code == 0, upload.err
    ledger = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    env = {**os.environ, "XSUDO_HOME": str(tmp_path / "station-home")}
    args = ["station", "--plan", str(plan), "--trust", str(public), "--ledger", ledger]
    done = subprocess.run(
        [sys.executable, "-m", "xsudo", *args, "--port", port, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "written"
    stored = load_nvm(state)
    assert stored is not None and (CA_TAG, 0) in stored.credentials


def test_a_repeated_port_is_refused_like_apply_does(xsudo: Run, tmp_path: Path) -> None:
    plan, public = plan_setup(xsudo, tmp_path)
    args = ["station", "--plan", str(plan), "--trust", str(public)]
    done = xsudo(*args, "--port", "sim://?imei=1", "--port", "sim://?imei=1")
    assert done.code == 2 and done.out == ""
    assert done.err.startswith("error: port sim://?imei=1 is given twice; give each port once")


def test_a_missing_ports_file_is_refused_at_start(xsudo: Run, tmp_path: Path) -> None:
    plan, public = plan_setup(xsudo, tmp_path)
    missing = tmp_path / "ports.txt"
    done = xsudo(
        "station", "--plan", str(plan), "--trust", str(public), "--watch",
        "--ports-from", str(missing),
    )  # fmt: skip
    assert done.code == 2 and done.out == ""
    assert done.err.startswith(f"error: the port list {missing} does not exist")


def test_a_ports_file_that_becomes_unreadable_is_warned_of_once(tmp_path: Path) -> None:
    from xsudo.station.watch import ports_from_file

    listing = tmp_path / "ports.txt"
    listing.write_text("/dev/ttyACM0\n")
    warnings: list[str] = []
    source = ports_from_file(listing, warn=warnings.append)
    assert [board.port for board in source()] == ["/dev/ttyACM0"]
    listing.unlink()
    assert source() == [] and source() == []
    assert len(warnings) == 1 and str(listing) in warnings[0]
    listing.write_text("/dev/ttyACM1\n")
    assert [board.port for board in source()] == ["/dev/ttyACM1"]
    listing.unlink()
    source()
    assert len(warnings) == 2  # said again after it was read in between


def test_the_empty_dashboard_says_what_it_waits_for() -> None:
    from rich.console import Console

    from xsudo.station.dashboard import render
    from xsudo.station.runner import Totals
    from xsudo.station.watch import USB_BOARDS

    console = Console(width=80, record=True, color_system=None)
    console.print(render([], Totals(), waiting_for=USB_BOARDS))
    text = console.export_text()
    assert "waiting for nRF91 boards on USB (VID 0x1915 Nordic" in text


def test_ports_not_started_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    runner = Station(Boards(), fixed_boards(["/dev/ttyACM0"]))
    runner.poll()
    runner.stop()
    totals = runner.run()
    assert station_cli._report(runner, totals, "line-7", given=("/dev/ttyACM0", "/dev/ttyACM5"))
    err = capsys.readouterr().err
    assert "1 given port(s) not started: /dev/ttyACM5" in err
