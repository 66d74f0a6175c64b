"""Scripted link faults (``fault=KIND:N[:ARG]``) over ``sim://``, the pty server and the TCP
server, read with real pyserial ports and deadlines, and what the AT channel makes of each.

Nothing here sleeps to wait for data: reads block in the port until a deadline. Elapsed
times are measured with ``time.monotonic()`` and checked loosely (a lower bound only).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import serial

from xsudo.at import AtChannel, commands
from xsudo.at.modem import Modem as AtModem
from xsudo.errors import DeviceDisconnected, DeviceReset, DeviceTimeout
from xsudo.sim import (
    RESET_BANNER,
    Board,
    FaultSpec,
    PtyServer,
    SimOptionError,
    SimOptions,
    TcpServer,
    get_board,
    parse_sim_url,
    register_url_handler,
)
from xsudo.sim.board import Answer, Link
from xsudo.sim.options import DEFAULT_GARBAGE, FAULT_GRAMMAR
from xsudo.sim.shell import PROMPT
from xsudo.sim.urlhandler.protocol_sim import Serial as SimSerial

DEADLINE = 5.0
QUIET = 0.2
"""How long a test waits to see that nothing arrives."""
TRANSPORTS = ("sim", "pty", "tcp")
REPO = Path(__file__).resolve().parents[2]
CREDENTIAL = b'AT%CMNG=0,42,4,"device-42"'


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    register_url_handler()
    yield


@contextmanager
def connect(
    transport: str, query: str, timeout: float | None = DEADLINE, board: Board | None = None
) -> Iterator[tuple[Any, Board]]:
    """A pyserial port to a board configured by ``query`` (``fault=drop:2&...``)."""
    if transport == "sim":
        port = serial.serial_for_url("sim://?" + query, timeout=timeout)
        assert isinstance(port, SimSerial)
        try:
            yield port, port.board
        finally:
            port.close()
        return
    _, options = parse_sim_url("sim://?" + query)
    board = board or Board(options)
    server: PtyServer | TcpServer
    server = PtyServer(board=board) if transport == "pty" else TcpServer(board=board)
    with server:
        url = server.path if isinstance(server, PtyServer) else server.url
        port = serial.serial_for_url(url, timeout=timeout)
        try:
            yield port, board
        finally:
            port.close()


def ask(port: serial.SerialBase, command: bytes, final: bytes = b"OK\r\n") -> bytes:
    port.write(command + b"\r")
    answer = bytes(port.read_until(final))
    assert answer.endswith(final), answer
    return answer


def silent(port: serial.SerialBase, command: bytes) -> None:
    """Send ``command`` and check that nothing comes back within :data:`QUIET`."""
    port.write(command + b"\r")
    saved = port.timeout
    port.timeout = QUIET
    try:
        assert port.read(100) == b""
    finally:
        port.timeout = saved


def stored(board: Board) -> bool:
    return (42, 4) in board.modem.nvm.credentials


# -- parsing ---------------------------------------------------------------------------------


def test_every_kind_parses_and_renders_back() -> None:
    specs = [
        "drop:3",
        "late:3:0.5",
        "stall:4",
        "stall:4:2",
        "garbage:2",
        "garbage:2:00ff0d0a",
        "split:5",
        "split:5:0.01",
        "reset:2",
        "reset-before:2",
        "reset-after:6",
        "unplug:7",
        "pofwarn:5",
    ]
    options = SimOptions.from_mapping({"fault": specs})
    assert options.to_mapping()["fault"] == specs
    assert SimOptions.from_mapping(options.to_mapping()) == options
    assert options.fault[1] == FaultSpec("late", 3, seconds=0.5)
    assert options.fault[3] == FaultSpec("stall", 4, count=2)
    assert options.fault[5].data == b"\x00\xff\r\n"
    _, url_options = parse_sim_url("sim://?fault=late:3:0.5&fault=unplug:7")
    assert url_options.fault == (FaultSpec("late", 3, seconds=0.5), FaultSpec("unplug", 7))


@pytest.mark.parametrize(
    "spec",
    [
        "late:3",
        "late:3:",
        "late:3:-1",
        "late:3:nan",
        "stall:2:0",
        "stall:2:x",
        "garbage:1:zz",
        "garbage:1:abc",
        "split:1:-0.1",
        "drop:1:2",
        "unplug:0",
        "reset-after",
        "explode:1",
        "drop:\u00b3",
    ],
)
def test_bad_specs_are_one_line_errors_naming_the_kinds(spec: str) -> None:
    with pytest.raises(SimOptionError) as info:
        SimOptions.from_mapping({"fault": spec})
    assert "\n" not in str(info.value)
    assert ascii(spec)[1:-1] in str(info.value)  # quoted escaped: \xb3, never raw
    assert str(info.value).isascii()
    if spec != "unplug:0":
        assert info.value.hint == FAULT_GRAMMAR


def test_direct_construction_is_validated() -> None:
    with pytest.raises(SimOptionError):
        FaultSpec("late", 1)
    with pytest.raises(SimOptionError):
        FaultSpec("drop", 1, count=2)
    with pytest.raises(SimOptionError):
        FaultSpec("nope", 1)  # type: ignore[arg-type]


def test_cli_flag_takes_the_new_kinds() -> None:
    from xsudo.cli.sim import options_from_flags, sim

    context = sim.make_context(
        "sim", ["--pty", "--fault", "late:3:0.5", "--fault", "unplug:7", "--fault", "stall:2:1"]
    )
    values = {k: v for k, v in context.params.items() if k not in ("use_pty", "tcp")}
    assert options_from_flags(values).fault == (
        FaultSpec("late", 3, seconds=0.5),
        FaultSpec("unplug", 7),
        FaultSpec("stall", 2, count=1),
    )


# -- the pure board --------------------------------------------------------------------------


def test_board_answers_describe_timing_and_the_journal_records_each_command() -> None:
    options = SimOptions.from_mapping(
        {"fault": ["late:1:0.5", "split:2:0.01", "stall:3:1", "unplug:4", "reset-after:5"]}
    )
    board = Board(options)
    late = board.answer(b"AT")
    assert (late.data, late.delay, late.split_gap) == (b"OK\r\n", 0.5, None)
    split = board.answer(b"AT+CGSN")
    pieces = split.timed()
    assert b"".join(piece for _, piece in pieces) == b"352656100367872\r\nOK\r\n"
    assert pieces[:3] == [(0.0, b"3"), (0.01, b"52"), (0.02, b"656")]
    assert board.answer(b"AT+CFUN=4") == Answer(swallowed=True)
    assert board.answer(CREDENTIAL) == Answer(vanish=True)
    assert board.answer(b"AT+CFUN=1") == Answer(RESET_BANNER)
    assert board.answer(b"  \r\n") == Answer()
    assert board.commands_handled == 5
    assert [(r.number, r.command, r.executed, r.faults) for r in board.journal] == [
        (1, b"AT", True, ("late",)),
        (2, b"AT+CGSN", True, ("split",)),
        (3, b"AT+CFUN=4", False, ("stall",)),
        (4, CREDENTIAL, True, ("unplug",)),
        (5, b"AT+CFUN=1", True, ("reset-after",)),
    ]
    assert stored(board)
    assert board.modem.volatile.cfun == 0


def test_split_pieces_are_deterministic() -> None:
    pieces = Answer(b"abcdefghij", delay=1.0, split_gap=0.5).timed()
    assert pieces == [
        (1.0, b"a"),
        (1.5, b"bc"),
        (2.0, b"def"),
        (2.5, b"g"),
        (3.0, b"hi"),
        (3.5, b"j"),
    ]


def test_link_stops_taking_input_after_the_port_vanished() -> None:
    board = Board(SimOptions.from_mapping({"fault": "unplug:1", "echo": "1"}))
    link = Link(board)
    out = link.transmit(b"AT+CFUN=4\rAT+CFUN=1\r")
    assert out.vanish is not None and out.vanish.offset == 10
    assert out.untimed() == [(0, b"AT+CFUN=4\rAT+CFUN=1\r")]
    assert link.transmit(b"AT\r").sends == []
    assert board.commands_handled == 1
    assert board.modem.volatile.cfun == 4


# -- each fault over each transport -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_drop_runs_the_command_and_loses_its_reply(transport: str) -> None:
    with connect(transport, "fault=drop:2") as (port, board):
        assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
        silent(port, b"AT+CFUN=4")
        assert ask(port, b"AT+CFUN?") == b"+CFUN: 4\r\nOK\r\n"
        assert board.commands_handled == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_late_reply_arrives_after_the_delay_and_later_replies_queue_behind(
    transport: str,
) -> None:
    with connect(transport, "fault=late:1:0.5") as (port, _board):
        started = time.monotonic()
        port.write(b"AT+CGMR\rAT+CGSN\r")
        port.timeout = 0.1
        assert port.read(100) == b""
        port.timeout = DEADLINE
        answer = port.read_until(b"352656100367872\r\nOK\r\n")
        assert time.monotonic() - started >= 0.49
        assert answer == b"mfw_nrf91x1_2.0.2\r\nOK\r\n352656100367872\r\nOK\r\n"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_stall_swallows_count_commands_then_answers_again(transport: str) -> None:
    with connect(transport, "fault=stall:2:2") as (port, board):
        assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
        silent(port, b"AT+CFUN=4")
        silent(port, b"AT+CFUN=1")
        assert ask(port, b"AT+CFUN?") == b"+CFUN: 0\r\nOK\r\n"
        assert [r.executed for r in board.journal] == [True, False, False, True]


def test_stall_without_count_hangs_for_good() -> None:
    with connect("sim", "fault=stall:1") as (port, board):
        for _ in range(3):
            silent(port, b"AT")
        assert board.commands_handled == 3
        assert not any(r.executed for r in board.journal)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_garbage_arrives_just_before_the_reply(transport: str) -> None:
    with connect(transport, "fault=garbage:1&fault=garbage:2:00fe80410d0a") as (port, _board):
        assert ask(port, b"AT+CMEE=1") == DEFAULT_GARBAGE + b"OK\r\n"
        assert ask(port, b"AT+CMEE?") == b"\x00\xfe\x80A\r\n+CMEE: 1\r\nOK\r\n"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_split_reply_arrives_in_pieces_with_the_same_bytes(transport: str) -> None:
    with connect(transport, "fault=split:2:0.002") as (port, _board):
        listing = ask(port, b"AT%CMNG=1")
        started = time.monotonic()
        port.write(b"AT%CMNG=1\r")
        reads: list[bytes] = []
        while not b"".join(reads).endswith(b"OK\r\n"):
            reads.append(port.read(max(1, port.in_waiting)))
        assert b"".join(reads) == listing
        assert time.monotonic() - started >= (len(listing) // 2 - 1) * 0.002
        if transport == "sim":
            assert len(reads) >= 3  # arrived piece by piece, not at once


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", ["reset", "reset-before"])
def test_reset_before_sends_the_banner_instead_of_running(transport: str, kind: str) -> None:
    with connect(transport, f"fault={kind}:3") as (port, board):
        ask(port, b"AT+CMEE=1")
        ask(port, b"AT+CFUN=4")
        assert ask(port, CREDENTIAL, RESET_BANNER) == RESET_BANNER
        assert not stored(board)
        assert ask(port, b"AT+CMEE?") == b"+CMEE: 0\r\nOK\r\n"
        assert ask(port, b"AT+CFUN?") == b"+CFUN: 0\r\nOK\r\n"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reset_after_runs_the_command_then_reboots_before_answering(transport: str) -> None:
    with connect(transport, "fault=reset-after:3") as (port, board):
        ask(port, b"AT+CMEE=1")
        ask(port, b"AT+CFUN=4")
        assert ask(port, CREDENTIAL, RESET_BANNER) == RESET_BANNER
        assert stored(board)
        assert ask(port, b"AT+CMEE?") == b"+CMEE: 0\r\nOK\r\n"
        assert ask(port, b"AT+CFUN?") == b"+CFUN: 0\r\nOK\r\n"
        assert ask(port, b"AT%CMNG=1,42").startswith(b"%CMNG: 42,4,")


def test_unplug_over_sim_url_fails_every_later_call_and_the_board_lives_on() -> None:
    url = "sim://bench-unplug?fault=unplug:2"
    port = serial.serial_for_url(url, timeout=DEADLINE)
    assert ask(port, b"AT+CFUN=4") == b"OK\r\n"
    port.write(CREDENTIAL + b"\r")
    for call in (
        lambda: port.read(1),
        lambda: port.write(b"AT\r"),
        lambda: port.in_waiting,
        port.reset_input_buffer,
    ):
        with pytest.raises(serial.SerialException, match="vanished"):
            call()
    port.close()
    board = get_board("bench-unplug")
    assert board is not None and stored(board)
    with serial.serial_for_url(url, timeout=DEADLINE) as again:  # plugged back in
        assert ask(again, b"AT+CFUN?") == b"+CFUN: 4\r\nOK\r\n"


def test_unplug_wakes_a_reader_blocked_in_another_thread() -> None:
    with connect("sim", "fault=late:1:0.2&fault=unplug:1", timeout=None) as (port, board):
        failures: list[BaseException] = []

        def reader() -> None:
            try:
                port.read(1)
            except serial.SerialException as exc:
                failures.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        started = time.monotonic()
        port.write(b"AT+CFUN=4\r")
        thread.join(DEADLINE)
        assert not thread.is_alive()
        assert len(failures) == 1
        assert time.monotonic() - started >= 0.19  # late:1:0.2 delays the vanishing too
        assert board.modem.volatile.cfun == 4


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_unplug_over_a_server_fails_the_clients_reads_and_writes(transport: str) -> None:
    with connect(transport, "fault=unplug:2") as (port, board):
        assert ask(port, b"AT+CFUN=4") == b"OK\r\n"
        port.write(CREDENTIAL + b"\r")
        with pytest.raises(serial.SerialException):
            port.read(1)
        with pytest.raises(serial.SerialException):
            port.write(b"AT\r")
        if transport == "pty":
            with pytest.raises(OSError):
                port.in_waiting  # noqa: B018 - the ioctl fails with EIO on a hung-up tty
            assert not os.path.exists(str(port.port))
        assert stored(board)


def test_unplugged_tcp_server_serves_the_next_client_the_same_board() -> None:
    board = Board(SimOptions.from_mapping({"fault": "unplug:1"}))
    with TcpServer(board=board) as server:
        with serial.serial_for_url(server.url, timeout=DEADLINE) as port:
            port.write(b"AT+CFUN=4\r")
            with pytest.raises(serial.SerialException):
                port.read(1)
        with serial.serial_for_url(server.url, timeout=DEADLINE) as port:
            assert ask(port, b"AT+CFUN?") == b"+CFUN: 4\r\nOK\r\n"
        assert server.vanished == 1


def test_pty_server_with_replug_opens_a_new_pty() -> None:
    board = Board(SimOptions.from_mapping({"fault": "unplug:1"}))
    replugged = threading.Event()
    with PtyServer(board=board, replug=True) as server:
        server.on_vanish = replugged.set
        with serial.Serial(server.path, timeout=DEADLINE) as port:
            port.write(b"AT+CFUN=4\r")
            with pytest.raises(serial.SerialException):
                port.read(1)
        assert replugged.wait(DEADLINE)
        with serial.Serial(server.path, timeout=DEADLINE) as port:
            assert ask(port, b"AT+CFUN?") == b"+CFUN: 4\r\nOK\r\n"


def test_pofwarn_still_fires_before_the_command() -> None:
    with connect("sim", "fault=pofwarn:1") as (port, _board):
        answer = ask(port, b'AT%CMNG=0,1,4,"x"', b"ERROR\r\n")
        assert answer == b"+CGEV: ME BATTERY LOW\r\nERROR\r\n"


def test_faults_combine_on_one_command() -> None:
    with connect("sim", "fault=late:1:0.1&fault=split:1&fault=garbage:1") as (port, _board):
        started = time.monotonic()
        assert ask(port, b"AT") == DEFAULT_GARBAGE + b"OK\r\n"
        assert time.monotonic() - started >= 0.09


# -- the shell front end -----------------------------------------------------------------------

SHELL = "cmd_type=shell&shell_echo=0"
COLOURED_PROMPT = b"\x1b[1;32m" + PROMPT + b"\x1b[0m"


def test_shell_late_and_split_time_the_response_and_prompt() -> None:
    with connect("sim", SHELL + "&fault=late:1:0.2&fault=split:2") as (port, _board):
        started = time.monotonic()
        port.write(b"at AT\r")
        assert port.read_until(COLOURED_PROMPT) == b"\r\nOK\r\n\r\n" + COLOURED_PROMPT
        assert time.monotonic() - started >= 0.19
        port.write(b"at AT+CGSN\r")
        expected = b"\r\n352656100367872\r\nOK\r\n\r\n" + COLOURED_PROMPT
        assert port.read_until(COLOURED_PROMPT) == expected


def test_shell_stall_prints_no_prompt_and_unplug_vanishes() -> None:
    with connect("sim", SHELL + "&fault=stall:1:1&fault=unplug:2") as (port, board):
        port.write(b"at AT+CFUN=4\r")
        port.timeout = QUIET
        assert port.read(100) == b"\r\n"
        port.write(b"at AT+CFUN=4\r")
        with pytest.raises(serial.SerialException):
            port.read(100)
        assert board.modem.volatile.cfun == 4


def test_shell_reset_after_prints_the_banner_then_the_prompt() -> None:
    with connect("sim", SHELL + "&fault=reset-after:1") as (port, board):
        port.write(b"at AT+CFUN=4\r")
        assert port.read_until(COLOURED_PROMPT).endswith(RESET_BANNER + b"\r\n" + COLOURED_PROMPT)
        assert board.modem.volatile.cfun == 0


# -- the AT channel's typed errors ------------------------------------------------------------


@contextmanager
def channel(transport: str, query: str, timeout: float = 0.3) -> Iterator[tuple[AtChannel, Board]]:
    """An AT channel (no opening sync probe, so command N is the Nth command sent)."""
    if transport == "sim":
        at = AtChannel.open("sim://?" + query, timeout=timeout, sync=False)
        board = at.serial_port.board  # type: ignore[attr-defined]
        with at:
            yield at, board
        return
    _, options = parse_sim_url("sim://?" + query)
    board = Board(options)
    server: PtyServer | TcpServer
    server = PtyServer(board=board) if transport == "pty" else TcpServer(board=board)
    with server:
        url = server.path if isinstance(server, PtyServer) else server.url
        with AtChannel.open(url, timeout=timeout, sync=False) as at:
            yield at, board


def _cfun(at: AtChannel) -> bytes:
    return at.command(b"AT+CFUN?", timeout=DEADLINE).lines[0]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_channel_drop_and_long_late_are_timeouts_then_it_resyncs(transport: str) -> None:
    with channel(transport, "fault=drop:1&fault=late:4:1") as (at, board):
        with pytest.raises(DeviceTimeout):
            at.command(b"AT+CFUN=4")
        assert _cfun(at) == b"+CFUN: 4"  # after a sync probe (command 2)
        with pytest.raises(DeviceTimeout):
            at.command(b"AT+CFUN=1")
        assert _cfun(at) == b"+CFUN: 1"  # the late OK came during the resync
        assert [r.command for r in board.journal][3] == b"AT+CFUN=1"


def test_channel_short_late_is_only_slower() -> None:
    with channel("sim", "fault=late:1:0.2", timeout=DEADLINE) as (at, _board):
        started = time.monotonic()
        assert at.command(b"AT+CGSN").lines == [b"352656100367872"]
        assert time.monotonic() - started >= 0.19


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_channel_stall_is_a_timeout_and_a_bounded_stall_recovers(transport: str) -> None:
    with channel(transport, "fault=stall:1:1") as (at, board):
        with pytest.raises(DeviceTimeout):
            at.command(b"AT+CFUN=4")
        assert _cfun(at) == b"+CFUN: 0"
        assert board.journal[0].executed is False


def test_channel_endless_stall_times_out_again() -> None:
    with channel("sim", "fault=stall:1") as (at, _board):
        with pytest.raises(DeviceTimeout):
            at.command(b"AT+CFUN=4")
        with pytest.raises(DeviceTimeout):
            at.command(b"AT+CFUN?")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_channel_keeps_garbage_aside_and_reassembles_split_replies(transport: str) -> None:
    with channel(transport, "fault=garbage:1&fault=split:2", timeout=DEADLINE) as (at, _b):
        assert at.command(b"AT+CGSN").lines == [b"352656100367872"]
        assert any(b"garbage" in stray for stray in at.strays())
        listing = at.command(b"AT%CMNG=1").lines
        assert len(listing) == 3 and all(line.startswith(b"%CMNG: 42949672") for line in listing)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("kind", "runs"), [("reset-before", False), ("reset-after", True)])
def test_channel_resets_are_device_resets(transport: str, kind: str, runs: bool) -> None:
    with channel(transport, f"fault={kind}:2", timeout=DEADLINE) as (at, board):
        at.command(b"AT+CFUN=4")
        with pytest.raises(DeviceReset):
            at.command(CREDENTIAL)
        assert stored(board) is runs
        assert _cfun(at) == b"+CFUN: 0"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_channel_unplug_is_device_disconnected_for_good(transport: str) -> None:
    with channel(transport, "fault=unplug:2", timeout=DEADLINE) as (at, board):
        at.command(b"AT+CFUN=4")
        started = time.monotonic()
        with pytest.raises(DeviceDisconnected):
            at.command(CREDENTIAL)
        assert time.monotonic() - started < DEADLINE / 2  # at once, not at the timeout
        with pytest.raises(DeviceDisconnected):
            at.command(b"AT")
        assert stored(board)


def test_modem_positions_come_from_the_journal() -> None:
    """Run an operation once to learn its command numbers, then fault one of them."""
    with AtModem.open("sim://probe-run", timeout=DEADLINE) as modem:
        modem.set_cfun(4)
        modem.command(commands.cmng_write(42, 4, b"device-42"))
    probe = get_board("probe-run")
    assert probe is not None
    position = next(r.number for r in probe.journal if r.command.startswith(b"AT%CMNG=0"))
    url = f"sim://faulted?fault=unplug:{position}"
    modem = AtModem.open(url, timeout=DEADLINE)
    modem.set_cfun(4)
    with pytest.raises(DeviceDisconnected):
        modem.command(commands.cmng_write(42, 4, b"device-42"))
    modem.close()
    faulted = get_board("faulted")
    assert faulted is not None and stored(faulted)


# -- the CLI server --------------------------------------------------------------------------


def _line(process: subprocess.Popen[bytes], deadline: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], deadline)
    assert ready, "no line from xsudo sim in time"
    return process.stdout.readline().decode().rstrip("\n")


def test_cli_pty_prints_the_new_path_after_an_unplug() -> None:
    env: dict[str, Any] = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "xsudo", "sim", "--pty", "--fault", "unplug:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    try:
        first = _line(process, DEADLINE)
        with serial.Serial(first, timeout=DEADLINE) as port:
            port.write(b"AT+CFUN=4\r")
            with pytest.raises(serial.SerialException):
                port.read(1)
        second = _line(process, DEADLINE)
        assert second.startswith("/dev/")
        with serial.Serial(second, timeout=DEADLINE) as port:
            assert ask(port, b"AT+CFUN?") == b"+CFUN: 4\r\nOK\r\n"
        process.terminate()
        _, stderr = process.communicate(timeout=DEADLINE)
        assert process.returncode == 0, stderr
        assert b"fault unplug" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(DEADLINE)
