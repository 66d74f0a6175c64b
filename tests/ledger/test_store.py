"""The store's contracts, on SQLite and PostgreSQL alike (``ledger_url`` runs each test on
both)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ledger.conftest import FakeClock
from tests.ledger.support import CA_SHA, CERT_SHA, IMEI, KEY_FP, OTHER_IMEI, entries, record
from xsudo.errors import BadInputError
from xsudo.ledger import (
    AuditHeadConflict,
    CredentialEntry,
    IdentityMismatch,
    ImeiInProgress,
    Ledger,
    NotInLedger,
)


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Ledger]:
    with Ledger.open(ledger_url, tmp_path, clock=clock) as opened:
        yield opened


def test_a_recorded_run_reads_back_whole(ledger: Ledger, clock: FakeClock) -> None:
    record_id = record(ledger, clock.now)
    history = ledger.show(IMEI)
    assert [r.id for r in history.records] == [record_id]
    stored = history.records[0]
    assert stored.imei == IMEI
    assert stored.station == "station-a"
    assert stored.result == "ok"
    assert stored.device_uuid == "uuid-1"
    assert stored.model == "nRF9151 LACA ADA"
    assert stored.firmware == "mfw_nrf91x1_2.0.2"
    assert stored.plan_hash == "plan-1"
    assert stored.key_fingerprint == KEY_FP
    assert stored.finished_at == clock.now
    assert stored.started_at == clock.now - timedelta(minutes=1)
    assert stored.finished_at.tzinfo is not None
    assert stored.credentials == tuple(entries())
    assert history.device_uuid == "uuid-1"
    assert history.claim is None
    assert history.flags == ()


def test_record_ids_grow_and_show_is_newest_first(ledger: Ledger, clock: FakeClock) -> None:
    first = record(ledger, clock.now)
    second = record(ledger, clock.advance(hours=1), result="failed")
    assert second > first
    history = ledger.show(IMEI)
    assert [r.id for r in history.records] == [second, first]
    assert history.records[0].error == "credential #2: refused"


def test_previous_is_the_latest_completed_run(ledger: Ledger, clock: FakeClock) -> None:
    assert ledger.previous_for(IMEI) is None
    record(ledger, clock.now, plan_hash="plan-1")
    ok = record(ledger, clock.advance(hours=1), plan_hash="plan-2", credentials=entries("A" * 64))
    record(ledger, clock.advance(hours=1), result="failed", plan_hash="plan-3")
    previous = ledger.previous_for(IMEI)
    assert previous is not None
    assert previous.record_id == ok
    assert previous.plan_hash == "plan-2"
    assert previous.sha_for(16842753, 0) == "A" * 64
    assert previous.sha_for(16842753, 1) == CERT_SHA
    assert previous.sha_for(16842753, 2) is None
    assert ledger.previous_for(OTHER_IMEI) is None


def test_list_filters_by_time_and_station(ledger: Ledger, clock: FakeClock) -> None:
    start = clock.now
    a = record(ledger, clock.now, station="station-a")
    b = record(ledger, clock.advance(days=2), station="station-b", imei=OTHER_IMEI)
    c = record(ledger, clock.advance(days=2), station="station-a")
    assert [r.id for r in ledger.list()] == [a, b, c]
    assert [r.id for r in ledger.list(since=start + timedelta(days=1))] == [b, c]
    assert [r.id for r in ledger.list(station="station-a")] == [a, c]
    assert [r.id for r in ledger.list(imei=OTHER_IMEI)] == [b]
    assert ledger.list(since=clock.now + timedelta(seconds=1)) == []


def test_iter_records_pages_through_everything(ledger: Ledger, clock: FakeClock) -> None:
    made = [record(ledger, clock.advance(minutes=1), credentials=[]) for _ in range(7)]
    record(ledger, clock.now, credentials=[])  # the same finish time as the one before
    made.append(max(made) + 1)
    assert [r.id for r in ledger.iter_records(batch=3)] == made


def test_show_of_an_unknown_imei_fails_with_exit_1(ledger: Ledger) -> None:
    with pytest.raises(NotInLedger) as raised:
        ledger.show(IMEI)
    assert raised.value.exit_code == 1


def test_a_claim_keeps_other_stations_out_until_recorded(ledger: Ledger, clock: FakeClock) -> None:
    claim = ledger.begin_device(IMEI, "uuid-1", "station-a", "plan-1")
    assert ledger.show(IMEI).claim == claim
    with pytest.raises(ImeiInProgress) as raised:
        ledger.begin_device(IMEI, "uuid-1", "station-b", "plan-1")
    assert raised.value.exit_code == 1
    assert raised.value.station == "station-a"
    assert "station-a" in str(raised.value)
    flags = ledger.show(IMEI).flags
    assert [(f.kind, f.station, f.id) for f in flags] == [
        ("concurrent-claim", "station-b", raised.value.flag_id)
    ]
    record_id = ledger.record_device(
        imei=IMEI,
        station="station-a",
        result="ok",
        started_at=claim.claimed_at,
        finished_at=clock.advance(minutes=2),
        credentials=entries(),
        claim=claim,
    )
    history = ledger.show(IMEI)
    assert history.claim is None
    assert history.records[0].id == record_id
    assert history.records[0].plan_hash == "plan-1"  # from the claim
    assert history.records[0].device_uuid == "uuid-1"
    again = ledger.begin_device(IMEI, "uuid-1", "station-b", "plan-2")
    assert again.station == "station-b"


def test_the_same_station_cannot_hold_an_imei_twice(ledger: Ledger) -> None:
    ledger.begin_device(IMEI, "uuid-1", "station-a", None)
    with pytest.raises(ImeiInProgress):
        ledger.begin_device(IMEI, "uuid-1", "station-a", None)


def test_a_released_claim_frees_the_imei(ledger: Ledger) -> None:
    claim = ledger.begin_device(IMEI, None, "station-a", None)
    assert ledger.release(claim) is True
    assert ledger.release(claim) is False
    ledger.begin_device(IMEI, None, "station-b", None)


def test_a_stale_claim_is_taken_over(ledger: Ledger, clock: FakeClock) -> None:
    old = ledger.begin_device(IMEI, "uuid-1", "station-a", None)
    clock.advance(minutes=10)
    with pytest.raises(ImeiInProgress):
        ledger.begin_device(IMEI, "uuid-1", "station-b", None, claim_ttl=timedelta(minutes=30))
    new = ledger.begin_device(IMEI, "uuid-1", "station-b", None, claim_ttl=timedelta(minutes=5))
    assert ledger.show(IMEI).claim == new
    assert ledger.release(old) is False  # the old token no longer releases anything


def test_another_uuid_for_a_known_imei_is_a_cloned_identity(
    ledger: Ledger, clock: FakeClock
) -> None:
    record(ledger, clock.now, device_uuid="uuid-1")
    with pytest.raises(IdentityMismatch) as raised:
        ledger.begin_device(IMEI, "uuid-2", "station-b", "plan-1")
    error = raised.value
    assert error.exit_code == 1
    assert "uuid-1" in str(error) and "uuid-2" in str(error)
    history = ledger.show(IMEI)
    assert history.claim is None
    assert history.device_uuid == "uuid-1"
    assert [(f.kind, f.device_uuid, f.id) for f in history.flags] == [
        ("cloned-identity", "uuid-2", error.flag_id)
    ]
    # a device without a UUID cannot be compared, and one with the known UUID passes
    ledger.release(ledger.begin_device(IMEI, None, "station-b", None))
    ledger.begin_device(IMEI, "uuid-1", "station-b", None)


def test_a_clone_racing_the_original_is_named_as_a_clone(ledger: Ledger) -> None:
    ledger.begin_device(IMEI, "uuid-1", "station-a", None)
    with pytest.raises(IdentityMismatch):
        ledger.begin_device(IMEI, "uuid-2", "station-b", None)


def test_a_run_recorded_with_another_uuid_is_kept_and_flagged(
    ledger: Ledger, clock: FakeClock
) -> None:
    record(ledger, clock.now, device_uuid="uuid-1")
    second = record(ledger, clock.advance(hours=1), device_uuid="uuid-2", station="station-b")
    history = ledger.show(IMEI)
    assert history.records[0].id == second
    assert history.records[0].device_uuid == "uuid-2"
    assert history.device_uuid == "uuid-1"
    assert [f.kind for f in history.flags] == ["cloned-identity"]


def test_audit_heads_keep_the_newest_per_station(ledger: Ledger) -> None:
    assert ledger.audit_heads() == []
    ledger.store_audit_head("station-a", 3, "a" * 64)
    ledger.store_audit_head("station-a", 3, "a" * 64)  # the same again: nothing changes
    ledger.store_audit_head("station-a", 9, "b" * 64)
    ledger.store_audit_head("station-b", 4, "c" * 64)
    heads = {(h.station, h.seq, h.hash) for h in ledger.audit_heads()}
    assert heads == {("station-a", 9, "b" * 64), ("station-b", 4, "c" * 64)}
    with pytest.raises(AuditHeadConflict) as raised:
        ledger.store_audit_head("station-a", 3, "d" * 64)
    assert raised.value.exit_code == 1
    assert "a" * 64 in str(raised.value)


@pytest.mark.parametrize(
    ("seq", "digest"), [(0, "a" * 64), (-1, "a" * 64), (1, "A" * 64), (1, "a" * 63)]
)
def test_bad_audit_heads_are_refused(ledger: Ledger, seq: int, digest: str) -> None:
    with pytest.raises(BadInputError):
        ledger.store_audit_head("station-a", seq, digest)
    assert ledger.audit_heads() == []


@pytest.mark.parametrize(
    "change",
    [
        {"imei": "35265610000001"},
        {"imei": "35265610000001x"},
        {"result": "maybe"},
        {"station": ""},
        {"station": "s" * 129},
        {"model": "m" * 129},
        {"started_at": datetime(2026, 12, 1, 8, 0)},
        {"finished_at": datetime(2026, 12, 1, 7, 0, tzinfo=UTC)},
        {"credentials": [CredentialEntry(2**32, 0, "ca-cert", "written")]},
        {"credentials": [CredentialEntry(1, 0, "ca-cert", "written", "S" * 65)]},
        {"credentials": [CredentialEntry(1, 2, "client-key", "written", certificate_pem="x")]},
    ],
)
def test_bad_records_are_refused_and_nothing_is_written(
    ledger: Ledger, change: dict[str, object]
) -> None:
    fields: dict[str, object] = {
        "imei": IMEI,
        "station": "station-a",
        "result": "ok",
        "started_at": datetime(2026, 12, 1, 7, 59, tzinfo=UTC),
        "finished_at": datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        "credentials": [],
    }
    with pytest.raises(BadInputError):
        ledger.record_device(**{**fields, **change})  # type: ignore[arg-type]
    assert ledger.list() == []


def test_a_private_key_is_never_kept_as_a_certificate(ledger: Ledger, clock: FakeClock) -> None:
    from xsudo.crypto import generate_private_key
    from xsudo.labpki import private_key_pem

    pem = private_key_pem(generate_private_key()).decode("ascii")
    entry = CredentialEntry(16842753, 1, "client-cert", "written", CA_SHA, certificate_pem=pem)
    with pytest.raises(BadInputError, match="not a PEM certificate"):
        record(ledger, clock.now, credentials=[entry])
    assert ledger.list() == []


def test_bad_imeis_are_refused_everywhere(ledger: Ledger) -> None:
    for call in (
        lambda: ledger.begin_device("123", None, "station-a", None),
        lambda: ledger.previous_for("123"),
        lambda: ledger.show("12345678901234567"),
    ):
        with pytest.raises(BadInputError):
            call()


def test_the_default_ledger_is_a_private_file_in_the_home(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    with Ledger.open(None, home) as ledger:
        assert ledger.backend == "sqlite"
        assert ledger.display == str(home / "ledger.sqlite")
    assert (home / "ledger.sqlite").stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o777 == 0o700


def test_one_ledger_serves_many_threads(ledger: Ledger, clock: FakeClock) -> None:
    import threading

    imeis = [f"3526561000{i:05d}" for i in range(8)]
    errors: list[BaseException] = []

    def station(imei: str) -> None:
        try:
            claim = ledger.begin_device(imei, f"uuid-{imei}", "station-a", None)
            record(ledger, clock.now, imei=imei, device_uuid=f"uuid-{imei}")
            ledger.release(claim)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=station, args=(imei,)) for imei in imeis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(r.imei for r in ledger.list()) == imeis


def test_a_claim_for_another_imei_is_refused(ledger: Ledger, clock: FakeClock) -> None:
    claim = ledger.begin_device(OTHER_IMEI, None, "station-a", None)
    with pytest.raises(BadInputError, match="claim given is for IMEI"):
        ledger.record_device(
            imei=IMEI,
            station="station-a",
            result="ok",
            started_at=clock.now,
            finished_at=clock.now,
            claim=claim,
        )
    assert ledger.list() == []
    assert ledger.show(OTHER_IMEI).claim == claim


def test_times_are_kept_in_utc_whatever_the_zone_given(ledger_url: str, tmp_path: Path) -> None:
    from datetime import timezone

    zone = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2026, 12, 1, 13, 30, tzinfo=zone)  # 08:00 UTC
    with Ledger.open(ledger_url, tmp_path, clock=lambda: local) as ledger:
        claim = ledger.begin_device(IMEI, None, "station-a", None)
        ledger.record_device(
            imei=IMEI,
            station="station-a",
            result="ok",
            started_at=local,
            finished_at=local,
            claim=claim,
        )
        ledger.store_audit_head("station-a", 1, "a" * 64)
        stored = ledger.list(since=datetime(2026, 12, 1, 7, 59, tzinfo=UTC))
        assert [r.finished_at for r in stored] == [datetime(2026, 12, 1, 8, 0, tzinfo=UTC)]
        assert claim.claimed_at == local
        assert ledger.audit_heads()[0].stored_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        assert ledger.list(since=datetime(2026, 12, 1, 8, 1, tzinfo=UTC)) == []
