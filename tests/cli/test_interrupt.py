"""Ctrl-C ends any command with exit 130 and ``interrupted`` on stderr (click turns the
KeyboardInterrupt into an Abort; a declined prompt stays ``aborted``, exit 1)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from xsudo.cli import main


@pytest.mark.skipif(sys.platform == "win32", reason="a pty and SIGINT")
def test_ctrl_c_while_waiting_for_a_board_exits_130() -> None:
    master, slave = os.openpty()
    name = os.ttyname(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "xsudo", "cred", "list", "--port", name, "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the command is running once it sends a probe
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            if ready and os.read(master, 1024):
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.decode().strip().splitlines()[-1] == "interrupted"
    assert b"Traceback" not in err


def _abort(interrupted: bool) -> None:
    import click

    try:
        if interrupted:
            raise KeyboardInterrupt
        raise click.exceptions.Abort()
    except KeyboardInterrupt:
        raise click.exceptions.Abort() from None  # what click does with Ctrl-C


@pytest.mark.parametrize(
    ("interrupted", "code", "said"), [(True, 130, "interrupted"), (False, 1, "aborted")]
)
def test_an_abort_is_interrupted_only_when_ctrl_c_caused_it(
    interrupted: bool,
    code: int,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from xsudo.cli.app import cli

    monkeypatch.setattr(cli, "main", lambda *a, **k: _abort(interrupted))
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == code
    assert capsys.readouterr().err.strip() == said
