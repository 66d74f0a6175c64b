"""A simulated board: the modem plus what happens around it (NVM file, scripted faults,
injected URCs), and :class:`Link`, one connection's view of it (framing, echo).

Thread-safe: several links (two opens of the same ``sim://NAME``) may share a board.
Nothing here sleeps; time enters only as the ``now`` a transport passes in.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from xsudo.sim.framing import Framer
from xsudo.sim.modem import LEADING_WHITESPACE, Modem
from xsudo.sim.options import EOLS, SimOptions
from xsudo.sim.state import Nvm, StateFileError, load_nvm, save_nvm


class Board:
    """One simulated board built from :class:`SimOptions`.

    With ``options.state`` set, the NVM is loaded from that file (a factory-new board is
    created and saved when it does not exist) and saved atomically after every change.
    """

    def __init__(self, options: SimOptions | None = None, *, now: float | None = None) -> None:
        self.options = options or SimOptions()
        self._lock = threading.RLock()
        self._count = 0
        self._eol = EOLS[self.options.response_eol]
        self.started_at = time.monotonic() if now is None else now
        self._timed = [u for u in self.options.urc if u.kind in ("at", "every")]
        self._next_due = [self.started_at + u.value for u in self._timed]
        self.modem = Modem(self.options, self._load_nvm(), on_change=self._nvm_changed)
        if self.options.identity_key_out:
            self.write_identity_key(self.options.identity_key_out)

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

    @property
    def commands_handled(self) -> int:
        """How many non-empty commands the board has received (faults count these)."""
        return self._count

    def command(self, command: bytes) -> bytes:
        """Everything the board sends back for one framed command: the response, and around
        it the URCs and faults scripted for this command number."""
        with self._lock:
            if not command.lstrip(LEADING_WHITESPACE).rstrip(b"\r\n"):
                return b""
            self._count += 1
            number = self._count
            faults = {f.kind for f in self.options.fault if f.n == number}
            if "reset" in faults:
                return self.modem.reboot()
            out = self.modem.trigger_pofwarn() if "pofwarn" in faults else b""
            response = self.modem.handle(command)
            if "drop" not in faults:
                out += response
            for urc in self.options.urc:
                if urc.kind == "after" and int(urc.value) == number:
                    out += urc.text.encode("latin-1") + self._eol
            return out

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

    :meth:`receive` returns ``(offset, bytes)`` pairs: ``bytes`` go out once the first
    ``offset`` bytes of the received data have arrived (0 for echo, which starts at once).
    """

    def __init__(self, board: Board) -> None:
        self.board = board
        options = board.options
        self.framer = Framer(options.terminator, options.max_line, options.overflow)
        self._echo = options.echo

    def receive(self, data: bytes) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = [(0, data)] if self._echo and data else []
        for end, command in self.framer.feed(data):
            response = self.board.command(command)
            if response:
                out.append((end, response))
        return out
