"""A scripted fake AT device for fault tests, reachable through real pyserial ports.

It listens on a TCP socket (``socket://127.0.0.1:<port>``) or owns the master side of a pty
(the slave path is a real serial device node). A reader thread frames received bytes into
command lines like sdk-nrf at_host does (CR or LF ends a line outside double quotes, empty
lines dropped) and records them; a responder thread answers each line from a script:

* ``Step(expect, reply=[chunk, ...])``: ``expect`` is the exact line (bytes) or a compiled
  regex matched in full; each reply chunk is written separately.
* ``wait=event``: the responder blocks on the event before replying (no sleeps).
* ``defer=True``: the reply goes out only when the next line arrives (a late response).
* ``drop=True``: after the reply the connection is closed (a port that disappears).

``echo=True`` echoes every framed line (with CRLF) before its reply. Lines that do not match
the next step are recorded in ``problems`` and answered with ``ERROR``. ``inject()`` writes
bytes at any time (URCs, banners, garbage). A ``responder`` callable answers lines that are not the
next step (for example the channel's sync probes); they are recorded in ``unscripted``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import select
import socket
import threading
import tty
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import serial

from xsudo.at import AtChannel

Responder = Callable[[bytes], Sequence[bytes]]


@dataclass
class Step:
    expect: bytes | re.Pattern[bytes]
    reply: Sequence[bytes] = (b"OK\r\n",)
    wait: threading.Event | None = None
    defer: bool = False
    drop: bool = False

    def matches(self, line: bytes) -> bool:
        if isinstance(self.expect, bytes):
            return line == self.expect
        return self.expect.fullmatch(line) is not None


def standard_responder(line: bytes) -> Sequence[bytes]:
    """Answers the channel's sync probes and a bare ``AT``; anything else gets ``ERROR``."""
    if line == b"AT+CMEE?":
        return (b"+CMEE: 1\r\nOK\r\n",)
    if line == b"AT+CFUN?":
        return (b"+CFUN: 4\r\nOK\r\n",)
    if line == b"AT":
        return (b"OK\r\n",)
    return (b"ERROR\r\n",)


@dataclass
class _Seen:
    line: bytes
    event: threading.Event = field(default_factory=threading.Event)


