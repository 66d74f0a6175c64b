"""Which boards are plugged in right now: the sources a station polls.

A *board source* is a function of no arguments returning the boards present now
(:data:`BoardSource`); the runner calls it once per poll and compares with the previous
answer. A board is known by its :attr:`Board.key`, its port and its USB serial number, so a
different kit on the same port is a new board, and the same kit back on its port is a
replug.

* :func:`usb_boards`: the modem AT port of every nRF91 kit on USB, as :mod:`xsudo.ports`
  recognises them (Nordic VID ``0x1915``, and the SEGGER J-Link VID ``0x1366`` of the DKs;
  the first interface of the kit's serial number). Ports of other devices are ignored.
* :func:`fixed_boards`: a list of ports given once (``--port``).
* :func:`ports_from_file`: the ports listed in a file, re-read at every poll (one a line;
  blank lines and ``#`` comments ignored; a missing file lists none). Lets a script or a
  test plug boards in and out without USB.
* :func:`port_glob`: the paths matching a glob pattern at every poll (a directory of pty
  links, ``/dev/serial/by-id/usb-Nordic*``).

Nothing here opens a port.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xsudo.errors import BadInputError
from xsudo.ports import at_port_candidates, list_serial_ports

USB_BOARDS = "nRF91 boards on USB (VID 0x1915 Nordic, 0x1366 SEGGER J-Link)"
"""What :func:`usb_boards` finds, in words (the station's empty dashboard says it)."""

PORT_LIST_LIMIT = 64 * 1024
"""The largest ``--ports-from`` file read (bytes); a longer one is an error."""


@dataclass(frozen=True)
class Board:
    """A board seen by a source: its port, and its USB serial number and kit name when
    the source knows them (``None`` otherwise)."""

    port: str
    serial_number: str | None = None
    kit: str | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        """What identifies this board between polls: port and USB serial number."""
        return (self.port, self.serial_number)


BoardSource = Callable[[], list[Board]]
"""Returns the boards present now; called once per poll, from the runner's thread."""


def usb_boards(source: Callable[[], Iterable[Any]] | None = None) -> BoardSource:
    """The AT ports of the nRF91 kits on USB (``source`` replaces pyserial's
    ``list_ports.comports``, for tests)."""

    def boards() -> list[Board]:
        return [
            Board(port.device, port.serial_number, port.board)
            for port in at_port_candidates(list_serial_ports(source))
        ]

    return boards


def fixed_boards(ports: Sequence[str]) -> BoardSource:
    """The ``ports`` given, each once, in order, at every poll."""
    boards = [Board(port) for port in dict.fromkeys(ports)]
    return lambda: list(boards)


def ports_from_file(path: Path, warn: Callable[[str], None] | None = None) -> BoardSource:
    """The ports listed in ``path``, read again at every poll (module docstring). A file
    larger than :data:`PORT_LIST_LIMIT` raises :class:`~xsudo.errors.BadInputError`. One
    that cannot be read (missing, or no permission) lists none; with ``warn``, that is said
    once (and again only after the file was read in between). Without ``warn``, a file
    that exists but cannot be read raises :class:`~xsudo.errors.BadInputError`."""
    unreadable = False

    def boards() -> list[Board]:
        nonlocal unreadable
        try:
            data = path.read_bytes()
        except OSError as exc:
            if warn is None and isinstance(exc, FileNotFoundError):
                return []
            problem = f"cannot read the port list {path}: {exc.strerror}"
            if warn is None:
                raise BadInputError(problem, "give a readable file with one port a line") from None
            if not unreadable:
                warn(f"{problem}; no board is listed until it can be read")
            unreadable = True
            return []
        unreadable = False
        if len(data) > PORT_LIST_LIMIT:
            raise BadInputError(f"the port list {path} is larger than {PORT_LIST_LIMIT} bytes")
        lines = data.decode("utf-8", errors="replace").splitlines()
        ports = [line.split("#", 1)[0].strip() for line in lines]
        return [Board(port) for port in dict.fromkeys(port for port in ports if port)]

    return boards


def port_glob(pattern: str) -> BoardSource:
    """The paths matching ``pattern`` (shell glob, ``**`` not special), sorted."""
    return lambda: [Board(path) for path in sorted(glob.glob(pattern))]
