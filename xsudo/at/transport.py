"""Open a pyserial port or URL, and move bytes over it with deadlines.

Contract:

* :func:`open_port` opens anything ``serial.serial_for_url`` takes: device paths
  (``/dev/ttyACM0``, ``COM3``), ``socket://``, ``rfc2217://``, ``loop://``, and ``sim://``
  once the program has loaded the simulator (``import xsudo.sim`` registers the scheme with
  pyserial; the CLI does so where it is assembled). This layer never imports the simulator:
  a ``sim://`` URL without it is a :class:`~xsudo.errors.PortError` that says to import
  ``xsudo.sim``. The port comes from the argument, else ``$XSUDO_PORT``; ``auto`` means the
  AT port of the one nRF91 kit connected (:mod:`xsudo.ports`). Open failures become a
  :class:`~xsudo.errors.PortError` that says whether the port is missing, busy (naming the
  program that holds it, where /proc tells) or not permitted, and what to do.
* :class:`PortIO` never sleeps waiting for data: it blocks inside ``serial.read`` with the
  time left before a ``time.monotonic()`` deadline. Any ``SerialException``/``OSError`` while
  reading or writing becomes :class:`~xsudo.errors.DeviceDisconnected`; a write that cannot
  finish before the deadline becomes :class:`~xsudo.errors.DeviceTimeout`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import serial

from xsudo.errors import (
    BadInputError,
    DeviceDisconnected,
    DeviceTimeout,
    PortError,
    Remedy,
    XsudoError,
)

DEFAULT_BAUD = 115200
PORT_ENV = "XSUDO_PORT"

_NOT_FOUND = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ECONNREFUSED}
_BUSY = {errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK}
_DENIED = {errno.EACCES, errno.EPERM}
_MAX_AVAILABLE = 64 * 1024


SIM_SCHEME = "sim"
"""The simulator's URL scheme; its pyserial handler is registered by ``import xsudo.sim``."""

Chooser = Callable[[Sequence[Any]], str]
"""Picks the AT port among the serial ports seen (:class:`xsudo.ports.SerialPort` values)."""

AUTO_PORT = "auto"
"""The port name that means: the AT port of the one nRF91 kit connected (:mod:`xsudo.ports`)."""


def resolve_port(port: str | None, *, choose: Chooser | None = None) -> str:
    """The port to use: ``port`` if given, else ``$XSUDO_PORT`` (the one place that reads
    it); neither is bad usage.

    ``auto`` is replaced by the AT port of the nRF91 development kit connected: ``choose``
    (given the serial ports seen) picks it, by default :func:`xsudo.ports.choose_auto_port`
    (none raises :class:`PortError`, several :class:`BadInputError`, both naming them).
    """
    chosen = port or os.environ.get(PORT_ENV, "").strip()
    if not chosen:
        raise BadInputError(
            "no serial port given",
            f"give a port (a device path, a pyserial URL, sim://, or auto) or set {PORT_ENV}",
            remedy=Remedy("choose-port"),
        )
    if chosen.lower() == AUTO_PORT:
        from xsudo.ports import choose_auto_port, list_serial_ports

        return (choose or choose_auto_port)(list_serial_ports())
    return chosen


FLOW_CONTROLS = ("none", "rtscts", "xonxoff", "dsrdtr")
"""Serial flow control: none, hardware RTS/CTS (what Nordic's DKs and tools default to),
software XON/XOFF, or hardware DSR/DTR."""


def open_port(
    port: str | None = None,
    *,
    baud: int = DEFAULT_BAUD,
    flow: str = "none",
) -> serial.SerialBase:
    """Open ``port`` (or ``$XSUDO_PORT``) exclusively, 8N1 at ``baud``, with ``flow`` control
    (one of :data:`FLOW_CONTROLS`).

    Raises :class:`BadInputError` when no port is given and :class:`PortError` when it
    cannot be opened.
    """
    name = resolve_port(port)
    if flow not in FLOW_CONTROLS:
        raise BadInputError(f"unknown flow control {flow!r}", f"use {', '.join(FLOW_CONTROLS)}")
    try:
        return serial.serial_for_url(
            name,
            baudrate=baud,
            rtscts=flow == "rtscts",
            xonxoff=flow == "xonxoff",
            dsrdtr=flow == "dsrdtr",
            exclusive=True,
            timeout=None,
        )
    except XsudoError:
        raise  # e.g. a sim:// option error, already typed and explained
    except (serial.SerialException, OSError, ValueError) as exc:
        raise port_error(name, exc) from exc


def port_error(name: str, exc: BaseException) -> PortError:
    """Map an exception from opening ``name`` to a :class:`PortError` with a clear next step."""
    kind = _open_failure_kind(exc)
    detail = str(exc) or type(exc).__name__
    if kind == "url" and _scheme(name) == SIM_SCHEME and "not known" in detail:
        return PortError(
            f"{name} is a simulator URL, but the simulator is not loaded in this program",
            "import xsudo.sim (or call xsudo.sim.register_url_handler()) before opening "
            "sim:// ports; the xsudo command line does this itself",
        )
    if kind == "url":
        return PortError(
            f"{name} is not a port or URL pyserial can open ({detail})",
            "give a device path (/dev/ttyACM0, COM3) or a URL (socket://host:port, sim://)",
        )
    if kind == "not_found":
        return PortError(
            f"port {name} not found",
            "check the path or URL and that the board is connected "
            "(xsudo.ports.list_serial_ports lists the serial ports)",
            remedy=Remedy("check-port", {"port": name}),
        )
    if kind == "busy":
        holders = port_holders(name)
        who = ", ".join(holders) if holders else "another program"
        return PortError(
            f"port {name} is busy ({who} has it open)",
            "close the other program (terminal, nRF Connect, ModemManager) and retry",
        )
    if kind == "denied":
        return PortError(f"permission denied opening {name}", _permission_hint())
    return PortError(f"cannot open port {name}: {detail}", "check the port and retry")


