"""pyserial protocol handler for ``sim://`` URLs: a simulated board, in process.

``import xsudo.sim`` (which calls :func:`xsudo.sim.register_url_handler`), then
``serial.serial_for_url("sim://?profile=locked&baud=115200", timeout=1)``.

Behaves like a real port: :meth:`Serial.write` frames commands (quote-aware) and queues
the answers; :meth:`Serial.read` blocks up to ``timeout`` for data (a condition variable
with deadlines, no polling). With ``baud`` set, bytes become readable no earlier than a
UART at that rate could have carried the command to the modem and the answer back.

Scripted faults: a ``late`` or ``split`` reply becomes readable at its times (a blocked
:meth:`Serial.read` wakes for it); after ``unplug`` the port behaves like a USB CDC device
that disappeared: from the moment the command has arrived, :meth:`Serial.read`,
:meth:`Serial.write`, :attr:`Serial.in_waiting`, :meth:`Serial.reset_input_buffer` and
:meth:`Serial.flush` raise ``serial.SerialException`` (a reader blocked at that moment
too), unread bytes are lost, and :meth:`Serial.close` still works. The board itself is
not harmed: opening ``sim://NAME`` again reaches it, like plugging the device back in.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from xsudo.sim.board import Board
from xsudo.sim.registry import board_for, parse_sim_url
from xsudo.sim.shell import LinkLike, link_for
from xsudo.sim.wire import InputWire, OutputQueue

_MIN_WAIT = 1e-4


class Serial(SerialBase):
    """A ``sim://`` port."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._cond = threading.Condition()
        self._board: Board | None = None
        self._link: LinkLike | None = None
        self._out = OutputQueue()
        self._wire_in = InputWire()
        self._cancelled = False
        self._vanish_at: float | None = None
        super().__init__(*args, **kwargs)

    # -- pyserial plumbing -------------------------------------------------------------------

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        url = self.port
        if url is None:
            raise SerialException("Port must be configured before it can be used.")
        name, options = parse_sim_url(url)
        self._board = board_for(name, options)
        self._link = link_for(self._board)
        self._out = OutputQueue(options.baud)
        self._wire_in = InputWire(options.baud)
        self._vanish_at = None
        self.is_open = True

    def close(self) -> None:
        with self._cond:
            self.is_open = False
            self._cond.notify_all()

    def _reconfigure_port(self) -> None:
        """Port settings (baudrate, parity, ...) do not matter to the simulator."""

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    # -- data ----------------------------------------------------------------------------------

    @property
    def board(self) -> Board:
        """The simulated board behind this port (for tests: faults, NVM, identity key)."""
        if self._board is None:
            raise PortNotOpenError()
        return self._board

    def _check_present(self, now: float) -> None:
        """Raise like pyserial on a vanished device once the port has vanished."""
        if self._vanish_at is not None and now >= self._vanish_at:
            self._out.clear()
            raise SerialException(f"device disconnected: {self.portstr} vanished (fault unplug)")

    def _pump(self, now: float) -> None:
        self._check_present(now)
        urcs = self.board.due_urcs(now)
        if urcs:
            self._out.push(urcs, now)

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        with self._cond:
            now = time.monotonic()
            self._pump(now)
            return self._out.available(now)

    @property
    def out_waiting(self) -> int:
        return 0

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes: returns when ``size`` arrived, at the timeout, on
        :meth:`cancel_read` or when the port closes."""
        if not self.is_open:
            raise PortNotOpenError()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        data = bytearray()
        with self._cond:
            while len(data) < size and self.is_open and not self._cancelled:
                now = time.monotonic()
                self._pump(now)
                data += self._out.take(size - len(data), now)
                if len(data) >= size or (deadline is not None and now >= deadline):
                    break
                self._cond.wait(self._wait_time(now, deadline))
            self._cancelled = False
        return bytes(data)

    def _wait_time(self, now: float, deadline: float | None) -> float | None:
        wake_times = [
            t
            for t in (self._out.next_arrival(now), self.board.next_urc_at(), self._vanish_at)
            if t is not None
        ]
        until = min(wake_times) if wake_times else None
        if deadline is not None:
            until = deadline if until is None else min(until, deadline)
        return None if until is None else max(until - now, _MIN_WAIT)

    def write(self, data: Any) -> int:
        """Send bytes to the modem; answers queue for :meth:`read` (timed when ``baud``)."""
        if not self.is_open or self._link is None:
            raise PortNotOpenError()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"unicode strings are not supported, please encode to bytes: {data!r}")
        payload = bytes(data)
        with self._cond:
            now = time.monotonic()
            self._check_present(now)
            start = self._wire_in.send(len(payload), now)
            out = self._link.transmit(payload)
            for send in out.sends:
                self._out.push(send.data, self._wire_in.arrival(start, send.offset) + send.delay)
            if out.vanish is not None:
                arrival = self._wire_in.arrival(start, out.vanish.offset) + out.vanish.delay
                self._vanish_at = arrival if self._vanish_at is None else self._vanish_at
            self._cond.notify_all()
        return len(payload)

    def flush(self) -> None:
        """Wait until what was written has gone out on the (emulated) wire."""
        with self._cond:
            self._check_present(time.monotonic())
            while self.is_open and (remaining := self._wire_in.free - time.monotonic()) > 0:
                self._cond.wait(remaining)

    def reset_input_buffer(self) -> None:
        """Discard what has arrived; bytes still on the wire keep coming."""
        if not self.is_open:
            raise PortNotOpenError()
        with self._cond:
            now = time.monotonic()
            self._check_present(now)
            self._out.discard_arrived(now)

    def reset_output_buffer(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()

    def cancel_read(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def cancel_write(self) -> None:
        pass

    # -- test hooks ----------------------------------------------------------------------------

    def sim_trigger_pofwarn(self) -> None:
        """Fire the power-off warning; its URC arrives on this port."""
        self._inject(self.board.trigger_pofwarn())

    def sim_reboot(self) -> None:
        """Reboot the board; the boot banner arrives on this port."""
        self._inject(self.board.reboot())

    def _inject(self, data: bytes) -> None:
        with self._cond:
            self._out.push(data, time.monotonic())
            self._cond.notify_all()
