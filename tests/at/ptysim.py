"""``xsudo sim --pty`` run as a real subprocess, for tests that need a separate process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class PtySim:
    """``xsudo sim --pty FLAGS`` in a subprocess; ``path`` is its first stdout line."""

    def __init__(self, *flags: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xsudo", "sim", "--pty", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        self.path = self.proc.stdout.readline().decode().strip()
        if not self.path:
            raise RuntimeError(self.proc.stderr.read().decode() if self.proc.stderr else "")

    def stop(self, timeout: float = 10.0) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
