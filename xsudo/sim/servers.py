"""Serve a simulated board on a pseudo-terminal or a TCP socket.

Each server runs a single-threaded ``select`` loop (:meth:`SimServer.serve_forever`) until
:meth:`SimServer.stop`; :meth:`SimServer.start` runs it in a daemon thread instead (tests).
Wire-time emulation (``baud``) paces the bytes written back; timed URCs are sent when due.

Both need a POSIX system (``select`` on a pipe; ptys).

* :class:`PtyServer` - ``os.openpty()``; clients open :attr:`PtyServer.path` (a
  ``/dev/pts/N``) with pyserial like any serial port, as often as they like. The server
  keeps its own slave descriptor open, so a client closing the port never makes the master
  report EIO or hang up.
* :class:`TcpServer` - clients connect with ``serial_for_url("socket://HOST:PORT")``, one
  at a time (the next waits in the backlog). Each connection starts with fresh framing;
  the board (CFUN, CMEE, NVM) carries over, like a board whose port is reopened.

Scripted faults time the output the same way as on ``sim://`` (``late``, ``split``). On
``unplug`` the port vanishes once the command has arrived (pending output is lost):

* pty: the server closes the master and its own slave descriptor. The kernel hangs up
  the tty: its ``/dev/pts/N`` node disappears, a client's pyserial ``read`` raises
  ``SerialException`` ("device reports readiness to read but returned no data"), ``write``
  raises ``SerialException`` (EIO) and ``in_waiting`` raises ``OSError`` (EIO), exactly as
  for a USB serial device that was pulled. The server then serves no port, unless made
  with ``replug=True``: then it opens a new pty at once (:attr:`PtyServer.path` changes;
  the kernel may reuse the number). Another server given the same :class:`Board` also
  plugs the board back in.
* TCP: the server resets the connection (``SO_LINGER`` 0, so the client sees a reset, not
  an orderly end): pyserial's ``read`` and ``write`` raise ``SerialException``. The next
  client to connect reaches the same board.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Self

from xsudo.sim.board import Board
from xsudo.sim.options import SimOptionError, SimOptions
from xsudo.sim.shell import link_for
from xsudo.sim.wire import InputWire, OutputQueue

EIO_BACKOFF = 0.05
"""Seconds the pty master is left alone after EIO (only possible if no slave is open)."""

_RESET_LINGER = struct.pack("ii", 1, 0)


class _Endpoint:
    """A connected peer: its framing link, its wire queue, and bytes awaiting the fd."""

    def __init__(self, board: Board) -> None:
        self.link = link_for(board)
        self.wire_in = InputWire(board.options.baud)
        self.out = OutputQueue(board.options.baud)
        self.unsent = bytearray()
        self.vanish_at: float | None = None

    def receive(self, data: bytes, now: float) -> None:
        start = self.wire_in.send(len(data), now)
        out = self.link.transmit(data)
        for send in out.sends:
            self.out.push(send.data, self.wire_in.arrival(start, send.offset) + send.delay)
        if out.vanish is not None and self.vanish_at is None:
            self.vanish_at = self.wire_in.arrival(start, out.vanish.offset) + out.vanish.delay

    def collect(self, now: float) -> None:
        self.unsent += self.out.take(self.out.available(now), now)


class SimServer:
    """Common loop of the pty and TCP servers; subclasses supply the descriptors."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stopping = threading.Event()
        self._requests: deque[str] = deque()
        self._thread: threading.Thread | None = None
        self.endpoint: _Endpoint | None = None
        self.vanished = 0
        """How often the port has vanished (``unplug`` faults)."""
        self.on_vanish: Callable[[], None] | None = None
        """Called in the serving thread after the port vanished (and was replugged)."""

    # -- control (safe from other threads and signal handlers) -------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def stop(self) -> None:
        """Ask the loop to finish; returns at once."""
        self._stopping.set()
        self._wake()

    def trigger_pofwarn(self) -> None:
        """Fire the power-off warning; the URC goes to the connected client."""
        self._requests.append("pofwarn")
        self._wake()

    def reboot(self) -> None:
        """Reboot the board; the boot banner goes to the connected client."""
        self._requests.append("reboot")
        self._wake()

    def start(self) -> threading.Thread:
        """Run :meth:`serve_forever` in a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="xsudo-sim", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        """Stop the loop (joining its thread, if any) and release every descriptor."""
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._close_fds()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the loop ------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve until :meth:`stop`."""
        while not self._stopping.is_set():
            now = time.monotonic()
            self._run_requests(now)
            endpoint = self.endpoint
            vanish_at = endpoint.vanish_at if endpoint is not None else None
            if vanish_at is not None and now >= vanish_at:
                self._unplugged()
                continue
            urcs = self.board.due_urcs(now)
            if endpoint is not None:
                if urcs:
                    endpoint.out.push(urcs, now)
                endpoint.collect(now)
            write_fds = [self._write_fd()] if endpoint is not None and endpoint.unsent else []
            readable, writable, _ = select.select(
                [*self._read_fds(now), self._wake_r], write_fds, [], self._timeout(now)
            )
            now = time.monotonic()
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            for fd in readable:
                if fd != self._wake_r:
                    self._on_readable(fd, now)
            if writable and self.endpoint is endpoint and endpoint is not None:
                self._send(endpoint)

    def _run_requests(self, now: float) -> None:
        while self._requests:
            request = self._requests.popleft()
            data = self.board.trigger_pofwarn() if request == "pofwarn" else self.board.reboot()
            if self.endpoint is not None:
                self.endpoint.out.push(data, now)

    def _unplugged(self) -> None:
        self.endpoint = None
        self._vanish()
        self.vanished += 1
        if self.on_vanish is not None:
            self.on_vanish()

    def _timeout(self, now: float) -> float | None:
        times = [self.board.next_urc_at(), self._retry_at()]
        if self.endpoint is not None:
            times += [self.endpoint.out.next_arrival(now), self.endpoint.vanish_at]
        upcoming = [t for t in times if t is not None]
        return max(min(upcoming) - now, 0.0) if upcoming else None

    def _send(self, endpoint: _Endpoint) -> None:
        try:
            sent = self._write(bytes(endpoint.unsent))
        except BlockingIOError:
            return
        except OSError:
            self._lost_peer()
            return
        del endpoint.unsent[:sent]

    # -- subclass hooks --------------------------------------------------------------------------

    def _read_fds(self, now: float) -> list[int]:
        raise NotImplementedError

    def _write_fd(self) -> int:
        raise NotImplementedError

    def _on_readable(self, fd: int, now: float) -> None:
        raise NotImplementedError

    def _write(self, data: bytes) -> int:
        raise NotImplementedError

    def _lost_peer(self) -> None:
        """The peer went away while writing."""

    def _vanish(self) -> None:
        """Make the port vanish (``unplug``); :attr:`endpoint` is already ``None``."""
        raise NotImplementedError

    def _retry_at(self) -> float | None:
        return None

    def _close_fds(self) -> None:
        raise NotImplementedError


