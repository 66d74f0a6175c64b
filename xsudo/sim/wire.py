"""Wire-time emulation: bytes become readable no earlier than a UART could deliver them.

At ``baud`` each byte takes ``10 / baud`` seconds (start bit, 8 data bits, stop bit).
Segments queue back to back on the wire; byte ``i`` of a segment that starts at ``t`` is
readable at ``t + (i + 1) * 10 / baud``. With ``baud`` 0 every byte is readable as soon as
it is queued. Pure bookkeeping: callers pass the current monotonic time.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

_EPSILON = 1e-9


def byte_time(baud: int) -> float:
    """Seconds per byte on the wire (0 for no emulation)."""
    return 10.0 / baud if baud > 0 else 0.0


@dataclass
class _Segment:
    data: bytes
    start: float
    taken: int = 0


class InputWire:
    """The host-to-modem wire: a host write of ``size`` bytes occupies it back to back.

    :meth:`send` returns when the first byte starts; byte ``i`` has fully arrived at
    ``start + (i + 1) * byte_time`` (:meth:`arrival`), so an answer to a command whose
    terminator is the ``offset``-th byte can start no earlier than ``arrival(start, offset)``.
    """

    def __init__(self, baud: int = 0) -> None:
        self.byte_time = byte_time(baud)
        self.free = 0.0

    def send(self, size: int, now: float) -> float:
        start = max(now, self.free)
        self.free = start + size * self.byte_time
        return start

    def arrival(self, start: float, offset: int) -> float:
        return start + offset * self.byte_time


class OutputQueue:
    """Bytes the modem has sent, each with the time it reaches the host."""

    def __init__(self, baud: int = 0) -> None:
        self._byte_time = byte_time(baud)
        self._segments: deque[_Segment] = deque()
        self._wire_free = 0.0

    def push(self, data: bytes, earliest: float) -> None:
        """Queue ``data`` to start on the wire at ``earliest`` or when the wire is free."""
        if not data:
            return
        start = max(earliest, self._wire_free)
        self._segments.append(_Segment(data, start))
        self._wire_free = start + len(data) * self._byte_time

    def _arrived(self, segment: _Segment, now: float) -> int:
        if self._byte_time == 0.0:
            return len(segment.data) if now + _EPSILON >= segment.start else 0
        count = math.floor((now - segment.start) / self._byte_time + _EPSILON)
        return max(0, min(len(segment.data), count))

    def available(self, now: float) -> int:
        """How many bytes have arrived by ``now`` and are not yet taken."""
        total = 0
        for segment in self._segments:
            arrived = self._arrived(segment, now)
            total += arrived - segment.taken
            if arrived < len(segment.data):
                break
        return total

    def take(self, size: int, now: float) -> bytes:
        """Remove and return up to ``size`` arrived bytes."""
        out = bytearray()
        while self._segments and len(out) < size:
            segment = self._segments[0]
            arrived = self._arrived(segment, now)
            chunk = segment.data[segment.taken : min(arrived, segment.taken + size - len(out))]
            out += chunk
            segment.taken += len(chunk)
            if segment.taken == len(segment.data):
                self._segments.popleft()
            elif segment.taken == arrived:
                break
        return bytes(out)

    def next_arrival(self, now: float) -> float | None:
        """When the next not-yet-arrived byte arrives, or ``None`` when nothing is pending."""
        for segment in self._segments:
            arrived = self._arrived(segment, now)
            if arrived < len(segment.data):
                if self._byte_time == 0.0:
                    return segment.start
                return segment.start + (arrived + 1) * self._byte_time
        return None

    def discard_arrived(self, now: float) -> None:
        """Drop what has arrived (``reset_input_buffer``); bytes still on the wire stay."""
        self.take(self.available(now), now)

    def clear(self) -> None:
        self._segments.clear()

    def __len__(self) -> int:
        return sum(len(s.data) - s.taken for s in self._segments)
