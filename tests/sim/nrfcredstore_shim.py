"""Run Nordic's real nrfcredstore CLI against a pty path.

nrfcredstore finds boards by USB serial number and cannot see a pty. This shim replaces
only that lookup (``comms.select_device``) with one that returns the given path; the port
is then opened by nrfcredstore's own code (pyserial, 115200, RTS/CTS) and everything else
- shell-mode detection, CMEE, offline, the commands, response parsing - is its own.

Usage: python nrfcredstore_shim.py <pty path> <nrfcredstore arguments...>
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

from nrfcredstore import cli, comms  # type: ignore[import-untyped]


def select_device(rtt: bool, serial_number: Any, port: str, list_all: bool) -> tuple[Any, None]:
    return SimpleNamespace(device=port), None


comms.select_device = select_device

if __name__ == "__main__":
    cli.run(["nrfcredstore", *sys.argv[1:]])
