"""Run the xsudo CLI in a subprocess whose terminal is a pty, answering one prompt."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_on_terminal(
    args: list[str], prompt: bytes, answer: bytes, *, python: str | None = None
) -> tuple[int, bytes]:
    """Run ``xsudo ARGS`` (or ``python -c PYTHON ARGS``) with a pty as stdin, stdout and
    stderr; write ``answer`` once ``prompt`` has appeared. Returns (exit code, output)."""
    master, slave = os.openpty()
    command = [sys.executable, "-c", python] if python else [sys.executable, "-m", "xsudo"]
    proc = subprocess.Popen(
        [*command, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    answered = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            try:
                chunk = os.read(master, 4096) if ready else b""
            except OSError:  # the program exited and closed the terminal
                chunk = b""
            if not chunk:
                break
            seen += chunk
            if not answered and prompt in seen:
                os.write(master, answer)
                answered = True
        return proc.wait(timeout=30), seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
