"""``cred delete``, ``cred keygen`` and ``cred issue`` record the device as ``cred write``
does, over a real pty as over ``sim://``: the device UUID on both families (nRF9160 has no
``%DEVICEUUID``: its UUID comes from the attestation token, never from ``%XMODEMUUID``),
the entries' actions, and the import cost (an existing SQLite ledger is written without
SQLAlchemy, in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.boards import Result, board, xsudo  # noqa: F401  (fixtures)
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import make_ca
from xsudo.ledger import Ledger
from xsudo.ledger.recording import (
    ISSUED,
    KEYGEN,
    credential_entry,
    issued_result,
    keygen_result,
    open_ledger,
)
from xsudo.sim import PtyServer

Run = Callable[..., Result]
Boards = Callable[..., PtyServer]
IMEI = "352656100000406"


def commands(server: PtyServer) -> list[bytes]:
    return [r.command for r in server.board.journal]


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem(make_ca(generate_private_key(), "recording test CA")))
    return path


def lab_ca(xsudo: Run, tmp_path: Path) -> Path:  # noqa: F811
    """A lab CA made by ``xsudo ca create lab`` (key in the test keyring): its certificate."""
    ca = tmp_path / "lab.pem"
    made = xsudo("ca", "create", "lab", "--store", "keyring", "-o", str(ca))
    assert made.code == 0, made.err
    return ca


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0"])
def test_write_and_delete_over_a_pty_record_the_device_uuid_of_either_family(
    xsudo: Run,  # noqa: F811
    board: Boards,  # noqa: F811
    ca_file: Path,
    isolated_env: Path,
    profile: str,
) -> None:
    server = board(profile, imei=IMEI)
    modem = server.board.modem
    where = ["--port", server.path, "--tag", "7", "--type", "ca-cert"]
    assert xsudo("cred", "write", *where, str(ca_file)).code == 0
    deleted = xsudo("cred", "delete", *where, "--yes")
    assert deleted.code == 0, deleted.err
    assert (7, 0) not in modem.nvm.credentials
    with Ledger.open(None, isolated_env) as ledger:
        history = ledger.show(IMEI)
    assert [r.device_uuid for r in history.records] == [str(modem.device_uuid)] * 2
    assert history.device_uuid == str(modem.device_uuid) != str(modem.modem_uuid)
    assert [r.credentials[0].action for r in history.records] == ["deleted", "written"]
    asked_token = any(c.startswith(b"AT%ATTESTTOKEN") for c in commands(server))
    assert asked_token == (profile == "nrf9160-1.3")  # nRF91x1 answers %DEVICEUUID


def test_issue_over_a_pty_records_key_then_certificate(
    xsudo: Run,  # noqa: F811
    board: Boards,  # noqa: F811
    tmp_path: Path,
    isolated_env: Path,
) -> None:
    ca = lab_ca(xsudo, tmp_path)
    server = board("nrf9160-1.3", imei=IMEI)
    args = ["--port", server.path, "--tag", "300", "--ca", str(ca), "--ca-key", "lab"]
    result = xsudo("cred", "issue", *args, "--json")
    assert result.code == 0, result.err
    report = result.json()
    with Ledger.open(None, isolated_env) as ledger:
        (record,) = ledger.list(imei=IMEI)
    assert [(e.type_id, e.action, e.sha) for e in record.credentials] == [
        (2, KEYGEN, report["keygen"]["key_sha"]),
        (1, ISSUED, report["write"]["sha"]),
    ]
    assert record.device_uuid == str(server.board.modem.device_uuid)
    assert record.device_uuid == report["keygen"]["cose"]["device_uuid"]  # signed by the device


def test_the_entry_helpers_say_what_happened() -> None:
    key = credential_entry(keygen_result(5, "B" * 64, "A" * 64, "xsudo"))
    assert key is not None
    assert (key.tag, key.type_id, key.type, key.action) == (5, 2, "client-key", "keygen")
    assert (key.sha, key.previous_sha, key.auth) == ("B" * 64, "A" * 64, "xsudo")
    written = {"tag": 5, "type_id": 1, "sha": "C" * 64, "auth": "plain", "action": "written"}
    assert issued_result(written)["action"] == "issued"
    assert issued_result({**written, "action": "replaced"})["action"] == "issued"
    assert issued_result({**written, "action": "failed"})["action"] == "failed"
    assert written["action"] == "written"  # the caller's result is not changed


PROBE = """
import json, sys
from xsudo.cli import main
codes = []
for args in json.loads(sys.argv[1]):
    try:
        main(args)
        codes.append(0)
    except SystemExit as stop:
        codes.append(stop.code or 0)
