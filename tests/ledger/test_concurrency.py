"""Stations racing for one IMEI: exactly one claim wins, every other is refused and
flagged. Each contender has its own :class:`Ledger` (its own connections), started
together; on PostgreSQL also from separate processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path

from tests.ledger.support import IMEI
from xsudo.ledger import IdentityMismatch, ImeiInProgress, Ledger, LedgerConflict

CONTENDERS = 6


def _race(url: str, home: Path, uuid_of: Callable[[int], str]) -> list[object]:
    """``CONTENDERS`` stations call begin_device on IMEI at once; returns what each got
    (a Claim or the error)."""
    ledgers = [Ledger.open(url, home) for _ in range(CONTENDERS)]
    barrier = threading.Barrier(CONTENDERS)
    outcomes: list[object] = [None] * CONTENDERS

    def station(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            outcomes[index] = ledgers[index].begin_device(
                IMEI, uuid_of(index), f"station-{index}", "plan-1"
            )
        except LedgerConflict as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=station, args=(i,)) for i in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for ledger in ledgers:
        ledger.close()
    return outcomes


def _winners(outcomes: list[object]) -> list[int]:
    return [i for i, o in enumerate(outcomes) if not isinstance(o, BaseException)]


def test_one_station_wins_the_same_device(ledger_url: str, tmp_path: Path) -> None:
    outcomes = _race(ledger_url, tmp_path, lambda _: "uuid-1")
    winners = _winners(outcomes)
    assert len(winners) == 1
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, ImeiInProgress) for o in losers)
    assert {o.station for o in losers if isinstance(o, ImeiInProgress)} == {f"station-{winners[0]}"}
    with Ledger.open(ledger_url, tmp_path) as ledger:
        history = ledger.show(IMEI)
    assert history.claim is not None
    assert history.claim.station == f"station-{winners[0]}"
    assert sorted(f.kind for f in history.flags) == ["concurrent-claim"] * (CONTENDERS - 1)
    assert f"station-{winners[0]}" not in {f.station for f in history.flags}


def test_clones_racing_are_flagged_as_clones(ledger_url: str, tmp_path: Path) -> None:
    outcomes = _race(ledger_url, tmp_path, lambda index: f"uuid-{index}")
    winners = _winners(outcomes)
    assert len(winners) == 1
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(losers) == CONTENDERS - 1
    assert all(isinstance(o, IdentityMismatch) for o in losers)
    with Ledger.open(ledger_url, tmp_path) as ledger:
        history = ledger.show(IMEI)
    assert history.device_uuid == f"uuid-{winners[0]}"
    assert sorted(f.kind for f in history.flags) == ["cloned-identity"] * (CONTENDERS - 1)


def _claim_in_process(url: str, home: str, index: int, start: object, results: object) -> None:
    """One station in its own process: wait for the start, claim, report."""
    start.wait(30)  # type: ignore[attr-defined]
    with Ledger.open(url, Path(home)) as ledger:
        try:
            ledger.begin_device(IMEI, "uuid-1", f"process-{index}", None)
            results.put((index, "claimed"))  # type: ignore[attr-defined]
        except ImeiInProgress:
            results.put((index, "in-progress"))  # type: ignore[attr-defined]


def test_one_process_wins_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    Ledger.open(postgres_url, tmp_path).close()  # migrated before the race
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(
            target=_claim_in_process, args=(postgres_url, str(tmp_path), i, start, results)
        )
        for i in range(4)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = dict(results.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert sorted(outcomes.values()) == ["claimed"] + ["in-progress"] * 3
    with Ledger.open(postgres_url, tmp_path) as ledger:
        history = ledger.show(IMEI)
    winner = next(i for i, what in outcomes.items() if what == "claimed")
    assert history.claim is not None and history.claim.station == f"process-{winner}"
    assert len(history.flags) == 3


def test_claims_on_different_imeis_do_not_block_each_other(ledger_url: str, tmp_path: Path) -> None:
    count = 3
    with Ledger.open(ledger_url, tmp_path) as ledger:
        claims = [
            ledger.begin_device(f"35265610000{i:04d}", None, "station-a", None)
            for i in range(count)
        ]
        assert len({c.imei for c in claims}) == count