class FakeDevice:
    """See the module docstring. Use as a context manager; ``url`` is what to open."""

    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        transport: str = "tcp",
        echo: bool = False,
        responder: Responder | None = standard_responder,
    ) -> None:
        self.script: list[Step] = list(script)
        self.transport = transport
        self.echo = echo
        self.responder = responder
        self.received: list[bytes] = []
        self.raw = bytearray()
        self.problems: list[str] = []
        self.unscripted: list[bytes] = []
        self.log: list[tuple[str, bytes]] = []
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._write_lock = threading.Lock()
        self._seen_lock = threading.Lock()
        self._watch: list[_Seen] = []
        self._stop_r, self._stop_w = os.pipe()
        self._conn: socket.socket | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._server: socket.socket | None = None
        self._connected = threading.Event()
        self._closed = False
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self.url = self._listen()

    # -- lifecycle ----------------------------------------------------------------------

    def _listen(self) -> str:
        if self.transport == "tcp":
            self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._server.bind(("127.0.0.1", 0))
            self._server.listen(1)
            host, port = self._server.getsockname()
            return f"socket://{host}:{port}"
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._connected.set()
        return os.ttyname(slave)

    def __enter__(self) -> FakeDevice:
        for target in (self._read_loop, self._respond_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._lines.put(None)
        self.drop()
        for thread in self._threads:
            thread.join(timeout=5)
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        if self._server is not None:
            self._server.close()

    def drop(self) -> None:
        """Close the device side: the port disappears for the host."""
        # A pty master stays alive while a thread is in select() on it, so the reader
        # thread is stopped before the descriptors are closed.
        os.write(self._stop_w, b"x")
        reader = self._threads[0] if self._threads else None
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=5)
        with self._write_lock:
            self._closed = True
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.shutdown(socket.SHUT_RDWR)
                self._conn.close()
                self._conn = None
            if self._master is not None:
                os.close(self._master)
                self._master = None
            if self._slave is not None:
                # Nobody else may hold the slave open, or reads there would not fail.
                os.close(self._slave)
                self._slave = None
            if self._server is not None:
                # A connection not yet accepted is reset when the listener closes.
                self._server.close()

    # -- observation ----------------------------------------------------------------------

    def seen(self, line: bytes) -> threading.Event:
        """An event set when ``line`` has arrived (now or later)."""
        with self._seen_lock:
            watch = _Seen(line)
            if line in self.received:
                watch.event.set()
            self._watch.append(watch)
            return watch.event

    # -- output ---------------------------------------------------------------------------

    def inject(self, data: bytes) -> None:
        """Write ``data`` to the host now (gives up when the device is dropped or stopped)."""
        self._connected.wait(timeout=10)
        with self._write_lock:
            if self._closed:
                return
            self.log.append(("tx", data))
            fd = self._conn.fileno() if self._conn is not None else self._master
            if fd is None:
                return
            view = memoryview(data)
            while view:
                # Wait for room without blocking in write(), so drop()/stop() can always
                # interrupt a host that stopped reading.
                _, writable, _ = select.select([], [fd], [], 0.05)
                if self._stop_requested():
                    return
                if writable:
                    try:
                        view = view[os.write(fd, view) :]
                    except BlockingIOError:
                        continue
                    except OSError:
                        return

    def _stop_requested(self) -> bool:
        ready, _, _ = select.select([self._stop_r], [], [], 0)
        return bool(ready)

    # -- threads --------------------------------------------------------------------------

    def _read_loop(self) -> None:
        source = self._accept() if self.transport == "tcp" else self._master
        if source is None:
            return
        framer = _Framer()
        while True:
            ready, _, _ = select.select([source, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = (
                    source.recv(4096)
                    if isinstance(source, socket.socket)
                    else os.read(source, 4096)
                )
            except OSError:
                return
            if not data:
                return
            self.raw += data
            for line in framer.feed(data):
                self._record(line)

    def _accept(self) -> socket.socket | None:
        assert self._server is not None
        ready, _, _ = select.select([self._server.fileno(), self._stop_r], [], [])
        if self._stop_r in ready:
            return None
        conn, _ = self._server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        self._conn = conn
        self._connected.set()
        return conn

    def _record(self, line: bytes) -> None:
        with self._seen_lock:
            self.received.append(line)
            self.log.append(("rx", line))
            for watch in self._watch:
                if watch.line == line:
                    watch.event.set()
        self._lines.put(line)

    def _respond_loop(self) -> None:
        deferred: Sequence[bytes] = ()
        while True:
            line = self._lines.get()
            if line is None:
                return
            for chunk in deferred:
                self.inject(chunk)
            deferred = ()
            if self.echo:
                self.inject(line + b"\r\n")
            step = self._next_step(line)
            if step is None:
                continue
            if step.wait is not None:
                step.wait.wait(timeout=10)
            if step.defer:
                deferred = step.reply
                continue
            for chunk in step.reply:
                self.inject(chunk)
            if step.drop:
                self.drop()
                return

    def _next_step(self, line: bytes) -> Step | None:
        if self.script:
            step = self.script[0]
            if step.matches(line):
                return self.script.pop(0)
        if self.responder is not None:
            self.unscripted.append(line)
            return Step(line, self.responder(line))
        self.problems.append(f"unexpected line {line!r}")
        return Step(line, (b"ERROR\r\n",))


class _Framer:
    """at_host-like framing: CR or LF outside quotes ends a line; empty lines dropped."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_quotes = False

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        for byte in data:
            if byte == 0x22:
                self._in_quotes = not self._in_quotes
            if byte in (0x0D, 0x0A) and not self._in_quotes:
                if self._buf.strip():
                    lines.append(bytes(self._buf).strip(b" \r\n"))
                self._buf.clear()
            else:
                self._buf.append(byte)
        return lines


def connect(device: FakeDevice, *, timeout: float = 3.0, **options: object) -> AtChannel:
    """A channel over a real pyserial port to ``device`` (socket:// URL or pty path)."""
    port = serial.serial_for_url(device.url, timeout=None)
    return AtChannel(port, timeout=timeout, **options)  # type: ignore[arg-type]
