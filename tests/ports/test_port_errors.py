"""The usual port problems, on real ptys: busy (naming the program that holds the port) and
permission denied (an unprivileged user and a mode-000 device node)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from xsudo.at import open_port, port_error
from xsudo.at.transport import port_holders
from xsudo.errors import PortError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ptys and /proc")

REPO = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys, serial; port = serial.Serial(sys.argv[1], exclusive=True); "
    "print('held', flush=True); sys.stdin.read()"
)


@pytest.fixture
def pty_path() -> Iterator[str]:
    """A pty nobody in this process holds open on the device side (only the master)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.close(slave)
    yield path
    os.close(master)


@pytest.fixture
def holder(pty_path: str) -> Iterator[subprocess.Popen[bytes]]:
    """Another program with the port open exclusively, until the test ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, pty_path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdout.readline() == b"held\n"
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


def test_busy_port_names_the_program_holding_it(
    pty_path: str, holder: subprocess.Popen[bytes]
) -> None:
    with pytest.raises(PortError) as caught:
        open_port(pty_path)
    message = str(caught.value)
    assert f"port {pty_path} is busy" in message
    assert f"(pid {holder.pid})" in message
    assert "close the other program" in message
    assert caught.value.exit_code == 3
    assert port_holders(pty_path) == [
        f"{Path(f'/proc/{holder.pid}/comm').read_text().strip()} (pid {holder.pid})"
    ]


def test_busy_without_a_known_holder_says_another_program() -> None:
    error = port_error(
        "/dev/ttyXSUDO-none",
        OSError(11, "Could not exclusively lock port /dev/ttyXSUDO-none"),
    )
    assert "busy (another program has it open)" in str(error)
    assert port_holders("socket://127.0.0.1:1") == []


def _nobody_can_run_xsudo() -> bool:
    if shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(
        [*_as_nobody(), sys.executable, "-c", "import xsudo.at"],
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd="/",
    )
    return probe.returncode == 0


def _as_nobody() -> list[str]:
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_permission_denied_on_a_mode_000_device(pty_path: str) -> None:
    os.chmod(pty_path, 0)
    script = (
        "import sys\nfrom xsudo.at import open_port\nfrom xsudo.errors import PortError\n"
        "try:\n    open_port(sys.argv[1])\nexcept PortError as exc:\n    print(exc)\n"
    )
    if os.geteuid() != 0:
        with pytest.raises(PortError) as caught:
            open_port(pty_path)
        message = str(caught.value)
    elif _nobody_can_run_xsudo():
        run = subprocess.run(
            [*_as_nobody(), sys.executable, "-c", script, pty_path],
            capture_output=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            cwd="/",
            check=True,
        )
        message = run.stdout.decode()
    else:  # pragma: no cover - depends on the machine
        pytest.skip("root, and no unprivileged user can run xsudo here")
    assert f"permission denied opening {pty_path}" in message
    assert "dialout" in message and "log out and back in" in message
