"""A simulated board: the modem plus what happens around it (NVM file, scripted faults,
injected URCs), and :class:`Link`, one connection's view of it (framing, echo).

Thread-safe: several links (two opens of the same ``sim://NAME``) may share a board.
Nothing here sleeps; time enters only as the ``now`` a transport passes in. Faults that are
about timing or the port itself (``late``, ``split``, ``unplug``) are described, not
performed: :meth:`Board.answer` returns an :class:`Answer` and :meth:`Link.transmit` an
:class:`Outgoing` (bytes with offsets and delays, and when the port vanishes), which each
transport turns into timed output on its own kind of port.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from xsudo.atomic import write_atomic
from xsudo.sim.framing import Framer
from xsudo.sim.modem import LEADING_WHITESPACE, Modem
from xsudo.sim.options import (
    DEFAULT_GARBAGE,
    DEFAULT_SPLIT_GAP,
    EOLS,
    SPLIT_PIECES,
    FaultSpec,
    SimOptions,
)
from xsudo.sim.profile_file import dump_profile
from xsudo.sim.state import Nvm, StateFileError, load_nvm, save_nvm

JOURNAL_LIMIT = 10000
"""Most :class:`CommandRecord` entries a board keeps (the oldest go first)."""


@dataclass(frozen=True)
class CommandRecord:
    """One non-empty command the board received (see :attr:`Board.journal`)."""

    number: int
    """Its number, as faults count (1-based)."""
    command: bytes
    """The command as framed, without leading whitespace and trailing CR/LF."""
    executed: bool
    """Whether the modem ran it (false for a stalled or ``reset-before`` command)."""
    faults: tuple[str, ...]
    """The kinds of the faults that acted on it, sorted."""


@dataclass(frozen=True)
class Answer:
    """What the board sends back for one command, and how (see :meth:`Board.answer`).

    ``data`` is every byte the board sends (garbage, URCs, the reply or boot banner);
    ``delay`` is how many seconds after the command arrived the first byte starts;
    ``split_gap`` (when not ``None``) cuts the bytes into pieces of 1, 2, 3, 1, ... bytes,
    each that many seconds after the previous; ``vanish``: the port vanishes ``delay``
    seconds after the command arrived, and nothing is sent; ``swallowed``: the board hangs
    on this command (``stall``), so nothing at all comes back, not even a shell prompt.
    """

    data: bytes = b""
    delay: float = 0.0
    split_gap: float | None = None
    vanish: bool = False
    swallowed: bool = False

    def timed(self, data: bytes | None = None) -> list[tuple[float, bytes]]:
        """``(delay, bytes)`` pieces for ``data`` (default: :attr:`data`) under this
        answer's timing: one piece, or the split pieces. Nothing when the port vanishes."""
        body = self.data if data is None else data
        if not body or self.vanish or self.swallowed:
            return []
        if self.split_gap is None:
            return [(self.delay, body)]
        pieces: list[tuple[float, bytes]] = []
        pos = 0
        while pos < len(body):
            size = SPLIT_PIECES[len(pieces) % len(SPLIT_PIECES)]
            pieces.append((self.delay + len(pieces) * self.split_gap, body[pos : pos + size]))
            pos += size
        return pieces


class Send(NamedTuple):
    """Bytes a link sends back once the first ``offset`` bytes of the data it received
    have arrived, ``delay`` seconds later."""

    offset: int
    data: bytes
    delay: float = 0.0


@dataclass
class Outgoing:
    """What a link sends back for one chunk of received data (see :meth:`Link.transmit`).

    ``vanish``, when set, is when the port vanishes (its ``data`` is empty): a transport
    delivers nothing from then on and makes its port fail the way a vanished device does.
    """

    sends: list[Send] = field(default_factory=list)
    vanish: Send | None = None

    def add(self, offset: int, answer: Answer, data: bytes | None = None) -> None:
        """Add ``answer`` (or ``data`` timed like it), due once ``offset`` bytes arrived."""
        if answer.vanish:
            self.vanish = Send(offset, b"", answer.delay)
            return
        for delay, chunk in answer.timed(data):
            self.sends.append(Send(offset, chunk, delay))

    def untimed(self) -> list[tuple[int, bytes]]:
        """``(offset, bytes)`` pairs, delays ignored (tests of content and order)."""
        return [(send.offset, send.data) for send in self.sends]


