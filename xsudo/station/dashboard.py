"""The station's live view on a terminal: one row per board, the totals, the failures.

Everything shown that came from a board or a port list (port names, USB serial numbers,
IMEIs, error text) is untrusted: it goes into the table as :func:`xsudo.cli.output.cell`
values (rich ``Text``, control characters escaped), never as markup, so ``[red]`` or an
escape sequence in an IMEI is shown as typed. Styles come only from this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xsudo.cli.output import cell, printable
from xsudo.station.runner import BoardView, Station, Totals

if TYPE_CHECKING:
    from rich.console import RenderableType

STYLES = {
    "waiting": "dim",
    "provisioning": "cyan",
    "done": "green",
    "unchanged": "green",
    "failed": "bold red",
    "duplicate": "bold magenta",
}
"""The style of each state's cell."""

MAX_FAILURES = 10
"""The most recent failures listed under the table."""


def progress(view: BoardView) -> str:
    """What the progress column says: for a board in flight, the entry it is at (``2/4
    ca-cert``, once its work reported one) and for how long it has run; how many
    credentials its last attempt handled and how long it took; for a failure, when it
    stopped."""
    if view.state == "provisioning":
        running = f"{view.seconds:.0f}s (attempt {view.attempts})"
        step = view.step
        if step is None:
            return f"running {running}"
        if step.number == 0:
            return f"{step.label}, {running}"
        return f"{step.number}/{step.total} {step.label}, {running}"
    if view.outcome is None:
        return "unplugged" if not view.present else "queued"
    took = (view.outcome.ended - view.outcome.started).total_seconds()
    if view.state in ("failed", "duplicate"):
        return f"stopped after {took:.1f}s"
    count = len(view.outcome.to_json().get("results") or [])
    noun = "credential" if count == 1 else "credentials"
    return f"{count} {noun} in {took:.1f}s"


LINE_WIDTH = 80
"""The widest totals line (an 80-column terminal)."""

RATE_AFTER = 60.0
"""Seconds of running before the rate (boards done per hour) is shown: over a shorter span
it says little (two boards in one second are not 7200/h)."""


def totals_line(totals: Totals) -> str:
    """``12 done (10 written, 2 unchanged), 1 failed, 2 in flight, 84/h``: the counts
    that are not zero besides done and failed, the rate after :data:`RATE_AFTER` seconds;
    at most :data:`LINE_WIDTH` characters (the written/unchanged split goes first)."""
    extra = [
        f"{count} {what}"
        for count, what in (
            (totals.duplicate, "duplicate"),
            (totals.in_flight, "in flight"),
            (totals.waiting, "waiting"),
        )
        if count
    ]
    if totals.elapsed >= RATE_AFTER:
        extra.append(f"{totals.per_hour:.0f}/h")
    split = f" ({totals.written} written, {totals.unchanged} unchanged)"
    for middle in (split, ""):
        line = ", ".join([f"{totals.done} done{middle}", f"{totals.failed} failed", *extra])
        if len(line) <= LINE_WIDTH:
            return line
    return line[: LINE_WIDTH - 3] + "..."


def render(
    views: list[BoardView], totals: Totals, *, title: str = "station", waiting_for: str = ""
) -> RenderableType:
    """The dashboard for ``views`` and ``totals``: the board table, the totals line and the
    last :data:`MAX_FAILURES` failures with their one-line reason. With no board yet, a
    line says what the station waits for (``waiting_for``, e.g. ``nRF91 boards on
    USB``)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(printable(title)), expand=False)
    for column in ("port", "board", "state", "IMEI", "progress"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for view in views:
        state = cell(view.state)
        state.stylize(STYLES.get(view.state, ""))
        board = " ".join(p for p in (view.board.kit, view.board.serial_number) if p) or None
        imei = view.outcome.imei if view.outcome is not None else None
        table.add_row(cell(view.board.port), cell(board), state, cell(imei), cell(progress(view)))
    parts: list[RenderableType] = [table, Text(totals_line(totals), style="bold")]
    if not views and waiting_for:
        parts.insert(1, cell(f"waiting for {waiting_for}"))
    failed = [
        (view, view.outcome)
        for view in views
        if view.state in ("failed", "duplicate") and view.outcome is not None
    ]
    for view, outcome in failed[-MAX_FAILURES:]:
        line = Text(f"{view.state}: ", style=STYLES[view.state])
        line.append_text(cell(f"{view.board.port} (IMEI {outcome.imei or '?'}): "))
        line.append_text(cell(outcome.error or "no reason given"))
        parts.append(line)
    return Group(*parts)


def live_view(station: Station, *, title: str = "station", waiting_for: str = "") -> RenderableType:
    """:func:`render` of ``station`` now (for ``rich.live.Live(get_renderable=...)``)."""
    return render(station.snapshot(), station.totals(), title=title, waiting_for=waiting_for)