class PtyServer(SimServer):
    """A board on a pseudo-terminal; :attr:`path` is the device clients open.

    With ``replug`` the server opens a new pty as soon as an ``unplug`` fault made the old
    one vanish (:attr:`path` changes; the kernel may or may not reuse the number).
    """

    def __init__(
        self,
        options: SimOptions | None = None,
        *,
        board: Board | None = None,
        replug: bool = False,
    ) -> None:
        super().__init__(board or Board(options))
        self._replug = replug
        self._master = self._slave = -1
        self._eio_until = 0.0
        self.path = ""
        self._plug_in()

    def _plug_in(self) -> None:
        import tty  # POSIX only; importing xsudo.sim must work on Windows too

        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.path = os.ttyname(slave)
        self._master, self._slave = master, slave
        self._eio_until = 0.0
        self.endpoint = _Endpoint(self.board)

    def _read_fds(self, now: float) -> list[int]:
        return [self._master] if self._master >= 0 and now >= self._eio_until else []

    def _retry_at(self) -> float | None:
        return self._eio_until if self._eio_until > time.monotonic() else None

    def _write_fd(self) -> int:
        return self._master

    def _on_readable(self, fd: int, now: float) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            self._eio_until = now + EIO_BACKOFF
            return
        if data and self.endpoint is not None:
            self.endpoint.receive(data, now)

    def _write(self, data: bytes) -> int:
        return os.write(self._master, data)

    def _vanish(self) -> None:
        self._close_fds()
        if self._replug:
            self._plug_in()

    def _close_fds(self) -> None:
        # Closing the master hangs up the slave side (and removes its /dev/pts node).
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1


def parse_host_port(text: str) -> tuple[str, int]:
    """``127.0.0.1:5000`` / ``[::1]:0`` -> ``(host, port)``."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SimOptionError(f"{text!r} is not HOST:PORT", "for example 127.0.0.1:0")
    return host, int(port)


class TcpServer(SimServer):
    """A board on a TCP port; :attr:`url` is the ``socket://`` URL clients open."""

    def __init__(
        self,
        options: SimOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        board: Board | None = None,
    ) -> None:
        super().__init__(board or Board(options))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=8)
        self._listener.setblocking(False)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.url = f"socket://{shown}:{self.port}"
        self._client: socket.socket | None = None

    def _read_fds(self, now: float) -> list[int]:
        if self._client is not None:
            return [self._client.fileno()]
        return [self._listener.fileno()]

    def _write_fd(self) -> int:
        return self._client.fileno() if self._client is not None else -1

    def _on_readable(self, fd: int, now: float) -> None:
        if self._client is None:
            self._accept()
            return
        try:
            data = self._client.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost_peer()
        elif self.endpoint is not None:
            self.endpoint.receive(data, now)

    def _accept(self) -> None:
        try:
            client, _address = self._listener.accept()
        except BlockingIOError:
            return
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client
        self.endpoint = _Endpoint(self.board)

    def _write(self, data: bytes) -> int:
        if self._client is None:
            return len(data)
        return self._client.send(data)

    def _lost_peer(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
        self._client = None
        self.endpoint = None

    def _vanish(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                # Linger 0: close with a reset, so the client's reads and writes fail at once.
                self._client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_LINGER)
        self._lost_peer()

    def _close_fds(self) -> None:
        self._lost_peer()
        with contextlib.suppress(OSError):
            self._listener.close()
