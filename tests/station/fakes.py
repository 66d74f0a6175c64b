"""Fakes for the station tests: a board outcome, a changeable port list, a board function
that can be held in flight, and a deadline wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from xsudo.station.watch import Board


@dataclass
class FakeOutcome:
    port: str
    status: str = "written"
    imei: str | None = "352656100000001"
    error: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime = field(default_factory=lambda: datetime.now(UTC))
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "imei": self.imei,
            "status": self.status,
            "error": self.error,
            "results": self.results,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
        }


class Ports:
    """A port list a test changes while the station polls it."""

    def __init__(self, *boards: Board) -> None:
        self._lock = threading.Lock()
        self._boards = list(boards)

    def __call__(self) -> list[Board]:
        with self._lock:
            return list(self._boards)

    def plug(self, port: str, serial: str | None = None) -> None:
        with self._lock:
            self._boards.append(Board(port, serial))

    def unplug(self, port: str) -> None:
        with self._lock:
            self._boards = [b for b in self._boards if b.port != port]


class Boards:
    """The board function: records every call; answers ``results[port]`` (a status, or a
    list of statuses used in turn); with ``hold`` set, each call waits for ``release``."""

    def __init__(self, results: dict[str, Any] | None = None, *, hold: bool = False) -> None:
        self.results = results or {}
        self.steps: dict[str, list[tuple[int, str]]] = {}
        """Progress each call on a port reports before it waits, as (number, label)."""
        self.calls: list[str] = []
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._lock = threading.Lock()

    def __call__(self, port: str, progress: Callable[[int, int, str], None]) -> FakeOutcome:
        with self._lock:
            self.calls.append(port)
            steps = self.steps.get(port, [])
            answer = self.results.get(port, "written")
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
        for number, label in steps:
            progress(number, len(steps), label)
        self.started.release()
        assert self.release.wait(10), "the test never released the board"
        error = None if answer in ("written", "unchanged") else f"{port} went {answer}"
        return FakeOutcome(port, status=answer, error=error)

    def wait_started(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for _ in range(count):
            assert self.started.acquire(timeout=max(0.0, deadline - time.monotonic()))


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds (deadline loop; fails the test after ``timeout``)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        pause.wait(0.01)
