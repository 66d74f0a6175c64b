"""Device commands, delete/check, the audit log and fleet provisioning, end to end."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.boards import PROFILES, Result, snapshot
from xsudo.ca import cert_pem
from xsudo.crypto import generate_private_key
from xsudo.labpki import issue_client_cert, make_ca, private_key_pem
from xsudo.sim import Board as SimBoard
from xsudo.sim import PtyServer, SimOptions

Run = Callable[..., Result]
Board = Callable[..., PtyServer]


def keys(xsudo: Run, *names: str) -> None:
    for name in names:
        assert xsudo("key", "generate", name).code == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_device_info_is_read_only_and_matches_local_keys(
    xsudo: Run, board: Board, profile: str
) -> None:
    server = board(profile)
    server.board.command(b"AT+CFUN=1")
    keys(xsudo, "alpha")
    before = xsudo("device", "info", "--port", server.path, "--json").json()
    assert before["imei"] == "352656100367872" and before["cfun"] == 1
    assert before["slots"] == [] and before["mfw"].startswith("mfw_")
    assert before["authenticated_access"]["works"] is False
    xsudo("device", "upload-key", "--port", server.path, "--key", "alpha", "--slot", "3")
    after = xsudo(
        "device", "info", "--port", server.path, "--key", "alpha", "--slot", "3", "--json"
    ).json()
    assert after["slots"][0]["slot"] == 3 and after["slots"][0]["local_key"] == "alpha"
    assert after["authenticated_access"]["works"] is True
    assert after["cfun"] == 1


@pytest.mark.parametrize("profile", ["nrf91x1-2.0", "locked"])
def test_upload_key_unchanged_refused_and_replaced(xsudo: Run, board: Board, profile: str) -> None:
    server = board(profile)
    keys(xsudo, "alpha", "beta")
    first = xsudo("device", "upload-key", "--port", server.path, "--key", "alpha", "--json")
    assert first.json()["action"] == "uploaded"
    same = xsudo("device", "upload-key", "--port", server.path, "--key", "alpha", "--json")
    assert same.json()["action"] == "unchanged"
    before = snapshot(server)
    refused = xsudo("device", "upload-key", "--port", server.path, "--key", "beta")
    assert refused.code == 1 and "--replace" in refused.err
    assert snapshot(server) == before
    # On the locked firmware the old key's delete must be signed by the old key itself.
    replaced = xsudo(
        "device", "upload-key", "--port", server.path, "--key", "beta", "--replace", "--json"
    )
    assert replaced.code == 0, replaced.err
    assert replaced.json()["action"] == "replaced"
    assert replaced.json()["previous_fingerprint"] == first.json()["fingerprint"]


def test_delete_and_check(xsudo: Run, board: Board, tmp_path: Path) -> None:
    server = board("locked")
    keys(xsudo, "alpha")
    xsudo("device", "upload-key", "--port", server.path, "--key", "alpha")
    pem = cert_pem(make_ca(generate_private_key(), "CA"))
    file = tmp_path / "ca.pem"
    file.write_bytes(pem)
    assert (
        xsudo(
            "cred",
            "write",
            "--port",
            server.path,
            "--tag",
            "9",
            "--type",
            "0",
            "--key",
            "alpha",
            str(file),
        ).code
        == 0
    )
    check = xsudo(
        "cred",
        "check",
        "--port",
        server.path,
        "--tag",
        "9",
        "--type",
        "ca-cert",
        "--json",
        str(file),
    )
    assert check.code == 0 and check.json()["convention"] == "canonical"
    crlf = tmp_path / "ca-crlf.pem"
    crlf.write_bytes(pem.replace(b"\n", b"\r\n"))
    assert (
        xsudo(
            "cred", "check", "--port", server.path, "--tag", "9", "--type", "ca-cert", str(crlf)
        ).code
        == 0
    )  # same certificate, line endings do not matter
    stranger = tmp_path / "other.pem"
    stranger.write_bytes(cert_pem(make_ca(generate_private_key(), "other")))
    differs = xsudo(
        "cred", "check", "--port", server.path, "--tag", "9", "--type", "ca-cert", str(stranger)
    )
    assert differs.code == 1 and "differs" in differs.out

    plain = xsudo(
        "cred",
        "delete",
        "--port",
        server.path,
        "--tag",
        "9",
        "--type",
        "ca-cert",
        "--yes",
        "--auth",
        "never",
    )
    assert plain.code == 1 and "514" in plain.err
    assert (9, 0) in snapshot(server)
    gone = xsudo(
        "cred",
        "delete",
        "--port",
        server.path,
        "--tag",
        "9",
        "--type",
        "ca-cert",
        "--yes",
        "--key",
        "alpha",
        "--json",
    )
    assert gone.code == 0 and gone.json()["action"] == "deleted"
    assert gone.json()["auth"] == "xsudo"
    assert (9, 0) not in snapshot(server)
    absent = xsudo("cred", "delete", "--port", server.path, "--tag", "9", "--type", "0", "--yes")
    assert absent.code == 0 and "nothing stored" in absent.out
    no_tty = xsudo("cred", "delete", "--port", server.path, "--tag", "9", "--type", "0")
    assert no_tty.code == 2 and "--yes" in no_tty.err


def test_the_audit_log_records_every_write_and_detects_tampering(
    xsudo: Run, board: Board, tmp_path: Path, isolated_env: Path
) -> None:
    server = board("locked")
    keys(xsudo, "alpha")
    xsudo("device", "upload-key", "--port", server.path, "--key", "alpha")
    file = tmp_path / "ca.pem"
    file.write_bytes(cert_pem(make_ca(generate_private_key(), "CA")))
    xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "9",
        "--type",
        "0",
        "--key",
        "alpha",
        str(file),
    )
    xsudo("sign", "--key", "alpha", "%CMNG=1")
    shown = xsudo("audit", "show", "--json")
    records = [json.loads(line) for line in shown.out.splitlines()]
    events = [r["event"] for r in records]
    assert events.count("sign") == 2 and "write" in events and "upload-key" in events
    write = next(r for r in records if r["event"] == "write")
    assert write["auth"] == "xsudo" and write["device_imei"] == "352656100367872"
    assert write["data_len"] > 0 and len(write["signed_sha256"]) == 64
    assert "BEGIN" not in shown.out
    assert xsudo("audit", "verify").code == 0
    log = isolated_env / "audit.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    broken = xsudo("audit", "verify")
    assert broken.code == 1 and "record 2" in broken.out


def test_a_port_that_vanishes_mid_write_is_a_device_error(xsudo: Run, tmp_path: Path) -> None:
    class Unplugged(SimBoard):
        server: PtyServer

        def command(self, data: bytes) -> bytes:
            if data.lstrip().startswith(b"AT%CMNG=0"):
                threading.Thread(target=self.server.close).start()
                return b""
            return super().command(data)

    board = Unplugged(SimOptions(state=str(tmp_path / "b.json")))
    server = PtyServer(board=board)
    board.server = server
    server.start()
    file = tmp_path / "ca.pem"
    file.write_bytes(cert_pem(make_ca(generate_private_key(), "CA")))
    result = xsudo(
        "cred",
        "write",
        "--port",
        server.path,
        "--tag",
        "5",
        "--type",
        "0",
        "--timeout",
        "3",
        str(file),
    )
    server.close()
    assert result.code == 3
    assert (5, 0) not in board.modem.nvm.credentials


def make_fleet_files(root: Path, imeis: list[str]) -> Path:
    ca_key = generate_private_key()
    ca = make_ca(ca_key, "fleet CA")
    (root / "certs").mkdir()
    (root / "certs" / "ca.pem").write_bytes(cert_pem(ca))
    for imei in imeis:
        key = generate_private_key()
        cert = issue_client_cert(ca_key, ca, key.public_key(), imei)
        (root / "certs" / f"{imei}.crt").write_bytes(cert_pem(cert))
        (root / "certs" / f"{imei}.key").write_bytes(private_key_pem(key))
    manifest = root / "fleet.toml"
    manifest.write_text(
        '[defaults]\nauth = "required"\nkey = "factory"\n'
        '[[credential]]\ntag = 100\ntype = "ca-cert"\nfile = "certs/ca.pem"\n'
        '[[credential]]\ntag = 100\ntype = "client-cert"\nfile = "certs/{imei}.crt"\n'
        '[[credential]]\ntag = 100\ntype = "client-key"\nfile = "certs/{imei}.key"\n'
    )
    return manifest


def sim_port(tmp_path: Path, index: int, imei: str, profile: str = "locked") -> str:
    return f"sim://?profile={profile}&state={tmp_path}/d{index}.json&imei={imei}"


def test_sixteen_devices_in_parallel(xsudo: Run, tmp_path: Path) -> None:
    imeis = [f"3526561003{i:05d}" for i in range(16)]
    manifest = make_fleet_files(tmp_path, imeis)
    keys(xsudo, "factory")
    ports = [sim_port(tmp_path, i, imei) for i, imei in enumerate(imeis)]
    for port in ports[:-1]:  # the last board never gets the key: it must fail alone
        assert xsudo("device", "upload-key", "--port", port, "--key", "factory").code == 0
    report = tmp_path / "report.jsonl"
    args = ["provision", str(manifest), "--report", str(report)]
    for port in ports:
        args += ["--port", port]
    result = xsudo(*args)
    assert result.code == 1
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [line["imei"] for line in lines] == imeis
    assert all(line["ok"] for line in lines[:-1])
    assert not lines[-1]["ok"] and "holds no public key" in lines[-1]["error"]
    for line in lines[:-1]:
        assert [r["action"] for r in line["results"]] == ["written"] * 3
        assert {r["auth"] for r in line["results"]} == {"xsudo"}
    again = xsudo(*args)
    assert again.code == 1
    rerun = [json.loads(line) for line in report.read_text().splitlines()]
    assert {r["action"] for line in rerun[:-1] for r in line["results"]} == {"unchanged"}


def test_a_bad_file_for_one_device_stops_the_run_before_any_write(
    xsudo: Run, tmp_path: Path
) -> None:
    imeis = ["352656100000001", "352656100000002"]
    manifest = make_fleet_files(tmp_path, imeis)
    (tmp_path / "certs" / f"{imeis[1]}.key").write_text("not a key")
    keys(xsudo, "factory")
    ports = [sim_port(tmp_path, i, imei, "nrf91x1-2.0") for i, imei in enumerate(imeis)]
    for port in ports:
        xsudo("device", "upload-key", "--port", port, "--key", "factory")
    result = xsudo("provision", str(manifest), "--port", ports[0], "--port", ports[1])
    assert result.code == 2
    assert imeis[1] in result.err
    listed = xsudo("cred", "list", "--port", ports[0], "--tag", "100", "--json").json()
    assert listed == []


def test_manifest_errors(xsudo: Run, tmp_path: Path) -> None:
    bad: dict[str, Any] = {
        "no credentials": "[defaults]\n",
        "bad type": '[[credential]]\ntag = 1\ntype = "cert"\nfile = "x"\n',
        "bad auth": '[defaults]\nauth = "maybe"\n[[credential]]\ntag=1\ntype="psk"\nfile="x"\n',
        "not toml": "[[credential]\n",
    }
    for name, text in bad.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        result = xsudo("provision", str(path), "--port", "sim://")
        assert result.code == 2, name
        assert result.err.startswith("error: "), name


@pytest.mark.parametrize("flow", ["rtscts", "xonxoff", "dsrdtr", "none"])
def test_flow_control_options_open_a_real_pty(xsudo: Run, board: Board, flow: str) -> None:
    server = board()
    result = xsudo("device", "info", "--port", server.path, "--flow", flow, "--json")
    assert result.code == 0, result.err
    assert result.json()["imei"] == "352656100367872"
    bad = xsudo("device", "info", "--port", server.path, "--flow", "carrier-pigeon")
    assert bad.code == 2


def test_device_info_on_firmware_that_hides_its_key_slots(xsudo: Run, board: Board) -> None:
    server = board("nrf91x1-2.0", xpmng_readable=False)
    keys(xsudo, "alpha")
    info = xsudo("device", "info", "--port", server.path, "--json")
    assert info.code == 0, info.err
    data = info.json()
    assert data["xpmng_supported"] is True and data["xpmng_readable"] is False
    assert data["slots"] == []
    text = xsudo("device", "info", "--port", server.path, "--key", "alpha")
    assert text.code == 0, text.err
    assert "slots hidden" in text.out and "no access" not in text.out + text.err
    assert "xsudo:" in text.out  # still probed: the slots are hidden, not absent


def test_device_info_names_both_uuids_and_says_when_nothing_was_checked(
    xsudo: Run, board: Board
) -> None:
    server = board("nrf91x1-2.0")
    data = xsudo("device", "info", "--port", server.path, "--json").json()
    assert data["firmware_uuid"] and data["device_uuid"]
    assert data["firmware_uuid"] != data["device_uuid"]
    assert data["uuid"] == data["firmware_uuid"]  # the old key, kept for compatibility
    assert data["authenticated_access"] == {
        "checked": False,
        "detail": "no signing key given",
        "works": False,
    }
    text = xsudo("device", "info", "--port", server.path).out
    assert f"firmware uuid: {data['firmware_uuid']}" in text
    assert f"device uuid:   {data['device_uuid']}" in text
    assert "xsudo:         not checked: no signing key given" in text
    assert "not working" not in text
    old = board("nrf9160-1.3")  # no %DEVICEUUID
    assert xsudo("device", "info", "--port", old.path, "--json").json()["device_uuid"] is None


def one_device_manifest(root: Path, tag: int, defaults: str = "") -> Path:
    (root / "ca.pem").write_bytes(cert_pem(make_ca(generate_private_key(), "CA")))
    manifest = root / "one.toml"
    manifest.write_text(
        defaults + f'[[credential]]\ntag = {tag}\ntype = "ca-cert"\nfile = "ca.pem"\n'
    )
    return manifest


def test_provision_counts_devices_in_words_and_never_cuts_progress(
    xsudo: Run, tmp_path: Path
) -> None:
    manifest = one_device_manifest(tmp_path, 100)
    port = sim_port(tmp_path, 0, "352656100000001", "nrf91x1-2.0")
    assert len(port) > 80
    one = xsudo("provision", str(manifest), "--port", port)
    assert one.code == 0, one.err
    assert "1 device provisioned" in one.err and "of 1" not in one.err
    assert f"{port}: 1/1 done" in one.err.splitlines()  # stderr is no terminal: whole lines
    two = xsudo("provision", str(manifest), "--port", port, "--port", "sim://?no-such-option=1")
    assert two.code == 1
    assert "1 of 2 devices provisioned" in two.err


def test_provision_refuses_tls_decrypt_tags_under_auth_required(xsudo: Run, tmp_path: Path) -> None:
    tag = 2147483648
    manifest = one_device_manifest(tmp_path, tag)
    port = sim_port(tmp_path, 0, "352656100000001", "nrf91x1-2.0")
    refused = xsudo("provision", str(manifest), "--port", port, "--auth", "required")
    assert refused.code == 2 and "allow_decrypt_tags" in refused.err
    allowed = xsudo("provision", str(manifest), "--port", port, "--json")
    assert allowed.code == 0, allowed.err
    assert "TLS decrypt tag 0" in allowed.err
    assert allowed.json()["results"][0]["tag"] == tag


def test_provision_checks_expiry_then_marks_production_done(xsudo: Run, tmp_path: Path) -> None:
    finish = "[checks]\nexpiry_within_days = 30\n[finish]\nproduction_done = true\n"
    manifest = one_device_manifest(tmp_path, 100, finish)
    port = sim_port(tmp_path, 0, "352656100000001", "nrf91x1-2.0")
    result = xsudo("provision", str(manifest), "--port", port, "--json")
    assert result.code == 0, result.err
    steps = [r.get("step") for r in result.json()["results"]]
    assert steps == [None, "expiry", "production-done"]
    too_soon = one_device_manifest(tmp_path, 100, finish.replace("30", "4000"))
    other = sim_port(tmp_path, 1, "352656100000002", "nrf91x1-2.0")
    failed = xsudo("provision", str(too_soon), "--port", other, "--json")
    assert failed.code == 1
    line = failed.json()
    assert not line["ok"] and line["error"].startswith("finish: certificate expiry check")
    assert [r.get("step") for r in line["results"]] == [None, "expiry"]
