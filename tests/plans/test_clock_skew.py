"""``--clock-skew``: how far in the station's future a plan's creation may lie (default 5
minutes), parsed like ``--expires``; in the library, ``apply`` and ``station``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.plans.conftest import NOW, PlanFiles, write_manifest
from tests.support.boards import Result, xsudo  # noqa: F401  (fixture)
from tests.support.signers import MemorySigner
from xsudo.crypto import public_key_pem
from xsudo.plans.build import build_plan, write_plan
from xsudo.plans.model import PlanError, parse_clock_skew
from xsudo.plans.verify import load_and_verify

Run = Callable[..., Result]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("5m", timedelta(minutes=5)),
        ("0m", timedelta(0)),
        (" 12h ", timedelta(hours=12)),
        ("1d", timedelta(days=1)),
        ("1440m", timedelta(days=1)),
    ],
)
def test_parse_clock_skew(text: str, span: timedelta) -> None:
    assert parse_clock_skew(text) == span


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2d", "longer than 1 day"),
        ("1w", "longer than 1 day"),
        ("1441m", "longer than 1 day"),
        ("-5m", "not a duration"),
        ("5", "not a duration"),
        ("5s", "not a duration"),
        ("05m", "not a duration"),
        ("", "not a duration"),
        ("\u0665m", "not a duration"),  # an Arabic-Indic digit five
        ("1\u0665m", "not a duration"),
    ],
)
def test_bad_clock_skews_are_refused(text: str, reason: str) -> None:
    with pytest.raises(PlanError, match=reason):
        parse_clock_skew(text)


def test_the_tolerance_is_the_given_skew(plan_files: PlanFiles) -> None:
    trusted = [plan_files.line_key.public_key()]
    ahead = NOW - timedelta(minutes=10)  # the plan was made 10 minutes in our future
    with pytest.raises(PlanError, match="more than 5 minutes in the future"):
        load_and_verify(plan_files.plan, trusted, now=ahead)
    load_and_verify(plan_files.plan, trusted, now=ahead, clock_skew=timedelta(minutes=10))
    with pytest.raises(PlanError, match="more than 9 minutes"):
        load_and_verify(plan_files.plan, trusted, now=ahead, clock_skew=timedelta(minutes=9))
    load_and_verify(plan_files.plan, trusted, now=NOW, clock_skew=timedelta(0))
    with pytest.raises(PlanError, match="more than 0 seconds"):
        load_and_verify(
            plan_files.plan, trusted, now=NOW - timedelta(seconds=1), clock_skew=timedelta(0)
        )
    with pytest.raises(PlanError, match="negative"):
        load_and_verify(plan_files.plan, trusted, now=NOW, clock_skew=timedelta(minutes=-1))


def test_apply_and_station_take_the_option(xsudo: Run, tmp_path: Path) -> None:  # noqa: F811
    """A plan made 20 minutes ahead of this clock: refused by default and with a small
    skew (exit 2, before the port), accepted with --clock-skew 30m (the board is then
    tried: a missing port is its failure, exit 1)."""
    key = MemorySigner(name="factory")
    ahead = datetime.now(UTC) + timedelta(minutes=20)
    document, _ = build_plan(write_manifest(tmp_path), key, now=ahead)
    plan = tmp_path / "plan.json"
    write_plan(plan, document)
    pub = tmp_path / "k.pub"
    pub.write_text(public_key_pem(key.public_key()))
    port = str(tmp_path / "no-such-port")
    for command in (
        ["apply", str(plan), "--port", port],
        ["station", "--plan", str(plan), "--port", port],
    ):
        base = [*command, "--trust", str(pub), "--json"]
        refused = xsudo(*base)
        assert refused.code == 2 and "more than 5 minutes in the future" in refused.err
        assert refused.out == ""
        small = xsudo(*base, "--clock-skew", "10m")
        assert small.code == 2 and "more than 10 minutes" in small.err
        bad = xsudo(*base, "--clock-skew", "2d")
        assert bad.code == 2 and "longer than 1 day" in bad.err
        accepted = xsudo(*base, "--clock-skew", "30m")
        assert accepted.code == 1, accepted.err
        assert '"status": "failed"' in accepted.out and "no-such-port" in accepted.out
