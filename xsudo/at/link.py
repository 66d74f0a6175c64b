"""The state an AT channel shares with auto-detection, resync and command exchanges: one
port, its lines, and whether the channel is in step with the device.

Contract:

* :class:`AtLink` is the only thing :mod:`xsudo.at.detect`, :mod:`xsudo.at.resync` and
  :mod:`xsudo.at.exchange` see of a channel; the channel's lock, closing and error
  bookkeeping stay in :class:`~xsudo.at.channel.AtChannel`.
* It sends a line (:meth:`AtLink.send`: the wire bytes, then the terminator), reads what
  has arrived (:meth:`AtLink.read`, blocking up to a deadline), turns bytes into lines
  through the framing in use (:meth:`AtLink.feed`, :meth:`AtLink.lines`) and keeps aside
  every line that belongs to no command (:meth:`AtLink.set_aside`): URCs, device log lines
  and strays go to their bounded queues, oldest dropped first.
* :attr:`AtLink.framing` is ``None`` until the command type is known (``auto`` before
  detection); received lines are then only cleaned of leading noise.
* :class:`SyncState` records whether the next command must be preceded by a resync
  (``dirty``) and the boot banners to report. A banner set aside after the channel's first
  command marks a reset to report, unless a reset was just reported and the channel has not
  resynced since (same boot).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from xsudo.command import command_name

from .cmdtype import Framing
from .framing import LineSplitter
from .results import LineKind, classify, clean_line
from .transport import PortIO


@dataclass
class SyncState:
    """Whether a channel is in step with its device.

    ``dirty``: a resync must precede the next command. ``stale_name``: the command whose
    late answer may still arrive (no sync probe may share its name; empty when unknown).
    ``detected``: auto-detection ran since the last resync (its verdict took the first final
    result code that arrived). ``probe_count``: sync probes chosen so far (they alternate).
    ``sent_any``: a command has been written (a banner before that is the boot, not a reset).
    ``reset_pending``: a boot banner arrived between commands and is still to be reported.
    ``reset_reported``: a reset was reported and the channel has not resynced since.
    """

    dirty: bool = False
    stale_name: str = ""
    detected: bool = False
    probe_count: int = 0
    sent_any: bool = False
    reset_pending: bool = False
    reset_reported: bool = False

    def banner(self) -> None:
        """A boot banner arrived outside any exchange."""
        if self.sent_any and not self.reset_reported:
            self.reset_pending = True
            self.dirty = True

    def report_reset(self) -> None:
        """A reset is being reported now; a banner of the same boot is not reported again."""
        self.reset_pending = False
        self.reset_reported = True

    def interrupted(self, line: bytes) -> None:
        """The exchange of ``line`` (or the resync before it) ended without its answer."""
        if not self.dirty:  # the command itself was in flight (not only a probe)
            self.stale_name = command_name(line)
        self.dirty = True

    def in_step(self) -> bool:
        """A resync finished; return whether a reset arrived that must be reported now."""
        reset = self.reset_pending
        self.dirty = False
        self.stale_name = ""
        self.detected = False
        self.reset_reported = reset
        self.reset_pending = False
        return reset


class AtLink:
    """One port's bytes as lines, and the queues of lines that belong to no command."""

    def __init__(
        self, io: PortIO, *, terminator: bytes, framing: Framing | None, queue_limit: int
    ) -> None:
        self.io = io
        self.terminator = terminator
        self.framing = framing
        self.sync = SyncState()
        self.urcs: deque[bytes] = deque(maxlen=queue_limit)
        self.logs: deque[bytes] = deque(maxlen=queue_limit)
        self.strays: deque[bytes] = deque(maxlen=queue_limit)
        self._splitter = LineSplitter()

    @property
    def port_name(self) -> str:
        """The port's path or URL."""
        return self.io.name

    def send(self, wire: bytes, deadline: float) -> None:
        """Write ``wire`` and the terminator before ``deadline``."""
        self.io.write(wire + self.terminator, deadline)

    def read(self, deadline: float) -> bytes:
        """Bytes received, blocking until some arrive or ``deadline`` passes (then ``b""``)."""
        return self.io.read_some(deadline)

    def feed(self, data: bytes, framing: Framing | None = None) -> None:
        """Received bytes into the line splitter, through ``framing``'s filter (default: the
        framing in use, if known)."""
        through = framing if framing is not None else self.framing
        if through is not None:
            data = through.filter(data)
        self._splitter.feed(data)

    def lines(self) -> list[bytes]:
        """The complete lines received so far (raw; see :meth:`clean`)."""
        return self._splitter.pop_lines()

    @property
    def partial(self) -> bytes:
        """The start of a line not yet ended (a shell prompt waits there)."""
        return self._splitter.partial

    def discard_partial(self) -> None:
        """Forget the line being received (after an overflow)."""
        self._splitter.reset()

    def clean(self, raw: bytes) -> bytes:
        """The line without leading noise or framing noise; pure noise is kept as a stray."""
        line = clean_line(raw)
        if not line and raw.strip():
            self.strays.append(raw)
        if line and self.framing is not None:
            line = self.framing.clean(line)
        return line

    def keep(self, kind: LineKind, line: bytes, info: list[bytes] | None = None) -> None:
        """Queue a cleaned line by ``kind``: URC, log (banners too), ``info`` when given for an
        information line, else stray."""
        if kind is LineKind.URC:
            self.urcs.append(line)
        elif kind in (LineKind.LOG, LineKind.BANNER):
            self.logs.append(line)
        elif kind is LineKind.INFO and info is not None:
            info.append(line)
        else:
            self.strays.append(line)

    def set_aside(self, lines: list[bytes]) -> None:
        """Keep raw lines that belong to no command; a boot banner is noted (:class:`SyncState`)."""
        for raw in lines:
            line = self.clean(raw)
            if not line:
                continue
            kind = classify(line, ())
            if kind is LineKind.BANNER:
                self.sync.banner()
            self.keep(kind, line)

    def set_aside_idle(self) -> None:
        """Take in, without blocking, what arrived between commands, and set it aside."""
        data = self.io.read_available()
        if data:
            self.feed(data)
        self.set_aside(self.lines())
