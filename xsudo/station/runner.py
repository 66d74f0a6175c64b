"""The station loop: poll a board source, provision each new board once, keep every
board's state, stop cleanly.

Rules (documented for operators in docs/how-to/station.md):

* A board (:attr:`~xsudo.station.watch.Board.key`: port and USB serial number) is
  provisioned when it is first seen. It is provisioned again only when its last attempt
  **failed** and it has since been unplugged and plugged in again (it left the source's
  list, then came back). A board that was written, found unchanged or flagged as a
  duplicate is not touched again by this station run, replugged or not: a duplicate is a
  ledger flag for a person to resolve, not something a retry fixes.
* At most ``workers`` boards are in flight at once; boards seen beyond that wait, in the
  order they were seen, and start only while still plugged in.
* :meth:`Station.stop` (the CLI calls it on the first SIGINT): no new board starts; the
  boards in flight finish; :meth:`Station.run` returns the totals once they have.
* ``once=True`` (``xsudo station --port ...``): :meth:`Station.run` returns when every
  board of the first poll has an outcome.
* The board function gets a :data:`Progress` callback for its board: each call replaces
  the board's :class:`Step` (shown while it is in flight; a new attempt starts with none).

The loop waits on a :class:`threading.Event` with the poll interval as timeout: a board
finishing or :meth:`Station.stop` wakes it at once. Each board runs in its own daemon
thread, so an abort (a second SIGINT) does not wait for boards in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from xsudo.errors import XsudoError
from xsudo.station.events import CrashedOutcome, Outcome, one_line
from xsudo.station.watch import Board, BoardSource

Progress = Callable[[int, int, str], None]
"""``progress(number, total, label)``: the board is at step ``number`` of ``total``
(``label`` says what it does, e.g. ``ca-cert``). Safe from the board's worker thread."""

ProvisionOne = Callable[[str, Progress], Outcome]
"""Provision the board on this port, reporting progress to the callback; returns its
outcome (a board failure is an outcome with status ``failed``, not an exception)."""


@dataclass(frozen=True)
class Step:
    """How far a board in flight is: step ``number`` of ``total``, doing ``label``."""

    number: int
    total: int
    label: str


STATES = ("waiting", "provisioning", "done", "unchanged", "failed", "duplicate")
"""A board's state on the dashboard; the last four are final for one attempt."""

_STATE_OF_STATUS = {
    "written": "done",
    "unchanged": "unchanged",
    "failed": "failed",
    "duplicate": "duplicate",
}


@dataclass
class BoardState:
    """One board as the station knows it. ``attempts`` counts starts; ``outcome`` is the
    last attempt's; ``since`` is the monotonic time the current state began."""

    board: Board
    state: str = "waiting"
    attempts: int = 0
    present: bool = True
    since: float = 0.0
    outcome: Outcome | None = None
    step: Step | None = None


@dataclass(frozen=True)
class BoardView:
    """A copy of a :class:`BoardState` for display (safe to read from another thread)."""

    board: Board
    state: str
    attempts: int
    present: bool
    seconds: float
    outcome: Outcome | None
    step: Step | None = None


@dataclass(frozen=True)
class Totals:
    """Counts of outcomes so far (each attempt counts once), boards in flight and waiting,
    and seconds since the station started."""

    written: int = 0
    unchanged: int = 0
    failed: int = 0
    duplicate: int = 0
    in_flight: int = 0
    waiting: int = 0
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        """Boards that hold the plan now: written or found unchanged."""
        return self.written + self.unchanged

    @property
    def per_hour(self) -> float:
        """Boards done per hour since the start (0 in the first second)."""
        return self.done * 3600.0 / self.elapsed if self.elapsed >= 1.0 else 0.0

    @property
    def ok(self) -> bool:
        """No attempt failed and no board was flagged as a duplicate."""
        return self.failed == 0 and self.duplicate == 0


def describe(exc: BaseException) -> str:
    """One line for an exception the board function raised: an xsudo error's message and
    hint, else the exception type and text."""
    name = type(exc).__name__
    text = str(exc) if isinstance(exc, XsudoError) else f"{name}: {exc}" if str(exc) else name
    return one_line(text) or name


