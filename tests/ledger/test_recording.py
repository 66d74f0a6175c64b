"""The recording helpers the provisioning commands share (xsudo.ledger.recording), on both
backends: the claim comes first, the record always follows, the audit head is stored."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ledger.support import IMEI
from xsudo.audit.log import AuditLog
from xsudo.errors import BadInputError, OperationFailed
from xsudo.ledger import AuditHeadConflict, IdentityMismatch, ImeiInProgress, Ledger
from xsudo.ledger.recording import (
    CLAIM_TTL,
    SqliteRun,
    credential_entry,
    device_record,
    manifest_hash,
    open_for_run,
    open_ledger,
    station_id,
    store_audit_head,
)
from xsudo.ledger.store import DEFAULT_CLAIM_TTL

WRITTEN = {
    "tag": 7,
    "type": "ca-cert",
    "type_id": 0,
    "sha": "A" * 64,
    "previous_sha": None,
    "auth": "plain",
    "action": "written",
    "message": "",
}


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> Ledger:
    opened = open_ledger(ledger_url, tmp_path)
    yield opened  # type: ignore[misc]
    opened.close()


def test_open_ledger_defaults_to_the_sqlite_file_in_the_home(tmp_path: Path) -> None:
    with open_ledger(None, tmp_path / "home") as ledger:
        assert ledger.backend == "sqlite"
    assert (tmp_path / "home" / "ledger.sqlite").is_file()


def test_the_station_is_the_variable_else_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    assert station_id() == socket.gethostname()
    monkeypatch.setenv("XSUDO_STATION", "line-3")
    assert station_id() == "line-3"


def test_the_fast_open_knows_the_newest_migration() -> None:
    from xsudo.ledger.migrate import HEAD_REVISION, head_revision

    assert head_revision() == HEAD_REVISION


def test_a_run_is_recorded_with_its_entries_and_the_audit_head(
    ledger: Ledger, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    with device_record(
        ledger, "st-a", imei=IMEI, device_uuid="u-1", plan_hash="p" * 64, audit=audit,
        model="nRF9151", firmware="mfw_nrf91x1_2.0.2",
    ) as run:  # fmt: skip
        audit.append("write", device_imei=IMEI, tag=7, type=0, result="written")
        run.add(WRITTEN)
        run.add({"step": "expiry", "ok": True})  # not a credential: not an entry
    assert run.record_id is not None and run.head_problem == ""
    (record,) = ledger.list(imei=IMEI)
    assert (record.result, record.station, record.device_uuid) == ("ok", "st-a", "u-1")
    assert (record.plan_hash, record.model) == ("p" * 64, "nRF9151")
    assert [(e.tag, e.type, e.sha, e.auth, e.action) for e in record.credentials] == [
        (7, "ca-cert", "A" * 64, "plain", "written")
    ]
    head = audit.head()
    assert head is not None
    assert [(h.station, h.seq, h.hash) for h in ledger.audit_heads()] == [
        ("st-a", head.seq, head.hash)
    ]
    assert ledger.show(IMEI).claim is None  # released with the record


def test_a_failed_run_is_recorded_failed_and_the_error_goes_on(ledger: Ledger) -> None:
    with (
        pytest.raises(OperationFailed, match="modem went away"),
        device_record(ledger, "st-a", imei=IMEI) as run,
    ):
        run.add(WRITTEN)
        raise OperationFailed("the modem went away")
    (record,) = ledger.list(imei=IMEI)
    assert record.result == "failed" and "modem went away" in (record.error or "")
    refused = {**WRITTEN, "action": "refused"}
    with device_record(ledger, "st-a", imei=IMEI) as run:
        run.add(refused)
        run.fail("tag 7 holds other content")
    assert [r.result for r in ledger.list(imei=IMEI)] == ["failed", "failed"]


def test_nothing_runs_when_the_imei_is_claimed_or_cloned(ledger: Ledger) -> None:
    held = ledger.begin_device(IMEI, "u-1", "st-b", None)
    ran = []
    with pytest.raises(ImeiInProgress), device_record(ledger, "st-a", imei=IMEI, device_uuid="u-1"):
        ran.append(1)
    ledger.release(held)
    with (
        pytest.raises(IdentityMismatch),
        device_record(ledger, "st-a", imei=IMEI, device_uuid="u-2"),
    ):
        ran.append(2)
    assert ran == []
    assert {f.kind for f in ledger.show(IMEI).flags} == {"concurrent-claim", "cloned-identity"}
    assert ledger.list(imei=IMEI) == []


def test_a_rewritten_log_is_reported_not_raised(ledger: Ledger, tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append("write", result="written")
    assert store_audit_head(ledger, "st-a", audit) == ""
    audit.path.unlink()
    audit.append("write", result="other")  # record 1 again, another hash
    assert "stored hash" in store_audit_head(ledger, "st-a", audit)
    assert store_audit_head(ledger, "st-a", None) == ""


def test_credential_entries_and_manifest_hash() -> None:
    entry = credential_entry(WRITTEN)
    assert entry is not None and (entry.tag, entry.type_id, entry.action) == (7, 0, "written")
    assert credential_entry({"step": "production-done"}) is None
    assert manifest_hash(b"x") == hashlib.sha256(b"x").hexdigest()


# -- the quick path (sqlite3, no SQLAlchemy) for one run ------------------------------------------


@pytest.fixture
def quick(tmp_path: Path) -> SqliteRun:
    """The quick path on a SQLite ledger the full store created (so it is at head)."""
    url = str(tmp_path / "quick.sqlite")
    open_ledger(url, tmp_path).close()
    opened = open_for_run(url, tmp_path)
    assert isinstance(opened, SqliteRun)
    yield opened  # type: ignore[misc]
    opened.close()


def _rows(url: str, home: Path) -> list[dict[str, object]]:
    with open_ledger(url, home) as ledger:
        return [
            {k: v for k, v in r.to_json().items() if k not in ("id", "started_at", "finished_at")}
            for r in ledger.list()
        ]


def test_the_quick_path_writes_what_the_store_writes(tmp_path: Path) -> None:
    urls = {kind: str(tmp_path / f"{kind}.sqlite") for kind in ("store", "quick")}
    for kind, url in urls.items():
        open_ledger(url, tmp_path).close()
        opened = open_for_run(url, tmp_path) if kind == "quick" else open_ledger(url, tmp_path)
        assert isinstance(opened, SqliteRun) == (kind == "quick")
        audit = AuditLog(tmp_path / f"{kind}.jsonl")
        with device_record(opened, "st-a", imei=IMEI, device_uuid="u-1", audit=audit) as run:
            audit.append("write", result="written")
            run.add(WRITTEN, None)
            run.key_fingerprint = "f" * 64
        with device_record(opened, "st-a", imei=IMEI, device_uuid="u-1") as run:
            run.fail("refused")
        opened.close()
    assert _rows(urls["quick"], tmp_path) == _rows(urls["store"], tmp_path)
    with open_ledger(urls["quick"], tmp_path) as ledger:
        history = ledger.show(IMEI)
        assert (history.device_uuid, history.claim, history.flags) == ("u-1", None, ())
        assert [(h.station, h.seq) for h in ledger.audit_heads()] == [("st-a", 1)]
        assert ledger.previous_for(IMEI) is not None
        assert len(ledger.list(since=datetime.now(UTC) - timedelta(minutes=5))) == 2


def test_the_quick_path_hands_refusals_to_the_store(quick: SqliteRun, tmp_path: Path) -> None:
    full = quick.full()
    held = full.begin_device(IMEI, "u-1", "st-b", None)
    with pytest.raises(ImeiInProgress, match="st-b"), device_record(quick, "st-a", imei=IMEI):
        pass
    full.release(held)
    with (
        pytest.raises(IdentityMismatch),
        device_record(quick, "st-a", imei=IMEI, device_uuid="u-2"),
    ):
        pass
    assert [f.kind for f in full.show(IMEI).flags] == ["cloned-identity", "concurrent-claim"]
    quick.store_audit_head("st-a", 1, "a" * 64)
    quick.store_audit_head("st-a", 1, "a" * 64)  # the same again: nothing
    with pytest.raises(AuditHeadConflict):
        quick.store_audit_head("st-a", 1, "b" * 64)
    with pytest.raises(BadInputError):
        quick.store_audit_head("st-a", 0, "a" * 64)


def test_the_quick_path_takes_over_a_stale_claim(tmp_path: Path) -> None:
    from tests.ledger.conftest import FakeClock

    url = str(tmp_path / "stale.sqlite")
    clock = FakeClock()
    clock.now = datetime.now(UTC) - CLAIM_TTL - timedelta(minutes=1)
    with Ledger.open(url, tmp_path, clock=clock) as old:
        old.begin_device(IMEI, None, "crashed", None)
    with closing(open_for_run(url, tmp_path)) as quick:
        assert isinstance(quick, SqliteRun)
        with device_record(quick, "st-a", imei=IMEI) as run:
            assert run.claim.station == "st-a"
    assert CLAIM_TTL == DEFAULT_CLAIM_TTL


def test_a_ledger_not_at_head_goes_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).close()  # an empty file: no schema yet
    opened = open_for_run(str(path), tmp_path)
    assert not isinstance(opened, SqliteRun)  # the store migrates it
    opened.close()
    assert isinstance(open_for_run(str(path), tmp_path), SqliteRun)


def test_one_quick_run_imports_no_sqlalchemy(tmp_path: Path) -> None:
    url = str(tmp_path / "fast.sqlite")
    open_ledger(url, tmp_path).close()
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from xsudo.ledger.recording import device_record, open_for_run\n"
        f"ledger = open_for_run({url!r}, Path({str(tmp_path)!r}))\n"
        f"with device_record(ledger, 's', imei={IMEI!r}) as run:\n"
        "    pass\n"
        "for board in range(2):  # boards of one fleet report the same station head\n"
        "    ledger.store_audit_head('s', 1, 'a' * 64)\n"
        "heavy = [m for m in sys.modules if m.startswith(('sqlalchemy', 'alembic'))]\n"
        "print(type(ledger).__name__, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["SqliteRun", "[]"]


def test_a_locked_file_is_unavailable_not_a_traceback(tmp_path: Path) -> None:
    from xsudo.ledger import LedgerUnavailable

    path = tmp_path / "locked.sqlite"
    open_ledger(str(path), tmp_path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    quick = SqliteRun(sqlite3.connect(path, timeout=0.1, isolation_level=None), None, tmp_path)
    try:
        with pytest.raises(LedgerUnavailable, match="did not answer"):
            quick.begin_device(IMEI, None, "st-a", None)
    finally:
        other.execute("ROLLBACK")
        other.close()
    claim = quick.begin_device(IMEI, None, "st-a", None)  # free again: the claim is taken
    assert claim.station == "st-a"
    quick.close()
