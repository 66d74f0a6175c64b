"""Per-board progress: the board function reports the entry it is at, the dashboard shows
``2/4 ca-cert`` while the board is in flight, a stale attempt cannot overwrite a newer one,
and the real ``apply_to_port`` feeds it over a pty (then the JSON line says how far it got)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from tests.station.fakes import Boards, Ports, wait_until
from tests.support.boards import Result
from xsudo.sim import PtyServer
from xsudo.station.dashboard import progress, render
from xsudo.station.runner import BoardView, Station, Step
from xsudo.station.watch import Board

_SGR = re.compile(r"\x1b\[[0-9;]*m")
Run = Callable[..., Result]


def shown(station: Station) -> str:
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=False, color_system=None).print(
        render(station.snapshot(), station.totals())
    )
    return _SGR.sub("", out.getvalue())


def test_the_dashboard_shows_the_entry_a_board_is_at() -> None:
    ports, boards = Ports(Board("/dev/ttyACM0", "A")), Boards(hold=True)
    boards.steps["/dev/ttyACM0"] = [(0, "checking"), (1, "ca-cert"), (2, "client-cert (issue)")]
    station = Station(boards, ports)
    try:
        station.poll()
        boards.wait_started(1)
        (view,) = station.snapshot()
        assert view.state == "provisioning"
        assert view.step == Step(2, 3, "client-cert (issue)")
        assert progress(view).startswith("2/3 client-cert (issue), ")
        assert "2/3 client-cert (issue)" in shown(station)
    finally:
        boards.release.set()
    wait_until(lambda: station.totals().in_flight == 0)
    (view,) = station.snapshot()
    assert view.state == "done" and progress(view).startswith("0 credentials in ")


def test_progress_text_for_each_step() -> None:
    board = Board("/dev/ttyACM0")

    def at(step: Step | None) -> str:
        return progress(BoardView(board, "provisioning", 2, True, 3.4, None, step))

    assert at(None) == "running 3s (attempt 2)"
    assert at(Step(0, 4, "checking")) == "checking, 3s (attempt 2)"
    assert at(Step(2, 4, "ca-cert")) == "2/4 ca-cert, 3s (attempt 2)"


def test_a_label_from_a_board_function_is_one_line_and_escaped_on_screen() -> None:
    ports, boards = Ports(Board("/dev/ttyACM0")), Boards(hold=True)
    boards.steps["/dev/ttyACM0"] = [(1, "ca-cert\n[red]x[/red]\x1b[2J")]
    station = Station(boards, ports)
    try:
        station.poll()
        boards.wait_started(1)
        (view,) = station.snapshot()
        assert view.step is not None and "\n" not in view.step.label
        text = shown(station)
        assert "[red]x[/red]\\x1b[2J" in text and "\x1b[2J" not in text
    finally:
        boards.release.set()
    wait_until(lambda: station.totals().in_flight == 0)


def test_a_finished_attempt_cannot_report_progress_any_more() -> None:
    ports = Ports(Board("/dev/ttyACM0"))
    kept: list[Callable[[int, int, str], None]] = []
    boards = Boards()

    def keep(port: str, report: Callable[[int, int, str], None]) -> object:
        kept.append(report)
        return boards(port, report)

    station = Station(keep, ports)  # type: ignore[arg-type]
    station.poll()
    wait_until(lambda: station.totals().in_flight == 0)
    kept[0](1, 2, "late")
    (view,) = station.snapshot()
    assert view.step is None


def test_station_feeds_apply_progress_over_a_pty(
    xsudo: Run,
    board: Callable[..., PtyServer],
    tmp_path: Path,
) -> None:
    """The real apply_to_port reports each entry to the runner; the JSON line of the board
    says how many entries it holds."""
    from tests.plans.conftest import write_manifest

    assert xsudo("key", "generate", "factory").code == 0
    pub = tmp_path / "factory.pub"
    pub.write_text(xsudo("key", "export", "factory").out)
    plan = tmp_path / "plan.json"
    made = xsudo("plan", str(write_manifest(tmp_path)), "--key", "factory", "-o", str(plan))
    assert made.code == 0, made.err
    server = board("locked", imei="352656100000091")
    assert xsudo("device", "upload-key", "--port", server.path, "--key", "factory").code == 0
    seen: list[tuple[int, int, str]] = []
    original = Station._progress

    def spy(self: Station, key: tuple[str, str | None], attempt: int) -> object:
        report = original(self, key, attempt)

        def both(number: int, total: int, label: str) -> None:
            seen.append((number, total, label))
            report(number, total, label)

        return both

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Station, "_progress", spy)
        ran = xsudo("station", "--plan", str(plan), "--trust", str(pub), "--port", server.path)
    assert ran.code == 0, ran.err
    assert seen == [(0, 2, "checking"), (1, 2, "ca-cert"), (2, 2, "psk-id"), (2, 2, "done")]
    (line,) = [json.loads(x) for x in ran.out.splitlines()]
    assert line["progress"] == {"done": 2, "total": 2}