class Station:
    """Provisions the boards of ``source`` with ``provision_one`` (module docstring).

    ``on_outcome`` is called once per finished attempt, from the board's worker thread,
    one call at a time (the dashboard polls :meth:`snapshot` instead).
    ``clock`` is the monotonic clock (tests may replace it).
    """

    def __init__(
        self,
        provision_one: ProvisionOne,
        source: BoardSource,
        *,
        once: bool = False,
        workers: int = 8,
        interval: float = 0.5,
        on_outcome: Callable[[Outcome], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._provision_one = provision_one
        self._source = source
        self._once = once
        self._workers = workers
        self._interval = interval
        self._on_outcome = on_outcome
        self._clock = clock
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._boards: dict[tuple[str, str | None], BoardState] = {}
        self._queue: list[tuple[str, str | None]] = []
        self._threads: dict[tuple[str, str | None], threading.Thread] = {}
        self._counts: dict[str, int] = dict.fromkeys(_STATE_OF_STATUS, 0)
        self._started = clock()
        self._report_error: Exception | None = None

    # -- control -------------------------------------------------------------------------

    def stop(self) -> None:
        """Start no new board; :meth:`run` returns once the boards in flight finish. Safe
        from a signal handler and from any thread."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> Totals:
        """Poll and provision until :meth:`stop` (or, with ``once``, until every board of
        the first poll has an outcome); then wait for the boards in flight. Returns the
        totals. An exception of the source (an unreadable port list) or of ``on_outcome``
        (stdout closed) stops the loop the same way, after the boards in flight, and is
        raised again."""
        self._started = self._clock()
        failure: BaseException | None = None
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                self.poll()
                if self._once and self._settled():
                    break
                self._wake.wait(self._interval)
        except Exception as exc:  # the source failed: finish what runs, then report it
            failure = exc
        self._stopping.set()
        self._drain()
        failure = failure or self._report_error
        if failure is not None:
            raise failure
        return self.totals()

    def poll(self) -> None:
        """One look at the source: note boards that left and came back, queue new ones and
        replugged failures, start queued boards while workers are free."""
        present = {board.key: board for board in self._source()}
        with self._lock:
            self._note_presence(present)
            self._start_queued()

    # -- views ---------------------------------------------------------------------------

    def snapshot(self) -> list[BoardView]:
        """Every board seen, in the order first seen."""
        now = self._clock()
        with self._lock:
            return [
                BoardView(s.board, s.state, s.attempts, s.present, now - s.since, s.outcome, s.step)
                for s in self._boards.values()
            ]

    def totals(self) -> Totals:
        with self._lock:
            return Totals(
                written=self._counts["written"],
                unchanged=self._counts["unchanged"],
                failed=self._counts["failed"],
                duplicate=self._counts["duplicate"],
                in_flight=len(self._threads),
                waiting=len(self._queue),
                elapsed=self._clock() - self._started,
            )

    # -- inside --------------------------------------------------------------------------

    def _note_presence(self, present: dict[tuple[str, str | None], Board]) -> None:
        for key, known in self._boards.items():
            if key not in present:
                known.present = False
        for key, board in present.items():
            state = self._boards.get(key)
            if state is None:
                self._boards[key] = BoardState(board, since=self._clock())
                self._queue.append(key)
            elif not state.present:
                state.present = True
                if state.state == "failed":  # replugged after a failure: try again
                    state.state, state.since = "waiting", self._clock()
                    self._queue.append(key)

    def _start_queued(self) -> None:
        while self._queue and len(self._threads) < self._workers:
            if self._stopping.is_set():
                break
            key = self._queue.pop(0)
            state = self._boards[key]
            if not state.present:  # unplugged while waiting: wait for it to come back
                self._set_aside(key)
                continue
            state.state, state.since, state.step = "provisioning", self._clock(), None
            state.attempts += 1
            thread = threading.Thread(
                target=self._work,
                args=(key, state.board.port, state.attempts),
                name=f"station {state.board.port}",
                daemon=True,
            )
            self._threads[key] = thread
            thread.start()

    def _set_aside(self, key: tuple[str, str | None]) -> None:
        """A queued board that left before it started: one never tried is forgotten (it is
        new when it comes back); one whose last attempt failed is ``failed`` again, so its
        return queues it as a replug."""
        state = self._boards[key]
        if state.attempts == 0:
            del self._boards[key]
        else:
            state.state = "failed"

    def _progress(self, key: tuple[str, str | None], attempt: int) -> Progress:
        """The progress callback of one attempt on one board: it updates that board's
        step while that attempt is in flight, and is ignored after."""

        def report(number: int, total: int, label: str) -> None:
            with self._lock:
                state = self._boards.get(key)
                if state is not None and state.attempts == attempt and key in self._threads:
                    state.step = Step(number, total, one_line(label))

        return report

    def _work(self, key: tuple[str, str | None], port: str, attempt: int) -> None:
        started = datetime.now(UTC)
        outcome: Outcome
        try:
            outcome = self._provision_one(port, self._progress(key, attempt))
        except Exception as exc:  # a board function should return a failed outcome
            outcome = CrashedOutcome(port=port, error=describe(exc), started=started)
        with self._lock:
            state = self._boards[key]
            state.outcome = outcome
            state.state = _STATE_OF_STATUS.get(outcome.status, "failed")
            state.since = self._clock()
            self._counts[outcome.status if outcome.status in self._counts else "failed"] += 1
            del self._threads[key]
        try:
            if self._on_outcome is not None:
                with self._report_lock:
                    self._on_outcome(outcome)
        except Exception as exc:  # the report could not be written (stdout closed): stop
            self._report_error = exc
            self._stopping.set()
        finally:
            self._wake.set()

    def _settled(self) -> bool:
        with self._lock:
            return not self._queue and not self._threads

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no board is in flight; True when none is.
        (After an abort: the boards in flight are told to stop, and get this long to record
        what they did.)"""
        deadline = self._clock() + timeout
        while True:
            with self._lock:
                if not self._threads:
                    return True
            left = deadline - self._clock()
            if left <= 0:
                return False
            self._wake.wait(min(self._interval, left))
            self._wake.clear()

    def _drain(self) -> None:
        """Wait (interruptibly) until no board is in flight."""
        while True:
            with self._lock:
                if not self._threads:
                    return
            self._wake.wait(self._interval)
            self._wake.clear()
