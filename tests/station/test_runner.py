"""The station loop: each board once, retry only a failed board after a replug, the worker
limit, a graceful stop with boards in flight."""

from __future__ import annotations

import threading

import pytest

from tests.station.fakes import Boards, FakeOutcome, Ports, wait_until
from xsudo.errors import PortError
from xsudo.station.runner import Station, Totals, describe
from xsudo.station.watch import Board


def settle(station: Station) -> Totals:
    """Poll once, then wait until no board is in flight."""
    station.poll()
    wait_until(lambda: station.totals().in_flight == 0)
    return station.totals()


def states(station: Station) -> dict[str, str]:
    return {view.board.port: view.state for view in station.snapshot()}


def test_a_new_port_is_provisioned_once() -> None:
    ports, boards = Ports(), Boards()
    station = Station(boards, ports)
    settle(station)
    assert boards.calls == []
    ports.plug("/dev/ttyACM0", "0010509000001")
    settle(station)
    settle(station)  # still there at the next poll: not provisioned again
    assert boards.calls == ["/dev/ttyACM0"]
    assert states(station) == {"/dev/ttyACM0": "done"}
    assert station.totals().written == 1


@pytest.mark.parametrize("status", ["written", "unchanged", "duplicate"])
def test_a_replugged_board_is_not_provisioned_again_unless_it_failed(status: str) -> None:
    ports, boards = Ports(Board("/dev/ttyACM0", "A")), Boards({"/dev/ttyACM0": status})
    station = Station(boards, ports)
    settle(station)
    ports.unplug("/dev/ttyACM0")
    settle(station)
    ports.plug("/dev/ttyACM0", "A")
    settle(station)
    assert boards.calls == ["/dev/ttyACM0"]


def test_a_failed_board_is_retried_only_after_a_replug() -> None:
    ports = Ports(Board("/dev/ttyACM0", "A"))
    boards = Boards({"/dev/ttyACM0": ["failed", "written"]})
    station = Station(boards, ports)
    assert settle(station).failed == 1
    settle(station)  # still plugged in: no retry
    assert boards.calls == ["/dev/ttyACM0"]
    ports.unplug("/dev/ttyACM0")
    settle(station)
    assert states(station) == {"/dev/ttyACM0": "failed"}
    ports.plug("/dev/ttyACM0", "A")
    totals = settle(station)
    assert boards.calls == ["/dev/ttyACM0", "/dev/ttyACM0"]
    assert (totals.failed, totals.written, totals.ok) == (1, 1, False)
    assert [view.attempts for view in station.snapshot()] == [2]


def test_another_kit_on_the_same_port_is_a_new_board() -> None:
    ports, boards = Ports(Board("/dev/ttyACM0", "A")), Boards()
    station = Station(boards, ports)
    settle(station)
    ports.unplug("/dev/ttyACM0")
    ports.plug("/dev/ttyACM0", "B")
    settle(station)
    assert boards.calls == ["/dev/ttyACM0", "/dev/ttyACM0"]
    assert station.totals().written == 2


def test_no_more_than_workers_boards_in_flight() -> None:
    ports = Ports(*(Board(f"/dev/ttyACM{n}") for n in range(3)))
    boards = Boards(hold=True)
    station = Station(boards, ports, workers=2)
    station.poll()
    boards.wait_started(2)
    assert station.totals().in_flight == 2
    assert station.totals().waiting == 1
    assert sorted(states(station).values()) == ["provisioning", "provisioning", "waiting"]
    boards.release.set()
    wait_until(lambda: station.totals().in_flight == 0)
    settle(station)  # the next poll starts the third
    assert sorted(boards.calls) == [f"/dev/ttyACM{n}" for n in range(3)]


def test_stop_lets_boards_in_flight_finish_and_starts_no_new_one() -> None:
    ports = Ports(Board("/dev/ttyACM0"), Board("/dev/ttyACM1"))
    boards = Boards(hold=True)
    station = Station(boards, ports, interval=0.01)
    result: list[Totals] = []
    loop = threading.Thread(target=lambda: result.append(station.run()))
    loop.start()
    try:
        boards.wait_started(2)
        station.stop()
        ports.plug("/dev/ttyACM2")
        loop.join(0.2)
        assert loop.is_alive(), "run() returned with boards still in flight"
    finally:
        boards.release.set()
        loop.join(10)
    assert not loop.is_alive()
    assert sorted(boards.calls) == ["/dev/ttyACM0", "/dev/ttyACM1"]
    assert result[0].written == 2 and result[0].in_flight == 0
    assert "/dev/ttyACM2" not in states(station)


def test_once_returns_when_every_given_board_has_an_outcome() -> None:
    ports = Ports(Board("/dev/ttyACM0"), Board("/dev/ttyACM1"))
    boards = Boards({"/dev/ttyACM1": "failed"})
    seen: list[str] = []
    station = Station(boards, ports, once=True, on_outcome=lambda o: seen.append(o.port))
    totals = station.run()
    assert (totals.written, totals.failed, totals.ok) == (1, 1, False)
    assert sorted(seen) == ["/dev/ttyACM0", "/dev/ttyACM1"]


def test_a_board_function_that_raises_is_a_failed_board() -> None:
    def explode(port: str, progress: object) -> FakeOutcome:
        raise PortError(f"cannot open {port}\nsecond line", "check the cable")

    station = Station(explode, Ports(Board("/dev/ttyACM9")), once=True)
    totals = station.run()
    assert totals.failed == 1
    (view,) = station.snapshot()
    assert view.state == "failed" and view.outcome is not None
    assert view.outcome.error == "cannot open /dev/ttyACM9 second line; check the cable"
    assert view.outcome.to_json()["status"] == "failed"


def test_describe_names_an_unexpected_exception() -> None:
    assert describe(RuntimeError("boom")) == "RuntimeError: boom"
    assert describe(RuntimeError()) == "RuntimeError"


def test_a_failing_source_stops_after_the_boards_in_flight() -> None:
    calls = {"n": 0}
    boards = Boards()

    def source() -> list[Board]:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("port list gone")
        return [Board("/dev/ttyACM0")]

    station = Station(boards, source, interval=0.01)
    with pytest.raises(OSError, match="port list gone"):
        station.run()
    assert boards.calls == ["/dev/ttyACM0"]
    assert station.totals().in_flight == 0


def test_per_hour_counts_boards_done() -> None:
    assert Totals(written=3, unchanged=1, elapsed=7200.0).per_hour == 2.0
    assert Totals(written=3, elapsed=0.5).per_hour == 0.0
    assert not Totals(duplicate=1).ok
