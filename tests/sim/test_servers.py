"""The simulator over a real pty and a real TCP socket, through pyserial.

In-thread servers cover most cases; one test per server runs the real
``python -m xsudo sim`` process and checks its first stdout line and its clean exit on
SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from xsudo.sim import Board, PtyServer, SimOptions, TcpServer

from .conftest import amazon_root_ca

PEM = amazon_root_ca()["content"].encode("ascii")
PEM_SHA = amazon_root_ca()["sha256_upper_hex"].encode("ascii")
DEADLINE = 10.0
REPO = Path(__file__).resolve().parents[2]


def ask(port: serial.SerialBase, command: bytes, final: bytes = b"OK\r\n") -> bytes:
    port.write(command + b"\r\n")
    answer = bytes(port.read_until(final))
    assert answer.endswith(final), answer
    return answer


def exercise(port: serial.SerialBase) -> None:
    """A provisioning-like conversation, multi-line PEM included."""
    assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
    assert ask(port, b"AT+CFUN=4") == b"OK\r\n"
    assert ask(port, b'AT%CMNG=0,16842753,0,"' + PEM + b'"') == b"OK\r\n"
    assert ask(port, b"AT%CMNG=1,16842753,0") == (b'%CMNG: 16842753,0,"' + PEM_SHA + b'"\r\nOK\r\n')


def test_pty_server_in_thread_survives_reopening() -> None:
    with PtyServer(SimOptions()) as server:
        for _ in range(3):
            with serial.Serial(server.path, timeout=DEADLINE, rtscts=True) as port:
                exercise(port)
        with serial.Serial(server.path, timeout=DEADLINE) as port:
            assert ask(port, b"AT+CMEE?") == b"+CMEE: 1\r\nOK\r\n"
            assert ask(port, b"AT%CMNG=2,16842753,0") == (
                b'%CMNG: 16842753,0,"' + PEM_SHA + b'","' + PEM + b'"\r\nOK\r\n'
            )


def test_pty_server_sends_urcs_and_hooks() -> None:
    options = SimOptions.from_mapping({"urc": "every:0.05:+CEREG: 1,5"})
    with PtyServer(options) as server, serial.Serial(server.path, timeout=DEADLINE) as port:
        assert port.read_until(b"+CEREG: 1,5\r\n") == b"+CEREG: 1,5\r\n"
        server.trigger_pofwarn()
        assert port.read_until(b"LOW\r\n") == b"+CGEV: ME BATTERY LOW\r\n"


def test_pty_server_paces_output_at_the_baud_rate() -> None:
    with (
        PtyServer(SimOptions(baud=2400)) as server,
        serial.Serial(server.path, timeout=DEADLINE) as port,
    ):
        port.write(b"AT+CGMR\r")
        assert port.read_until(b"OK\r\n") == b"mfw_nrf91x1_2.0.2\r\nOK\r\n"


def test_tcp_server_in_thread_serves_one_client_after_another() -> None:
    board = Board(SimOptions())
    with TcpServer(board=board) as server:
        for _ in range(2):
            with serial.serial_for_url(server.url, timeout=DEADLINE) as port:
                exercise(port)
        with serial.serial_for_url(server.url, timeout=DEADLINE) as port:
            assert ask(port, b"AT+CMEE?") == b"+CMEE: 1\r\nOK\r\n"
    assert board.commands_handled == 9


def test_tcp_server_second_client_waits_for_the_first() -> None:
    with TcpServer(SimOptions()) as server:
        first = serial.serial_for_url(server.url, timeout=DEADLINE)
        second = serial.serial_for_url(server.url, timeout=0.2)
        second.write(b"AT+CGSN\r")
        assert ask(first, b"AT") == b"OK\r\n"
        assert second.read(100) == b""
        first.close()
        second.timeout = DEADLINE
        assert second.read_until(b"OK\r\n") == b"352656100367872\r\nOK\r\n"
        second.close()


@contextmanager
def cli_sim(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "xsudo", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().decode().rstrip("\n")
        yield process, first_line
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> tuple[int, bytes]:
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=DEADLINE)
    return process.returncode, stderr


def test_cli_pty_prints_the_device_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    identity = tmp_path / "identity.pem"
    with cli_sim("--pty", "--identity-key-out", str(identity)) as (process, first_line):
        assert first_line.startswith("/dev/")
        for _ in range(2):
            with serial.Serial(first_line, timeout=DEADLINE) as port:
                exercise(port)
        with serial.Serial(first_line, timeout=DEADLINE) as port:
            assert ask(port, b"AT") == b"OK\r\n"
            process.send_signal(signal.SIGUSR1)
            assert port.read_until(b"LOW\r\n").endswith(b"+CGEV: ME BATTERY LOW\r\n")
        assert identity.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
        returncode, stderr = stop(process)
        assert returncode == 0, stderr
        assert b"Traceback" not in stderr


def test_cli_tcp_prints_the_url_and_exits_cleanly_on_sigint(tmp_path: Path) -> None:
    state = tmp_path / "board.json"
    with cli_sim("--tcp", "127.0.0.1:0", "--profile", "locked", "--state", str(state)) as (
        process,
        first_line,
    ):
        assert first_line.startswith("socket://127.0.0.1:")
        assert int(first_line.rsplit(":", 1)[1]) > 0
        with serial.serial_for_url(first_line, timeout=DEADLINE) as port:
            assert ask(port, b"AT+CMEE=1") == b"OK\r\n"
            assert ask(port, b'AT%CMNG=0,1,4,"x"', b"\r\n") == b"+CME ERROR: 514\r\n"
            assert ask(port, b"AT+CGMR") == b"mfw_nrf91x1_rehearsal-locked\r\nOK\r\n"
        returncode, stderr = stop(process, signal.SIGINT)
        assert returncode == 0, stderr
    assert state.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--pty", "--profile", "nope"),
        ("--tcp", "localhost"),
        ("--pty", "--tcp", "127.0.0.1:0"),
        (),
        ("--pty", "--fault", "explode:1"),
    ],
    ids=["bad-profile", "bad-address", "both", "neither", "bad-fault"],
)
def test_cli_bad_input_exits_2_with_one_line(args: tuple[str, ...]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "xsudo", "sim", *args],
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines


def test_cli_corrupt_state_exits_2(tmp_path: Path) -> None:
    state = tmp_path / "board.json"
    state.write_text("{broken")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "xsudo", "sim", "--pty", "--state", str(state)],
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().startswith("error: ")
