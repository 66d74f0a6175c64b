"""What a station prints: one JSON line per board; a dashboard that shows device text
literally (no markup, no escape sequences)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from tests.station.fakes import FakeOutcome
from xsudo.station.dashboard import render, totals_line
from xsudo.station.events import event, event_line
from xsudo.station.runner import BoardView, Totals
from xsudo.station.watch import Board

_SGR = re.compile(r"\x1b\[[0-9;]*m")
"""rich's colour and style codes, the only escape sequences the dashboard may emit."""
HOSTILE_IMEI = "[bold red]35265610[/bold red]\x1b[2J\u202e"
HOSTILE_ERROR = "+CME ERROR: 514 [link=https://evil.example]click[/link]\r\n\x1b]0;pwned\x07"


def test_event_line_is_the_outcome_plus_station_and_time() -> None:
    when = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    outcome = FakeOutcome("/dev/ttyACM0", status="failed", imei=HOSTILE_IMEI, error=HOSTILE_ERROR)
    line = event_line(outcome, "line-3", now=when)
    assert "\n" not in line and "\x1b" not in line and "\r" not in line
    data = json.loads(line)
    assert data == {**outcome.to_json(), "station": "line-3", "time": when.isoformat()}
    assert data["imei"] == HOSTILE_IMEI  # JSON keeps the bytes, escaped
    assert event(outcome, "s")["station"] == "s"


def view(port: str, state: str, outcome: FakeOutcome | None, seconds: float = 3.0) -> BoardView:
    return BoardView(Board(port, "0010509000001", "nRF9161 DK"), state, 1, True, seconds, outcome)


def rendered(views: list[BoardView], totals: Totals, *, color: bool) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=240,
        force_terminal=color,
        color_system="standard" if color else None,
        emoji=False,
    )
    console.print(render(views, totals))
    return out.getvalue()


@pytest.mark.parametrize("color", [False, True])
def test_dashboard_shows_hostile_device_text_literally(color: bool) -> None:
    start = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    bad = FakeOutcome(
        "/dev/ttyACM1",
        status="failed",
        imei=HOSTILE_IMEI,
        error=HOSTILE_ERROR,
        started=start,
        ended=start + timedelta(seconds=2),
    )
    good = FakeOutcome(
        "/dev/ttyACM0",
        imei="352656100000001",
        results=[{"tag": 42}, {"tag": 43}],
        started=start,
        ended=start + timedelta(seconds=4),
    )
    views = [
        view("/dev/ttyACM0", "done", good),
        view("/dev/ttyACM1", "failed", bad),
        view("/dev/ttyACM2", "provisioning", None, seconds=12.4),
        view("/dev/ttyACM3", "waiting", None),
    ]
    raw = rendered(views, Totals(written=1, failed=1, in_flight=1, waiting=1), color=color)
    # No terminal control but rich's own colour codes (SGR); the text is read without them,
    # since where rich puts them between words differs between its releases.
    assert "\x1b[2J" not in raw and "\x1b]0;" not in raw and "\u202e" not in raw
    assert "\x07" not in raw and "\r" not in raw
    text = _SGR.sub("", raw)
    assert "[bold red]35265610[/bold red]\\x1b[2J\\u202e" in text
    assert "[link=https://evil.example]click[/link]\\x0d\\x0a\\x1b]0;pwned\\x07" in text
    assert "\x1b[2J" not in text and "\x1b]0;" not in text and "\u202e" not in text
    assert "\x07" not in text and "\r" not in text
    assert "2 credentials in 4.0s" in text
    assert "running 12s (attempt 1)" in text
    assert "failed: /dev/ttyACM1 (IMEI [bold red]" in text
    assert totals_line(Totals(written=1, failed=1, in_flight=1, waiting=1)) in text
    if not color:
        assert "\x1b" not in raw


def test_totals_line_counts() -> None:
    totals = Totals(written=10, unchanged=2, failed=1, in_flight=2, elapsed=3600.0)
    assert totals_line(totals) == "12 done (10 written, 2 unchanged), 1 failed, 2 in flight, 12/h"


def test_the_rate_shows_after_a_minute() -> None:
    """Two boards in two seconds are no rate (before, ``0/h`` or ``3600/h`` was shown)."""
    assert "/h" not in totals_line(Totals(written=2, elapsed=2.0))
    assert totals_line(Totals(written=2, elapsed=60.0)).endswith(", 120/h")


@pytest.mark.parametrize(
    "totals",
    [
        Totals(written=10, unchanged=2, failed=1, duplicate=1, in_flight=8, waiting=3, elapsed=99),
        Totals(9999, 9999, 999, 999, 64, 9999, 3600.0),
        Totals(10**9, 10**9, 10**9, 10**9, 10**9, 10**9, 1.0),
    ],
)
def test_the_totals_line_fits_80_columns(totals: Totals) -> None:
    line = totals_line(totals)
    assert len(line) <= 80, line
    assert line.startswith(f"{totals.done} done")