class Board:
    """One simulated board built from :class:`SimOptions`.

    With ``options.state`` set, the NVM is loaded from that file (a factory-new board is
    created and saved when it does not exist) and saved atomically after every change.
    """

    def __init__(self, options: SimOptions | None = None, *, now: float | None = None) -> None:
        self.options = options or SimOptions()
        self._lock = threading.RLock()
        self._count = 0
        self._journal: deque[CommandRecord] = deque(maxlen=JOURNAL_LIMIT)
        self._eol = EOLS[self.options.response_eol]
        self.started_at = time.monotonic() if now is None else now
        self._timed = [u for u in self.options.urc if u.kind in ("at", "every")]
        self._next_due = [self.started_at + u.value for u in self._timed]
        self.modem = Modem(self.options, self._load_nvm(), on_change=self._nvm_changed)
        if self.options.identity_key_out:
            self.write_identity_key(self.options.identity_key_out)
        if self.options.profile_out:
            self.write_profile(self.options.profile_out)

    def _load_nvm(self) -> Nvm:
        path = self.options.state
        nvm = load_nvm(path) if path else None
        if nvm is None:
            nvm = Nvm.fresh(seed_reserved=self.options.seed_reserved)
            if path:
                save_nvm(path, nvm)
        return nvm

    def _nvm_changed(self, nvm: Nvm) -> None:
        if self.options.state:
            save_nvm(self.options.state, nvm)

    def write_identity_key(self, path: str) -> None:
        """Write the device identity public key (PEM) to ``path``."""
        try:
            Path(path).write_bytes(self.modem.identity_public_pem())
        except OSError as exc:
            raise StateFileError(f"cannot write identity key to {path}: {exc.strerror}") from None

    def write_profile(self, path: str) -> None:
        """Write the board's effective profile (options applied) to ``path`` as a profile
        file (:mod:`xsudo.sim.profile_file`)."""
        options = self.options
        text = dump_profile(options.effective_profile, options.traits)
        try:
            write_atomic(path, text.encode("utf-8"), mode=0o644)
        except OSError as exc:
            raise StateFileError(
                f"cannot write the simulator profile to {path}: {exc.strerror or exc}"
            ) from None

    @property
    def commands_handled(self) -> int:
        """How many non-empty commands the board has received (faults count these)."""
        return self._count

    @property
    def journal(self) -> list[CommandRecord]:
        """The non-empty commands received so far (the last :data:`JOURNAL_LIMIT`), in
        order: their numbers, text, whether the modem ran them and the faults that acted."""
        with self._lock:
            return list(self._journal)

    def faults_at(self, number: int) -> list[FaultSpec]:
        """The scripted faults that act on command ``number``."""
        return [f for f in self.options.fault if f.covers(number)]

    def command(self, command: bytes) -> bytes:
        """Everything the board sends back for one framed command: the response, and around
        it the URCs and faults scripted for this command number.

        Only the bytes: a ``late``/``split`` reply comes back whole, an ``unplug``ged one is
        lost. :meth:`answer` adds the timing and the vanishing port. Subclasses may override
        this to change what the modem answers (faults are counted here).
        """
        with self._lock:
            text = command.lstrip(LEADING_WHITESPACE).rstrip(b"\r\n")
            if not text:
                return b""
            self._count += 1
            number = self._count
            faults = self.faults_at(number)
            kinds = {f.kind for f in faults}
            if "stall" in kinds:
                self._record(number, text, False, {"stall"})
                return b""
            lead = b"".join(f.data or DEFAULT_GARBAGE for f in faults if f.kind == "garbage")
            if kinds & {"reset", "reset-before"}:
                self._record(number, text, False, kinds)
                return lead + self.modem.reboot()
            out = self.modem.trigger_pofwarn() if "pofwarn" in kinds else b""
            response = self.modem.handle(command)
            self._record(number, text, True, kinds)
            if "reset-after" in kinds:
                return lead + out + self.modem.reboot()
            if not kinds & {"drop", "unplug"}:
                out += response
            for urc in self.options.urc:
                if urc.kind == "after" and int(urc.value) == number:
                    out += urc.text.encode("latin-1") + self._eol
            return lead + out

    def answer(self, command: bytes) -> Answer:
        """:meth:`command`'s bytes with the timing and port faults of this command number
        (what the links use)."""
        with self._lock:
            before = self._count
            data = self.command(command)
            if self._count == before:  # an empty command (or a subclass's own answer)
                return Answer(data)
            faults = self.faults_at(self._count)
            kinds = {f.kind for f in faults}
            if "stall" in kinds:
                return Answer(swallowed=True)
            delay = max((f.seconds or 0.0 for f in faults if f.kind == "late"), default=0.0)
            if "unplug" in kinds:
                return Answer(delay=delay, vanish=True)
            gaps = [
                DEFAULT_SPLIT_GAP if f.seconds is None else f.seconds
                for f in faults
                if f.kind == "split"
            ]
            return Answer(data, delay, min(gaps) if gaps else None)

    def _record(self, number: int, text: bytes, executed: bool, kinds: Collection[str]) -> None:
        self._journal.append(CommandRecord(number, text, executed, tuple(sorted(kinds))))

    def trigger_pofwarn(self) -> bytes:
        """Fire the power-off warning now; returns the URC bytes."""
        with self._lock:
            return self.modem.trigger_pofwarn()

    def reboot(self) -> bytes:
        """Reboot now (volatile state resets, NVM stays); returns the boot banner."""
        with self._lock:
            return self.modem.reboot()

    def due_urcs(self, now: float) -> bytes:
        """Timed URCs (``at``/``every``) due by ``now``, in order; each fires once per due
        time (a late caller gets each missed ``every`` repetition once)."""
        out = b""
        with self._lock:
            for index, urc in enumerate(self._timed):
                while self._next_due[index] <= now:
                    out += urc.text.encode("latin-1") + self._eol
                    if urc.kind == "at":
                        self._next_due[index] = float("inf")
                    else:
                        self._next_due[index] += urc.value
        return out

    def next_urc_at(self) -> float | None:
        """When the next timed URC is due (monotonic seconds), or ``None``."""
        with self._lock:
            upcoming = [t for t in self._next_due if t != float("inf")]
        return min(upcoming) if upcoming else None


class Link:
    """One connection to a board: its own framing state, echo, and the board's answers.

    :meth:`transmit` says what goes back for received data (:class:`Outgoing`: bytes due
    once the first ``offset`` received bytes have arrived, plus a delay; echo has offset 0).
    After an ``unplug`` fault the link is dead: it takes nothing more in.
    """

    def __init__(self, board: Board) -> None:
        self.board = board
        options = board.options
        self.framer = Framer(options.terminator, options.traits.max_line, options.overflow)
        self._echo = options.echo
        self.vanished = False

    def transmit(self, data: bytes) -> Outgoing:
        out = Outgoing()
        if self.vanished:
            return out
        if self._echo and data:
            out.sends.append(Send(0, data))
        for end, command in self.framer.feed(data):
            out.add(end, self.board.answer(command))
            if out.vanish is not None:
                self.vanished = True
                break
        return out

    def receive(self, data: bytes) -> list[tuple[int, bytes]]:
        """:meth:`transmit` as ``(offset, bytes)`` pairs, delays ignored."""
        return self.transmit(data).untimed()