def _scheme(name: str) -> str:
    """The URL scheme of ``name`` in lower case (as pyserial matches it), else ``""``."""
    return name.split("://", 1)[0].lower() if "://" in name else ""


def port_holders(path: str) -> list[str]:
    """Programs that have the device ``path`` open, as ``name (pid N)``, read from /proc.

    Linux only; empty where it cannot be told (other systems, URLs, processes of other
    users whose descriptors cannot be read).
    """
    if not sys.platform.startswith("linux") or "://" in path or not os.path.isdir("/proc"):
        return []
    target = os.path.realpath(path)
    holders: list[str] = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _has_open(entry.path, target):
            holders.append(_process_label(entry.path, int(entry.name)))
    return holders


def _has_open(process_dir: str, target: str) -> bool:
    fd_dir = os.path.join(process_dir, "fd")
    try:
        descriptors = os.listdir(fd_dir)
    except OSError:
        return False
    for fd in descriptors:
        with contextlib.suppress(OSError):
            if os.readlink(os.path.join(fd_dir, fd)) == target:
                return True
    return False


def _process_label(process_dir: str, pid: int) -> str:
    try:
        with open(os.path.join(process_dir, "comm"), encoding="utf-8", errors="replace") as f:
            name = f.read().strip() or "?"
    except OSError:
        name = "?"
    return f"{name} (pid {pid}, this program)" if pid == os.getpid() else f"{name} (pid {pid})"


def _permission_hint() -> str:
    if sys.platform.startswith("linux"):
        return (
            "add yourself to the dialout group (sudo usermod -aG dialout $USER), "
            "then log out and back in"
        )
    return "check that your user may open the port"


def _open_failure_kind(exc: BaseException) -> str:
    if isinstance(exc, ValueError) and not isinstance(exc, serial.SerialException):
        return "url"
    text = str(exc)
    lowered = text.lower()
    code = getattr(exc, "errno", None)
    if "exclusively lock" in lowered or "already open" in lowered or code in _BUSY:
        return "busy"
    windows_denied = "access is denied" in lowered or "permissionerror" in lowered
    if code in _DENIED or windows_denied:
        return "busy" if sys.platform == "win32" or windows_denied else "denied"
    if (
        code in _NOT_FOUND
        or "filenotfounderror" in lowered
        or "cannot find the file" in lowered
        or "connection refused" in lowered
        or "no such file" in lowered
    ):
        return "not_found"
    return "other"


class PortIO:
    """Bytes in and out of one open port, with deadlines and typed failures."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.name = str(port.portstr or port.name or "port")

    def read_available(self) -> bytes:
        """Whatever has already arrived, without blocking."""
        data = bytearray()
        try:
            waiting = self._in_waiting()
            while waiting and len(data) < _MAX_AVAILABLE:
                # The bytes are already there, so this read returns at once whatever the
                # port's timeout is.
                data += self.port.read(waiting)
                waiting = self._in_waiting()
        except (serial.SerialException, OSError) as exc:
            raise self._disconnected(exc) from exc
        return bytes(data)

    def _in_waiting(self) -> int:
        # Every pyserial port class has in_waiting; the stubs leave it off SerialBase.
        return int(self.port.in_waiting)  # type: ignore[attr-defined]

    def read_some(self, deadline: float) -> bytes:
        """Block until at least one byte arrives or ``deadline`` passes (then ``b""``)."""
        data = self.read_available()
        if data:
            return data
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        try:
            self._set_read_timeout(remaining)
            first = self.port.read(1)
        except (serial.SerialException, OSError) as exc:
            raise self._disconnected(exc) from exc
        if not first:
            return b""
        return first + self.read_available()

    def _set_read_timeout(self, remaining: float) -> None:
        """Set the port's read timeout to at most ``remaining`` seconds.

        Changing a pyserial timeout reconfigures the port (a ``tcsetattr`` on POSIX), so the
        timeout is only changed when it would overrun the deadline or is far shorter than
        needed; in between, a read may return early and the caller simply reads again.
        """
        current = self.port.timeout
        if current is None or current > remaining or current < remaining / 4:
            self.port.timeout = remaining / 2 if remaining > 0.01 else remaining

    def write(self, data: bytes, deadline: float) -> None:
        """Write all of ``data`` before ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._write_timeout()
        try:
            self.port.write_timeout = remaining
            self.port.write(data)
        except serial.SerialTimeoutException as exc:
            raise self._write_timeout() from exc
        except (serial.SerialException, OSError) as exc:
            raise self._disconnected(exc) from exc

    def close(self) -> None:
        """Close the port; errors while closing a port that already went away are ignored."""
        with contextlib.suppress(serial.SerialException, OSError):
            self.port.close()

    def _disconnected(self, exc: BaseException) -> DeviceDisconnected:
        return DeviceDisconnected(
            f"the port {self.name} went away ({exc or type(exc).__name__})",
            "reconnect the board, check the cable, then retry",
        )

    def _write_timeout(self) -> DeviceTimeout:
        return DeviceTimeout(
            f"writing to {self.name} did not finish in time",
            "check that the device is running and the flow control setting (RTS/CTS) matches",
        )
