"""What a station reports per board: the outcome protocol and its JSON line.

A board's work ends in an *outcome*: :class:`xsudo.plans.apply.BoardOutcome` in production,
any object with the same read-only fields in tests (:class:`Outcome`). Without a terminal
the station prints exactly one JSON line per outcome (:func:`event_line`) and nothing else
on stdout, so ``xsudo station ... | tee run.jsonl`` is a machine log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

STATUSES = ("written", "unchanged", "failed", "duplicate")
"""Every outcome status; ``written`` and ``unchanged`` are successes."""

SUCCESS = frozenset({"written", "unchanged"})


class Outcome(Protocol):
    """The end of one board's work (what :class:`~xsudo.plans.apply.BoardOutcome` has).

    ``status`` is one of :data:`STATUSES`; ``error`` one printable line for ``failed`` and
    ``duplicate``, else ``None``.
    """

    @property
    def port(self) -> str: ...

    @property
    def imei(self) -> str | None: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str | None: ...

    @property
    def started(self) -> datetime: ...

    @property
    def ended(self) -> datetime: ...

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class CrashedOutcome:
    """The outcome the runner records when the board function raised instead of returning
    one (it should not: a board failure is an outcome). ``error`` is the exception's one
    line; nothing is known of the board's IMEI."""

    port: str
    error: str
    started: datetime
    ended: datetime = field(default_factory=lambda: datetime.now(UTC))
    imei: str | None = None
    status: str = "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "imei": self.imei,
            "status": self.status,
            "error": self.error,
            "results": [],
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
        }


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace (newlines included) becomes a space."""
    return " ".join(text.split())


def event(outcome: Outcome, station: str, now: datetime | None = None) -> dict[str, Any]:
    """The JSON object of one board outcome: the outcome's own JSON plus ``station`` (the
    station id) and ``time`` (when it was reported, ISO 8601 UTC)."""
    stamp = (now or datetime.now(UTC)).isoformat()
    return {**outcome.to_json(), "station": station, "time": stamp}


def event_line(outcome: Outcome, station: str, now: datetime | None = None) -> str:
    """:func:`event` as one JSON line (sorted keys, no newline inside; JSON escapes every
    control character a device may have put in its text)."""
    return json.dumps(event(outcome, station, now), sort_keys=True)
