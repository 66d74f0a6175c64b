"""The promises end to end, as a user runs them: the CLI against boards on real ptys.

* No write without a record: a damaged audit log stops every device command before the
  device is touched (exit 2), and every result carries the log's head.
* Authentication never downgrades: a slot holding another key is an error in ``auto``;
  ``device upload-key --replace`` deletes the old key under ``--auth``.
* The device is untrusted: an IMEI shaped like a path never becomes a file name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.at.fakedevice import FakeDevice, standard_responder
from tests.cli.test_cred_write import upload, write_ca
from tests.support.boards import Result, cfun, snapshot
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key, public_key_pem
from xsudo.labpki import make_ca
from xsudo.sim import PtyServer

Run = Callable[..., Result]
Board = Callable[..., PtyServer]


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem(make_ca(generate_private_key(), "test CA")))
    return path


def _audit(home: Path) -> Path:
    return home / "audit.jsonl"


# -- no write without a record ------------------------------------------------------------


def _damage(home: Path, xsudo: Run) -> None:
    assert xsudo("key", "generate", "k").code == 0  # a record-free command, creates home
    log = _audit(home)
    log.write_bytes(b'{"seq": 1, "event": "sign", "hash": "ab')  # a cut last line


@pytest.mark.parametrize(
    "command",
    [
        ["cred", "write", "--auth", "never", "--tag", "7", "--type", "ca-cert"],
        ["cred", "delete", "--tag", "7", "--type", "ca-cert", "--yes"],
        ["device", "upload-key", "--key", "k"],
        ["cred", "list"],
    ],
)
def test_a_damaged_log_stops_before_the_device_is_touched(
    xsudo: Run, board: Board, ca_file: Path, isolated_env: Path, command: list[str]
) -> None:
    server = board("nrf91x1-2.0")
    server.board.command(b"AT+CFUN=1")
    _damage(isolated_env, xsudo)
    before, handled = snapshot(server), server.board.commands_handled
    args = [*command, "--port", server.path]
    if command[:2] == ["cred", "write"]:
        args.append(str(ca_file))
    result = xsudo(*args)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and "xsudo audit verify" in result.err
    assert server.board.commands_handled == handled  # not one byte reached the board
    assert snapshot(server) == before and cfun(server) == 1


def test_a_damaged_log_stops_signing(xsudo: Run, isolated_env: Path) -> None:
    _damage(isolated_env, xsudo)
    result = xsudo("sign", "--key", "k", "+CGSN")
    assert result.code == 2 and result.out == ""  # no signature leaves without its record


def test_results_carry_the_audit_head(
    xsudo: Run, board: Board, ca_file: Path, isolated_env: Path
) -> None:
    server = board("nrf91x1-2.0")
    result = write_ca(xsudo, server, ca_file)
    assert result.code == 0, result.err
    head = result.json()["audit_head"]
    records = [json.loads(line) for line in _audit(isolated_env).read_text().splitlines()]
    assert head == {"seq": records[-1]["seq"], "hash": records[-1]["hash"]}
    check = xsudo("audit", "verify", "--expect-head", f"{head['seq']}:{head['hash']}")
    assert check.code == 0, check.out
    _audit(isolated_env).write_text(
        "".join(line + "\n" for line in _audit(isolated_env).read_text().splitlines()[:-1])
    )
    cut = xsudo("audit", "verify", "--expect-head", f"{head['seq']}:{head['hash']}")
    assert cut.code == 1  # the tail was cut: the head says so


def test_provision_report_lines_carry_the_audit_head(
    xsudo: Run, board: Board, ca_file: Path, tmp_path: Path, isolated_env: Path
) -> None:
    # two devices: two IMEIs (one IMEI on two ports at once is refused by the ledger)
    servers = [board("nrf91x1-2.0", imei="352656100000001"), board("nrf9160-1.3")]
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(f'[[credential]]\ntag = 7\ntype = "ca-cert"\nfile = "{ca_file.name}"\n')
    ports = [arg for s in servers for arg in ("--port", s.path)]
    result = xsudo("provision", str(manifest), *ports, "--json")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    last = json.loads(_audit(isolated_env).read_text().splitlines()[-1])
    assert [line["audit_head"] for line in lines] == [
        {"seq": last["seq"], "hash": last["hash"]}
    ] * 2
    assert all(r["audit_head"]["seq"] <= last["seq"] for line in lines for r in line["results"])


# -- authentication never downgrades -------------------------------------------------------


def _foreign_key(server: PtyServer, slot: int = 0) -> None:
    server.board.command(b"AT+CMEE=1")
    pem = public_key_pem(generate_private_key().public_key()).encode()
    assert server.board.command(b'AT%XPMNG=0,"' + pem + f'",{slot}'.encode()) == b"OK\r\n"


def test_auto_refuses_a_slot_holding_another_key(xsudo: Run, board: Board, ca_file: Path) -> None:
    server = board("nrf91x1-2.0")  # plain writes would succeed on this firmware
    assert xsudo("key", "generate", "mine").code == 0
    _foreign_key(server)
    before = snapshot(server)
    result = write_ca(xsudo, server, ca_file, "--key", "mine")
    assert result.code == 1
    assert "holds a different public key" in result.err
    assert "--replace" in result.err and "--auth never" in result.err
    assert snapshot(server) == before


def test_upload_key_replace_needs_the_old_key_under_required(xsudo: Run, board: Board) -> None:
    server = board("locked")
    assert xsudo("key", "generate", "new").code == 0
    _foreign_key(server)
    before = snapshot(server)
    refused = xsudo(
        "device", "upload-key", "--port", server.path, "--key", "new", "--replace",
        "--auth", "required",
    )  # fmt: skip
    assert refused.code == 1 and "no local key matches" in refused.err
    assert snapshot(server) == before


def test_upload_key_replace_signs_the_delete_with_the_key_in_the_slot(
    xsudo: Run, board: Board, isolated_env: Path
) -> None:
    server = board("locked")  # a plain %CMNG=3 is refused here
    assert xsudo("key", "generate", "old").code == 0
    assert xsudo("key", "generate", "new").code == 0
    upload(xsudo, server, "old")
    result = xsudo(
        "device", "upload-key", "--port", server.path, "--key", "new", "--replace", "--json"
    )
    assert result.code == 0, result.err
    assert result.json()["action"] == "replaced" and result.json()["auth"] == "xsudo"
    records = [json.loads(line) for line in _audit(isolated_env).read_text().splitlines()]
    signed = [r for r in records if r["event"] == "sign"]
    assert signed and signed[-1]["key_name"] == "old"


def test_upload_key_replace_auto_without_the_old_key_tries_plain_only(
    xsudo: Run, board: Board
) -> None:
    server = board("locked")
    assert xsudo("key", "generate", "new").code == 0
    _foreign_key(server)
    before = snapshot(server)
    result = xsudo("device", "upload-key", "--port", server.path, "--key", "new", "--replace")
    assert result.code == 1 and "514" in result.err  # plain delete refused: nothing signed
    assert snapshot(server) == before


# -- the device is untrusted ----------------------------------------------------------------


def test_an_imei_shaped_like_a_path_never_reads_a_host_file(xsudo: Run, tmp_path: Path) -> None:
    secret = tmp_path / "secret" / "hostkey"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN PRIVATE KEY-----\nHOST SECRET\n-----END PRIVATE KEY-----\n")
    certs = tmp_path / "fleet" / "certs"
    certs.mkdir(parents=True)
    manifest = tmp_path / "fleet" / "fleet.toml"
    manifest.write_text('[[credential]]\ntag = 7\ntype = "client-key"\nfile = "certs/{imei}.key"\n')

    def hostile(line: bytes) -> list[bytes]:
        if line == b"AT+CGSN":
            return [b"../../secret/hostkey\r\nOK\r\n"]
        if line == b"AT+CGMR":
            return [b"mfw_nrf91x1_2.0.2\r\nOK\r\n"]
        return list(standard_responder(line))

    with FakeDevice(responder=hostile, transport="pty") as device:
        result = xsudo("provision", str(manifest), "--port", device.url, "--json")
    assert result.code != 0
    assert b"HOST SECRET" not in bytes(device.raw)
    assert not any(line.startswith(b"AT%CMNG=0") for line in device.received)
    report = json.loads(result.out.splitlines()[0])
    assert "IMEI" in report["error"] and "15 digits" in report["error"]


def test_every_recording_command_carries_the_head(
    xsudo: Run, board: Board, isolated_env: Path
) -> None:
    """The head in each ``--json`` result is the log's last record at that moment."""
    server = board("locked")
    assert xsudo("key", "generate", "factory").code == 0
    port = ("--port", server.path)
    commands = [
        ("device", "upload-key", *port, "--key", "factory", "--json"),
        ("device", "info", *port, "--key", "factory", "--json"),
        ("cred", "keygen", *port, "--tag", "9", "--key", "factory", "--json"),
        (
            "cred",
            "delete",
            *port,
            "--tag",
            "9",
            "--type",
            "client-key",
            "--yes",
            "--key",
            "factory",
            "--json",
        ),
        ("sign", "--key", "factory", "+CGSN", "--json"),
    ]
    for command in commands:
        result = xsudo(*command)
        assert result.code == 0, (command, result.err)
        last = json.loads(_audit(isolated_env).read_text().splitlines()[-1])
        assert result.json()["audit_head"] == {"seq": last["seq"], "hash": last["hash"]}, command