heavy = sorted({m.split(".")[0] for m in sys.modules if m.startswith(("sqlalchemy", "alembic"))})
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def test_the_cred_commands_write_an_existing_sqlite_ledger_without_sqlalchemy(
    ca_file: Path, tmp_path: Path, isolated_env: Path
) -> None:
    open_ledger(None, isolated_env).close()  # the home's ledger, at this version's schema
    ca = tmp_path / "lab.pem"
    port = f"sim://recording-probe?imei={IMEI}"
    tag = ["--port", port, "--tag", "7", "--type", "ca-cert"]
    runs = [
        ["ca", "create", "lab", "--store", "keyring", "-o", str(ca)],
        ["cred", "write", *tag, str(ca_file)],
        ["cred", "delete", *tag, "--yes"],
        ["cred", "write", *tag, str(ca_file)],
        ["cred", "delete", "--port", port, "--all", "--yes"],
        ["cred", "keygen", "--port", port, "--tag", "8"],
        ["cred", "issue", "--port", port, "--tag", "9", "--ca", str(ca), "--ca-key", "lab"],
    ]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"codes": [0] * len(runs), "heavy": []}, done.stderr
    with Ledger.open(None, isolated_env) as ledger:
        records = ledger.list(imei=IMEI)
    assert [[e.action for e in r.credentials] for r in records] == [
        ["written"],
        ["deleted"],
        ["written"],
        ["deleted"],
        ["keygen"],
        ["keygen", "issued"],
    ]


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0"])
def test_provision_over_a_pty_records_the_device_uuid_of_either_family(
    xsudo: Run,  # noqa: F811
    board: Boards,  # noqa: F811
    ca_file: Path,
    tmp_path: Path,
    isolated_env: Path,
    profile: str,
) -> None:
    server = board(profile, imei=IMEI)
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(f'[[credential]]\ntag = 7\ntype = "ca-cert"\nfile = "{ca_file}"\n')
    done = xsudo("provision", str(manifest), "--port", server.path)
    assert done.code == 0, done.err
    modem = server.board.modem
    with Ledger.open(None, isolated_env) as ledger:
        (record,) = ledger.list(imei=IMEI)
    assert record.device_uuid == str(modem.device_uuid) != str(modem.modem_uuid)
    asked_token = any(c.startswith(b"AT%ATTESTTOKEN") for c in commands(server))
    assert asked_token == (profile == "nrf9160-1.3")


def test_provision_records_an_issue_entry_as_key_then_certificate(
    xsudo: Run,  # noqa: F811
    board: Boards,  # noqa: F811
    tmp_path: Path,
    isolated_env: Path,
) -> None:
    ca = lab_ca(xsudo, tmp_path)
    server = board("nrf91x1-2.0", imei=IMEI)
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(
        '[[credential]]\ntag = 300\ntype = "client-cert"\n'
        f'issue = {{ ca = "{ca}", ca_key = "lab", days = 30, cn_from = "imei" }}\n'
    )
    report_file = tmp_path / "report.jsonl"
    done = xsudo("provision", str(manifest), "--port", server.path, "--report", str(report_file))
    assert done.code == 0, done.err
    (result,) = json.loads(report_file.read_text())["results"]
    with Ledger.open(None, isolated_env) as ledger:
        (record,) = ledger.list(imei=IMEI)
    assert [(e.tag, e.type_id, e.action, e.sha) for e in record.credentials] == [
        (300, 2, KEYGEN, result["issued"]["key_sha"]),
        (300, 1, ISSUED, result["sha"]),
    ]
    assert record.credentials[0].auth == result["issued"]["key_auth"]
    stored = server.board.modem.nvm.credentials
    assert (300, 2) in stored and (300, 1) in stored
