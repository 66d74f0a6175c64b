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
