"""``cred write`` and ``provision`` record every device in the ledger (default: the SQLite file
in the home; PostgreSQL through the ledger suite's fixtures), refuse before any write when the
ledger cannot be reached or refuses the IMEI, and ``audit verify --ledger`` checks the local
log against the head each run stored.

Boards are named ``sim://`` boards (one per test, by a random name), so a test reads what
reached the modem from the board's journal."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ledger.conftest import postgres_url  # noqa: F401  (fixture)
from tests.support.boards import Result
from xsudo import api
from xsudo.audit.log import record_hash
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.ledger import Ledger
from xsudo.sim import Board, get_board

Run = Callable[..., Result]
IMEIS = ("352656100000109", "352656100000208", "352656100000307")
UNREACHABLE = "postgresql://xsudo@127.0.0.1:1/nowhere?connect_timeout=2"


def port(imei: str = IMEIS[0], profile: str = "nrf91x1-2.0") -> str:
    """A new named board with ``imei``."""
    return f"sim://ledger-{secrets.token_hex(6)}?profile={profile}&imei={imei}"


def board(url: str) -> Board:
    found = get_board(url.split("://", 1)[1].split("?", 1)[0])
    assert found is not None
    return found


def writes(url: str) -> list[bytes]:
    """The ``%CMNG`` writes (opcode 0) the board received, plain or inside ``%XSUDO``."""
    return [r.command for r in board(url).journal if b"%CMNG=0" in r.command]


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem(make_ca(generate_private_key(), "ledger test CA")))
    return path


@pytest.fixture(params=("sqlite", "postgresql"))
def ledger_url(request: pytest.FixtureRequest, isolated_env: Path) -> str:
    """The default ledger (no option: the home's SQLite file), or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(isolated_env / "ledger.sqlite")
    return str(request.getfixturevalue("postgres_url"))


def ledger_args(url: str, isolated_env: Path) -> list[str]:
    """No option for the home's file (the default), ``--ledger URL`` otherwise."""
    return [] if url == str(isolated_env / "ledger.sqlite") else ["--ledger", url]


def open_at(url: str, home: Path) -> Ledger:
    return Ledger.open(url, home)


def test_cred_write_records_the_device_with_its_entry(
    xsudo: Run, ca_file: Path, ledger_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSUDO_STATION", "bench-1")
    url = port()
    args = ["cred", "write", "--port", url, "--tag", "7", "--type", "ca-cert", str(ca_file)]
    result = xsudo(*args, *ledger_args(ledger_url, isolated_env), "--json")
    assert result.code == 0, result.err
    written = result.json()
    with open_at(ledger_url, isolated_env) as ledger:
        (record,) = ledger.list(imei=IMEIS[0])
        heads = ledger.audit_heads()
    assert (record.result, record.station, record.plan_hash) == ("ok", "bench-1", None)
    assert record.device_uuid == str(board(url).modem.device_uuid)
    assert [(e.tag, e.type, e.sha, e.auth, e.action) for e in record.credentials] == [
        (7, "ca-cert", written["sha"], "plain", "written")
    ]
    assert [(h.station, h.seq, h.hash) for h in heads] == [
        ("bench-1", written["audit_head"]["seq"], written["audit_head"]["hash"])
    ]


def make_manifest(root: Path, ca_file: Path) -> Path:
    manifest = root / "fleet.toml"
    manifest.write_text(f'[[credential]]\ntag = 7\ntype = "ca-cert"\nfile = "{ca_file.name}"\n')
    return manifest


def test_provision_records_each_board_and_a_second_run_writes_nothing(
    xsudo: Run, ca_file: Path, tmp_path: Path, ledger_url: str, isolated_env: Path
) -> None:
    manifest = make_manifest(tmp_path, ca_file)
    urls = [port(imei) for imei in IMEIS]
    args = ["provision", str(manifest), *[a for u in urls for a in ("--port", u)], "--json"]
    args += ledger_args(ledger_url, isolated_env)
    first = xsudo(*args)
    assert first.code == 0, first.err
    assert all(len(writes(u)) == 1 for u in urls)
    again = xsudo(*args)
    assert again.code == 0, again.err
    assert all(len(writes(u)) == 1 for u in urls)  # no %CMNG=0 the second time
    assert not any(b"CFUN=4" in r.command for r in board(urls[0]).journal[-20:])
    lines = [json.loads(line) for line in again.out.splitlines()]
    assert [r["action"] for line in lines for r in line["results"]] == ["unchanged"] * 3
    plan = hashlib.sha256(manifest.read_bytes()).hexdigest()
    with open_at(ledger_url, isolated_env) as ledger:
        records = ledger.list()
    assert sorted(r.imei for r in records) == sorted(IMEIS * 2)
    assert {r.plan_hash for r in records} == {plan}
    assert [line["ledger_record"] for line in lines] == [
        max(r.id for r in records if r.imei == imei) for imei in IMEIS
    ]
    assert all(r.model and r.firmware and r.device_uuid for r in records)


def test_an_imei_held_at_another_station_is_flagged_and_not_written(
    xsudo: Run, ca_file: Path, tmp_path: Path, ledger_url: str, isolated_env: Path
) -> None:
    with open_at(ledger_url, isolated_env) as ledger:
        ledger.begin_device(IMEIS[0], None, "other-station", None)
    url = port()
    args = ["cred", "write", "--port", url, "--tag", "7", "--type", "ca-cert", str(ca_file)]
    result = xsudo(*args, *ledger_args(ledger_url, isolated_env))
    assert result.code == 1
    assert "being provisioned at station other-station" in result.err
    assert writes(url) == [] and (7, 0) not in board(url).modem.nvm.credentials
    manifest = make_manifest(tmp_path, ca_file)
    fleet = [port(IMEIS[0]), port(IMEIS[1])]
    args = ["provision", str(manifest), "--port", fleet[0], "--port", fleet[1], "--json"]
    run = xsudo(*args, *ledger_args(ledger_url, isolated_env))
    assert run.code == 1
    held, free = (json.loads(line) for line in run.out.splitlines())
    assert not held["ok"] and "other-station" in held["error"] and held["results"] == []
    assert free["ok"] and writes(fleet[0]) == [] and len(writes(fleet[1])) == 1
    with open_at(ledger_url, isolated_env) as ledger:
        flags = ledger.show(IMEIS[0]).flags
    assert [f.kind for f in flags] == ["concurrent-claim", "concurrent-claim"]


def test_an_imei_with_another_device_uuid_is_flagged_and_not_written(
    xsudo: Run, ca_file: Path, ledger_url: str, isolated_env: Path
) -> None:
    first, clone = port(), port()  # same IMEI, two identity keys: two device UUIDs
    extra = ledger_args(ledger_url, isolated_env)
    args = ["--tag", "7", "--type", "ca-cert", str(ca_file), *extra]
    assert xsudo("cred", "write", "--port", first, *args).code == 0
    result = xsudo("cred", "write", "--port", clone, *args)
    assert result.code == 1 and "cloned identity" in result.err
    assert writes(clone) == []
    with open_at(ledger_url, isolated_env) as ledger:
        assert [f.kind for f in ledger.show(IMEIS[0]).flags] == ["cloned-identity"]


@pytest.mark.parametrize(
    ("url", "code"),
    [(UNREACHABLE, 3), ("sqlite:////no/such/dir/ledger.sqlite", 2), ("mysql://h/db", 2)],
)
def test_a_ledger_that_cannot_be_opened_stops_before_any_write(
    xsudo: Run, ca_file: Path, tmp_path: Path, url: str, code: int
) -> None:
    board_url = port()
    args = ["--tag", "7", "--type", "ca-cert", str(ca_file), "--ledger", url]
    result = xsudo("cred", "write", "--port", board_url, *args)
    assert result.code == code, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert get_board(board_url.split("://")[1].split("?")[0]) is None  # never opened
    manifest = make_manifest(tmp_path, ca_file)
    fleet = port(IMEIS[1])
    run = xsudo("provision", str(manifest), "--port", fleet, "--ledger", url)
    assert run.code == code, run.err
    assert get_board(fleet.split("://")[1].split("?")[0]) is None


def _audit(home: Path) -> Path:
    return home / "audit.jsonl"


def _written_log(xsudo: Run, ca_file: Path, home: Path) -> list[dict[str, object]]:
    url = port()
    for tag in ("7", "8", "9"):
        args = ["cred", "write", "--port", url, "--tag", tag, "--type", "ca-cert", str(ca_file)]
        assert xsudo(*args).code == 0
    return [json.loads(line) for line in _audit(home).read_text().splitlines()]


def test_audit_verify_with_the_ledger_detects_a_cut_tail(
    xsudo: Run, ca_file: Path, isolated_env: Path
) -> None:
    records = _written_log(xsudo, ca_file, isolated_env)
    ledger = str(isolated_env / "ledger.sqlite")
    assert xsudo("audit", "verify", "--ledger", ledger).code == 0
    kept = records[:-1]  # the last write's record removed: the chain itself stays intact
    _audit(isolated_env).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
    assert xsudo("audit", "verify").code == 0
    cut = xsudo("audit", "verify", "--ledger", ledger, "--json")
    assert cut.code == 1
    head = cut.json()["ledger_head"]
    assert head["stored"]["seq"] == len(records) and "removed from its end" in head["reason"]


def test_audit_verify_with_the_ledger_detects_a_rechained_log(
    xsudo: Run, ca_file: Path, isolated_env: Path
) -> None:
    records = _written_log(xsudo, ca_file, isolated_env)
    records[0]["result"] = "refused"  # rewrite history, then re-chain every hash after it
    prev = records[0]["prev"]
    for record in records:
        record["prev"] = prev
        record["hash"] = prev = record_hash(record)
    _audit(isolated_env).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    assert xsudo("audit", "verify").code == 0  # the chain alone cannot tell
    result = xsudo("audit", "verify", "--ledger", str(isolated_env / "ledger.sqlite"))
    assert result.code == 1
    assert "FAILED" in result.out and "rewritten" in result.out


def test_audit_verify_with_the_ledger_fails_for_a_station_it_has_no_head_of(
    xsudo: Run, ca_file: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSUDO_STATION", "line-1")
    _written_log(xsudo, ca_file, isolated_env)
    ledger = str(isolated_env / "ledger.sqlite")
    assert xsudo("audit", "verify", "--ledger", ledger).code == 0
    typo = xsudo("audit", "verify", "--ledger", ledger, "--station", "line-9", "--json")
    assert typo.code == 1
    reason = typo.json()["ledger_head"]["reason"]
    assert "no audit head of station line-9" in reason and "line-1" in reason
    empty = isolated_env / "empty.jsonl"
    empty.write_text("")
    nothing = xsudo("audit", "verify", str(empty), "--ledger", ledger, "--station", "line-9")
    assert nothing.code == 0, nothing.out  # an empty log and no head: nothing to disagree


def test_issued_certificates_are_kept_for_the_nrf_cloud_export(xsudo: Run, tmp_path: Path) -> None:
    ca = tmp_path / "fleetca.pem"
    made = xsudo("ca", "create", "fleetca", "--store", "keyring", "--cn", "lab", "-o", str(ca))
    assert made.code == 0, made.err
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(
        '[[credential]]\ntag = 100\ntype = "client-cert"\n'
        'issue = { ca = "fleetca.pem", ca_key = "fleetca", days = 30, cn_from = "imei" }\n'
    )
    result = xsudo("provision", str(manifest), "--port", port(IMEIS[2]))
    assert result.code == 0, result.err
    export = xsudo("ledger", "export", "--format", "nrfcloud")
    assert export.code == 0, export.err
    rows = list(csv.reader(io.StringIO(export.out)))
    assert len(rows) == 1 and rows[0][0] == IMEIS[2]  # no header: as nRF Cloud takes it
    assert rows[0][-1].startswith("-----BEGIN CERTIFICATE-----")


def test_the_library_records_a_fleet_run_only_when_asked(
    ca_file: Path, tmp_path: Path, isolated_env: Path
) -> None:
    manifest = make_manifest(tmp_path, ca_file)
    (plain,) = api.provision(manifest, [port(IMEIS[0])], ledger=None)
    assert plain.ok and plain.ledger_record is None
    assert not (isolated_env / "ledger.sqlite").exists()
    url = str(tmp_path / "fleet-ledger.sqlite")
    (recorded,) = api.provision(manifest, [port(IMEIS[1])], ledger=url, station="lib-1")
    assert recorded.ok and recorded.ledger_record is not None
    with open_at(url, isolated_env) as ledger:
        (record,) = ledger.list()
    assert (record.id, record.imei, record.station) == (recorded.ledger_record, IMEIS[1], "lib-1")


# -- cred delete, keygen and issue record as cred write does ----------------------------------


def journal(url: str) -> list[bytes]:
    return [r.command for r in board(url).journal]


def deletes(url: str) -> list[bytes]:
    """The ``%CMNG`` deletes (opcode 3) the board received, plain or inside ``%XSUDO``."""
    return [c for c in journal(url) if b"%CMNG=3" in c]


@pytest.fixture
def fleet_ca(xsudo: Run, tmp_path: Path) -> Path:
    """A lab CA named ``fleetca`` in the (in-memory) keyring; its certificate's path."""
    path = tmp_path / "fleetca.pem"
    made = xsudo("ca", "create", "fleetca", "--store", "keyring", "--cn", "lab", "-o", str(path))
    assert made.code == 0, made.err
    return path


def test_cred_delete_records_what_it_deleted_and_ledger_show_says_so(
    xsudo: Run, ca_file: Path, ledger_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSUDO_STATION", "bench-2")
    url, extra = port(), ledger_args(ledger_url, isolated_env)
    where = ["--port", url, "--tag", "7", "--type", "ca-cert"]
    written = xsudo("cred", "write", *where, str(ca_file), *extra, "--json").json()
    gone = xsudo("cred", "delete", *where, "--yes", *extra, "--json")
    assert gone.code == 0, gone.err
    assert gone.json()["action"] == "deleted" and len(deletes(url)) == 1
    again = xsudo("cred", "delete", *where, "--yes", *extra, "--json")
    assert again.code == 0 and again.json()["action"] == "absent"
    with open_at(ledger_url, isolated_env) as ledger:
        history = ledger.show(IMEIS[0])
        heads = ledger.audit_heads()
    absent, deleted, write = history.records  # newest first
    assert [(r.result, r.station) for r in history.records] == [("ok", "bench-2")] * 3
    assert write.credentials[0].action == "written"
    (entry,) = deleted.credentials
    assert (entry.tag, entry.type, entry.action, entry.auth) == (7, "ca-cert", "deleted", "plain")
    assert (entry.sha, entry.previous_sha) == (None, written["sha"])
    assert deleted.device_uuid == str(board(url).modem.device_uuid)
    assert [(e.action, e.sha, e.auth) for e in absent.credentials] == [("absent", None, None)]
    assert heads[0].seq == again.json()["audit_head"]["seq"]
    shown = xsudo("ledger", "show", IMEIS[0], *extra)
    assert shown.code == 0, shown.err
    entries = [line.strip() for line in shown.out.splitlines() if line.startswith("  7/")]
    assert entries == [
        "7/ca-cert: absent, auth -, sha -",
        f"7/ca-cert: deleted, auth plain, sha -, was {written['sha']}",
        f"7/ca-cert: written, auth plain, sha {written['sha']}",
    ]


def test_cred_delete_all_records_each_credential_it_deleted(
    xsudo: Run, ca_file: Path, ledger_url: str, isolated_env: Path
) -> None:
    url, extra = port(IMEIS[1]), ledger_args(ledger_url, isolated_env)
    shas = {}
    for tag in ("7", "8"):
        args = ["--port", url, "--tag", tag, "--type", "ca-cert", str(ca_file), *extra]
        shas[int(tag)] = xsudo("cred", "write", *args, "--json").json()["sha"]
    result = xsudo("cred", "delete", "--port", url, "--all", "--yes", *extra, "--json")
    assert result.code == 0, result.err
    assert len(result.json()["deleted"]) == 2 and len(deletes(url)) == 2
    with open_at(ledger_url, isolated_env) as ledger:
        newest = ledger.show(IMEIS[1]).records[0]
    assert newest.result == "ok"
    assert [(e.tag, e.action, e.sha, e.previous_sha) for e in newest.credentials] == [
        (7, "deleted", None, shas[7]),
        (8, "deleted", None, shas[8]),
    ]
    nothing = xsudo("cred", "delete", "--port", url, "--all", "--yes", *extra)
    assert nothing.code == 0, nothing.err
    with open_at(ledger_url, isolated_env) as ledger:  # nothing to delete: nothing recorded
        assert len(ledger.list(imei=IMEIS[1])) == 3


def test_cred_delete_all_that_fails_is_recorded_failed_with_what_is_still_stored(
    xsudo: Run, ca_file: Path, ledger_url: str, isolated_env: Path
) -> None:
    url, extra = port(IMEIS[1], profile="locked"), ledger_args(ledger_url, isolated_env)
    assert xsudo("cred", "list", "--port", url).code == 0
    stored = board(url).modem.nvm.credentials
    stored[(7, 0)] = stored[(8, 0)] = ca_file.read_bytes()  # seeded: locked firmware
    result = xsudo("cred", "delete", "--port", url, "--all", "--yes", *extra, "--json")
    assert result.code == 1  # every plain delete refused: no key for %XSUDO
    assert [f["landed"] for f in result.json()["failed"]] == ["not-landed"] * 2
    sha = hashlib.sha256(ca_file.read_bytes()).hexdigest().upper()
    with open_at(ledger_url, isolated_env) as ledger:
        (record,) = ledger.list(imei=IMEIS[1])
    assert record.result == "failed" and (record.error or "").startswith("2 not deleted: ")
    assert [(e.tag, e.action, e.sha, e.previous_sha) for e in record.credentials] == [
        (7, "failed", sha, sha),
        (8, "failed", sha, sha),
    ]


def test_cred_issue_records_the_generated_key_and_the_issued_certificate(
    xsudo: Run, fleet_ca: Path, tmp_path: Path, ledger_url: str, isolated_env: Path
) -> None:
    url, extra = port(IMEIS[2]), ledger_args(ledger_url, isolated_env)
    cert_file = tmp_path / "client.pem"
    args = ["--port", url, "--tag", "100", "--ca", str(fleet_ca), "--ca-key", "fleetca"]
    result = xsudo("cred", "issue", *args, "--cn-from", "imei", "--cert-out", str(cert_file),
                   *extra, "--json")  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    with open_at(ledger_url, isolated_env) as ledger:
        (record,) = ledger.list(imei=IMEIS[2])
    key, cert = record.credentials
    assert (key.tag, key.type, key.action, key.auth) == (100, "client-key", "keygen", "plain")
    assert key.sha == report["keygen"]["key_sha"] and key.certificate_pem is None
    assert (cert.tag, cert.type, cert.action, cert.auth) == (100, "client-cert", "issued", "plain")
    assert cert.sha == hashlib.sha256(cert_file.read_bytes()).hexdigest().upper()
    assert cert.sha == report["write"]["sha"]
    assert cert.certificate_pem == cert_file.read_text()
    assert (record.result, record.device_uuid) == ("ok", str(board(url).modem.device_uuid))
    exported = xsudo("ledger", "export", "--format", "nrfcloud", *extra)
    assert exported.code == 0, exported.err
    (row,) = list(csv.reader(io.StringIO(exported.out)))
    assert row[0] == IMEIS[2] and row[-1] == cert_file.read_text()


def test_cred_keygen_records_the_key_and_a_refusal(
    xsudo: Run, ledger_url: str, isolated_env: Path
) -> None:
    url, extra = port(), ledger_args(ledger_url, isolated_env)
    first = xsudo("cred", "keygen", "--port", url, "--tag", "101", *extra, "--json")
    assert first.code == 0, first.err
    refused = xsudo("cred", "keygen", "--port", url, "--tag", "101", *extra)
    assert refused.code == 1 and "already holds a client key" in refused.err
    with open_at(ledger_url, isolated_env) as ledger:
        failed, done = ledger.show(IMEIS[0]).records
    assert [(e.tag, e.type, e.action, e.sha) for e in done.credentials] == [
        (101, "client-key", "keygen", first.json()["key_sha"])
    ]
    assert failed.result == "failed" and "already holds a client key" in (failed.error or "")
    assert failed.credentials == ()


def _issue_args(fleet_ca: Path) -> list[str]:
    return ["--tag", "100", "--ca", str(fleet_ca), "--ca-key", "fleetca"]


CHANGES = {
    "delete": (["cred", "delete", "--tag", "7", "--type", "ca-cert", "--yes"], b"%CMNG=3"),
    "delete --all": (["cred", "delete", "--all", "--yes"], b"%CMNG=3"),
    "keygen": (["cred", "keygen", "--tag", "100"], b"%KEYGEN"),
    "issue": (["cred", "issue"], b"%KEYGEN"),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
@pytest.mark.parametrize(
    ("url", "code"), [(UNREACHABLE, 3), ("sqlite:////no/such/dir/ledger.sqlite", 2)]
)
def test_a_ledger_that_cannot_be_opened_stops_every_change_before_the_port_opens(
    xsudo: Run, fleet_ca: Path, change: str, url: str, code: int
) -> None:
    args, _ = CHANGES[change]
    extra = _issue_args(fleet_ca) if change == "issue" else []
    board_url = port()
    result = xsudo(*args, *extra, "--port", board_url, "--ledger", url)
    assert result.code == code, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert get_board(board_url.split("://")[1].split("?")[0]) is None  # never opened


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_an_imei_the_ledger_refuses_gets_no_change(
    xsudo: Run, ca_file: Path, fleet_ca: Path, ledger_url: str, isolated_env: Path, change: str
) -> None:
    url, extra = port(), ledger_args(ledger_url, isolated_env)
    write = ["--port", url, "--tag", "7", "--type", "ca-cert", str(ca_file), *extra]
    assert xsudo("cred", "write", *write).code == 0
    stored = dict(board(url).modem.nvm.credentials)
    with open_at(ledger_url, isolated_env) as ledger:
        ledger.begin_device(IMEIS[0], None, "other-station", None)
    args, marker = CHANGES[change]
    own = _issue_args(fleet_ca) if change == "issue" else []
    result = xsudo(*args, *own, "--port", url, *extra)
    assert result.code == 1, result.err
    *warnings, error = result.err.splitlines()
    assert error.startswith("error: ") and "being provisioned at station other-station" in error
    assert all(line.startswith("warning: ") for line in warnings)
    assert not [c for c in journal(url) if marker in c]
    assert dict(board(url).modem.nvm.credentials) == stored
    with open_at(ledger_url, isolated_env) as ledger:
        history = ledger.show(IMEIS[0])
    assert len(history.records) == 1  # the write only
    assert [f.kind for f in history.flags] == ["concurrent-claim"]


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("postgresql://xsudo:s3cret@db.example/ledger", True),
        ("postgresql://xsudo@/ledger?host=%2Fvar%2Frun%2Fpostgresql&password=s3cret", True),
        ("postgresql://xsudo@/ledger?host=%2Fvar%2Frun%2Fpostgresql", False),
        ("postgresql://xsudo@db.example:5432/ledger", False),
        (None, False),
    ],
)
def test_only_a_url_with_a_password_earns_the_warning(
    url: str | None, warned: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from xsudo.cli.ledger import _warn_password

    _warn_password(url)
    assert ("password that other users can see" in capsys.readouterr().err) == warned
