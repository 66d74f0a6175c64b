"""``cred keygen``, ``cred issue``, ``ca create``, ``device attest`` and manifest ``issue``
end to end: the CLI in-process against simulated boards on real ptys (and sim:// URLs).

Outside checks: ``openssl req -verify`` for CSRs, ``openssl verify`` for issued
certificates, the board's own NVM for what was stored, and the audit log.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.at.fakedevice import FakeDevice
from tests.support.boards import Result, cfun, snapshot
from tests.tokens import forge
from xsudo.audit.log import AuditLog
from xsudo.sim import Modem, PtyServer, SimOptions, load_nvm

Run = Callable[..., Result]
Board = Callable[..., PtyServer]
TAG = 1000
CHALLENGE = "90115c20ac3f381b520b43c76bd5d99c"


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)


def openssl_csr_ok(path: Path, form: str = "PEM") -> bool:
    """OpenSSL 3.0 exits 0 even when a CSR signature fails; its verdict line decides."""
    done = openssl("req", "-inform", form, "-in", str(path), "-verify", "-noout")
    verdict = done.stdout + done.stderr
    return done.returncode == 0 and "verify OK" in verdict and "failure" not in verdict


def openssl_cert_ok(ca: Path, cert: Path) -> bool:
    done = openssl("verify", "-purpose", "sslclient", "-CAfile", str(ca), str(cert))
    return done.returncode == 0 and done.stdout.strip().endswith("OK")


def identity_file(server: PtyServer, tmp_path: Path) -> Path:
    path = tmp_path / f"identity-{id(server)}.pem"
    path.write_bytes(server.board.modem.identity_public_pem())
    return path


def audit_records(home: Path) -> list[dict[str, Any]]:
    return list(AuditLog.in_home(home).records())


def listed(xsudo: Run, port: str, tag: int) -> dict[str, str]:
    result = xsudo("cred", "list", "--port", port, "--tag", str(tag), "--json")
    assert result.code == 0, result.err
    return {row["type"]: row["sha"] for row in result.json()}


# -- keygen -------------------------------------------------------------------------------


def test_keygen_plain_checks_the_csr_and_verifies_the_cose_signature(
    xsudo: Run, board: Board, tmp_path: Path, isolated_env: Path
) -> None:
    server = board("nrf91x1-2.0")
    server.board.command(b"AT+CFUN=1")
    csr_file = tmp_path / "device.csr"
    result = xsudo(
        "cred", "keygen", "--port", server.path, "--tag", str(TAG),
        "--attributes", "O=Acme,CN=dev-1", "--csr-out", str(csr_file),
        "--identity-key", str(identity_file(server, tmp_path)), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["action"] == "generated" and report["auth"] == "plain"
    assert report["csr"]["subject"] == "CN=dev-1,O=Acme"
    assert report["cose"]["signature"] == "verified"
    assert report["cose"]["digest_matches"] and report["cose"]["sec_tag"] == TAG
    assert report["cose"]["device_uuid"] == str(server.board.modem.device_uuid)
    assert openssl_csr_ok(csr_file)
    pubkey = openssl("req", "-in", str(csr_file), "-pubkey", "-noout").stdout.encode()
    spki = serialization.load_pem_public_key(pubkey).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert report["public_key_fingerprint"] == hashlib.sha256(spki).hexdigest()
    stored = snapshot(server)[(TAG, 2)]
    assert listed(xsudo, server.path, TAG)["client-key"] == report["key_sha"]
    assert hashlib.sha256(stored).hexdigest().upper() == report["key_sha"]
    assert cfun(server) == 1
    records = [r for r in audit_records(isolated_env) if r["event"] == "keygen"]
    assert records[-1]["tag"] == TAG and records[-1]["result"] == "generated"
    assert records[-1]["cose_signature"] == "verified"
    assert records[-1]["public_key_fingerprint"] == report["public_key_fingerprint"]


def test_keygen_without_identity_key_says_the_signature_was_not_verified(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    server = board("nrf9160-1.3")
    csr_file = tmp_path / "device.der"
    result = xsudo(
        "cred", "keygen", "--port", server.path, "--tag", "7", "--csr-out", str(csr_file)
    )
    assert result.code == 0, result.err
    assert "signature:    NOT verified (no --identity-key given)" in result.out
    assert "COSE signature was not verified" in result.err
    assert f"subject:      CN={server.board.modem.device_uuid}" in result.out
    assert openssl_csr_ok(csr_file, "DER")
    assert csr_file.read_bytes()[:1] == b"\x30"


def test_keygen_never_replaces_a_key_unasked(xsudo: Run, board: Board) -> None:
    server = board()
    args = ("cred", "keygen", "--port", server.path, "--tag", "9", "--json")
    first = xsudo(*args)
    assert first.code == 0, first.err
    before = snapshot(server)
    refused = xsudo(*args)
    assert refused.code == 1
    assert "already holds a client key" in refused.err and "--replace" in refused.err
    assert snapshot(server) == before
    replaced = xsudo(*args, "--replace")
    assert replaced.code == 0, replaced.err
    assert replaced.json()["action"] == "replaced"
    assert replaced.json()["previous_sha"] == first.json()["key_sha"]
    assert replaced.json()["key_sha"] != first.json()["key_sha"]


@pytest.mark.parametrize("tag", ["4294967292", "2147483648"])
def test_keygen_refuses_reserved_tags_before_sending(xsudo: Run, tag: str) -> None:
    fake, _ = fake_board(lambda modem, line: modem.handle(line))
    with fake:
        result = xsudo("cred", "keygen", "--port", fake.url, "--tag", tag)
    assert result.code == 2
    assert "reserved" in result.err or "out of range" in result.err
    assert not [line for line in fake.received if b"KEYGEN" in line.upper()]
    assert not [line for line in fake.received if b"CFUN=" in line.upper()]


def test_keygen_on_locked_firmware_needs_xsudo(
    xsudo: Run, board: Board, isolated_env: Path
) -> None:
    server = board("locked")
    plain = xsudo("cred", "keygen", "--port", server.path, "--tag", str(TAG))
    assert plain.code == 1
    assert "+CME ERROR: 514" in plain.err and "requires authenticated access" in plain.err
    assert (TAG, 2) not in snapshot(server)
    assert xsudo("key", "generate", "factory").code == 0
    assert xsudo("device", "upload-key", "--port", server.path, "--key", "factory").code == 0
    signed = xsudo(
        "cred", "keygen", "--port", server.path, "--tag", str(TAG),
        "--key", "factory", "--auth", "required", "--json",
    )  # fmt: skip
    assert signed.code == 0, signed.err
    assert signed.json()["auth"] == "xsudo"
    assert (TAG, 2) in snapshot(server)
    records = audit_records(isolated_env)
    signs = [r for r in records if r["event"] == "sign" and r.get("command") == "%KEYGEN"]
    keygens = [r for r in records if r["event"] == "keygen"]
    assert signs and signs[-1]["key_name"] == "factory"
    assert keygens[0]["result"].startswith("failed") and keygens[0]["tag"] == TAG
    assert (
        keygens[-1]["auth"] == "xsudo"
        and keygens[-1]["signed_sha256"] == signs[-1]["signed_sha256"]
    )


# -- modem errors and bad replies (a scripted %KEYGEN in front of the simulator) ----------


def fake_board(keygen_answer: Callable[[Modem, bytes], bytes]) -> tuple[FakeDevice, Modem]:
    modem = Modem(SimOptions())

    def respond(line: bytes) -> Sequence[bytes]:
        if line.upper().startswith(b"AT%KEYGEN"):
            return (keygen_answer(modem, line),)
        return (modem.handle(line),)

    return FakeDevice(transport="pty", responder=respond), modem


def tampered_digest(modem: Modem, line: bytes) -> bytes:
    answer = modem.handle(line)
    body, _cose = answer.split(b'"')[1].split(b".")
    other = forge.b64url(forge.csr_der(forge.new_key())).encode()
    return answer.replace(body, other)


def other_tag(modem: Modem, line: bytes) -> bytes:
    return modem.handle(line.replace(b"=1000,", b"=1001,"))


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda m, line: b"+CME ERROR: 523\r\n", "key generation failed"),
        (lambda m, line: b"ERROR\r\n", "does not support %KEYGEN"),
        (tampered_digest, "COSE digest mismatch"),
        (other_tag, "names sec_tag 1001, not 1000"),
        (lambda m, line: b'%KEYGEN: "QUJD"\r\nOK\r\n', "separators"),
        (lambda m, line: b"OK\r\n", "without a %KEYGEN: line"),
    ],
)
def test_keygen_errors_and_bad_replies(
    xsudo: Run, answer: Callable[[Modem, bytes], bytes], message: str, isolated_env: Path
) -> None:
    fake, modem = fake_board(answer)
    modem.handle(b"AT+CFUN=1")
    with fake:
        result = xsudo("cred", "keygen", "--port", fake.url, "--tag", str(TAG))
    assert result.code == 1, result.err
    assert message in result.err
    assert result.err.count("\n") == 1  # one line, no traceback
    assert modem.volatile.cfun == 1  # restored after the failure
    failed = [r for r in audit_records(isolated_env) if r["event"] == "keygen"]
    assert failed and failed[-1]["result"].startswith("failed")


# -- ca create and issue ------------------------------------------------------------------


def create_ca(xsudo: Run, tmp_path: Path, name: str, store: str) -> Path:
    path = tmp_path / f"{name}.pem"
    result = xsudo("ca", "create", name, "--store", store, "--cn", f"{name} lab", "-o", str(path))
    assert result.code == 0, result.err
    assert "labs" in result.err
    return path


def no_plaintext_private_key_under(*roots: Path) -> bool:
    marker = re.compile(rb"-----BEGIN (EC )?PRIVATE KEY-----")
    return not any(
        marker.search(path.read_bytes())
        for root in roots
        for path in root.rglob("*")
        if path.is_file()
    )


@pytest.mark.parametrize("store", ["file", "keyring"])
def test_issue_with_a_lab_ca_from_the_key_store(
    xsudo: Run,
    board: Board,
    tmp_path: Path,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: str,
) -> None:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "lab passphrase for the test")
    ca_file = create_ca(xsudo, tmp_path, "labca", store)
    assert openssl("x509", "-in", str(ca_file), "-noout").returncode == 0
    server = board("nrf91x1-2.0", imei="352656100123456")
    server.board.command(b"AT+CFUN=1")
    cert_file = tmp_path / "client.pem"
    result = xsudo(
        "cred", "issue", "--port", server.path, "--tag", "2000", "--ca", str(ca_file),
        "--ca-key", "labca", "--days", "90", "--cn-from", "imei", "--cert-out",
        str(cert_file), "--identity-key", str(identity_file(server, tmp_path)), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert openssl_cert_ok(ca_file, cert_file)
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert cert.subject.rfc4514_string() == "CN=352656100123456"
    assert report["keygen"]["cose"]["signature"] == "verified"
    sha = hashlib.sha256(cert_file.read_bytes()).hexdigest().upper()
    assert report["write"]["sha"] == sha and report["write"]["action"] == "written"
    assert listed(xsudo, server.path, 2000) == {
        "client-cert": sha,
        "client-key": report["keygen"]["key_sha"],
    }
    assert snapshot(server)[(2000, 1)] == cert_file.read_bytes()
    assert cfun(server) == 1
    events = [(r["event"], r.get("tag")) for r in audit_records(isolated_env)]
    assert [e for e in events if e[1] == 2000] == [
        ("keygen", 2000),
        ("write", 2000),
        ("issue", 2000),
    ]
    issue_record = audit_records(isolated_env)[-1]
    assert issue_record["ca_key_name"] == "labca"
    assert issue_record["cert_serial"] == report["certificate"]["serial"]
    assert no_plaintext_private_key_under(isolated_env, tmp_path)


def test_issue_refuses_a_ca_that_does_not_match_its_key_before_touching_the_device(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    ca_file = create_ca(xsudo, tmp_path, "ca-one", "keyring")
    create_ca(xsudo, tmp_path, "ca-two", "keyring")
    server = board()
    before = snapshot(server)
    result = xsudo(
        "cred", "issue", "--port", server.path, "--tag", "5", "--ca", str(ca_file),
        "--ca-key", "ca-two",
    )  # fmt: skip
    assert result.code == 2
    assert "is not the public key of 'ca-two'" in result.err
    assert snapshot(server) == before
    assert server.board.commands_handled == 0


@pytest.mark.parametrize("profile", ["nrf91x1-2.0", "nrf9160-1.3"])
def test_issue_with_the_device_uuid_as_cn(
    xsudo: Run, board: Board, tmp_path: Path, profile: str
) -> None:
    ca_file = create_ca(xsudo, tmp_path, "labca", "keyring")
    server = board(profile)
    cert_file = tmp_path / "client.pem"
    result = xsudo(
        "cred", "issue", "--port", server.path, "--tag", "3", "--ca", str(ca_file),
        "--ca-key", "labca", "--cn-from", "uuid", "--cert-out", str(cert_file),
    )  # fmt: skip
    assert result.code == 0, result.err
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert cert.subject.rfc4514_string() == f"CN={server.board.modem.device_uuid}"
    assert "signature:    NOT verified" in result.out
    assert openssl_cert_ok(ca_file, cert_file)


def test_issue_refuses_an_existing_certificate_unasked(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    ca_file = create_ca(xsudo, tmp_path, "labca", "keyring")
    server = board()
    args = ("cred", "issue", "--port", server.path, "--tag", "4", "--ca", str(ca_file),
            "--ca-key", "labca")  # fmt: skip
    assert xsudo(*args).code == 0
    before = snapshot(server)
    again = xsudo(*args)
    assert again.code == 1 and "already holds a client certificate" in again.err
    assert snapshot(server) == before
    replaced = xsudo(*args, "--replace", "--json")
    assert replaced.code == 0, replaced.err
    assert replaced.json()["write"]["action"] == "replaced"


def test_ca_create_refuses_to_overwrite(xsudo: Run, tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_text("keep me")
    result = xsudo("ca", "create", "labca", "-o", str(path))
    assert result.code == 2 and path.read_text() == "keep me"
    assert xsudo("key", "list", "--json").json() == []
    printed = xsudo("ca", "create", "labca", "--days", "10")
    assert printed.code == 0
    cert = x509.load_pem_x509_certificate(printed.out.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


# -- attest -------------------------------------------------------------------------------


def test_attest_with_challenge_and_identity_key(xsudo: Run, board: Board, tmp_path: Path) -> None:
    server = board()
    server.board.command(b"AT+CFUN=1")
    before = snapshot(server)
    result = xsudo(
        "device", "attest", "--port", server.path, "--challenge", CHALLENGE,
        "--identity-key", str(identity_file(server, tmp_path)), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    token = result.json()
    assert token["nonce"] == CHALLENGE == token["challenge"]
    assert token["device_uuid"] == str(server.board.modem.device_uuid)
    assert token["firmware_uuid"] == str(server.board.modem.modem_uuid)
    assert token["message_type_name"] == "Device identity message v1"
    assert token["device_type_name"] == "nRF9161 LACA"
    assert token["cose"]["signature"] == "verified" and token["cose"]["detached_payload"] is True
    assert cfun(server) == 1 and snapshot(server) == before


def test_attest_without_key_says_not_verified(xsudo: Run, board: Board) -> None:
    server = board("nrf9160-1.3")
    result = xsudo("device", "attest", "--port", server.path)
    assert result.code == 0, result.err
    assert "signature:      NOT verified (no --identity-key given)" in result.out
    assert "(device-generated)" in result.out
    assert "device type:    NRF9160 SIAA (3)" in result.out
    assert "was not verified" in result.err
    assert cfun(server) == 0


def test_attest_bad_input_and_wrong_key(xsudo: Run, board: Board, tmp_path: Path) -> None:
    server, other = board(), board()
    for bad in ("1234", "zz" * 16, CHALLENGE + "00"):
        result = xsudo("device", "attest", "--port", server.path, "--challenge", bad)
        assert result.code == 2, bad
    wrong = xsudo(
        "device", "attest", "--port", server.path,
        "--identity-key", str(identity_file(other, tmp_path)),
    )  # fmt: skip
    assert wrong.code == 1 and "does not verify" in wrong.err
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    assert xsudo("device", "attest", "--port", server.path, "--identity-key", str(junk)).code == 2


# -- manifest issue -----------------------------------------------------------------------


def sim_url(tmp_path: Path, index: int, imei: str, profile: str = "nrf91x1-2.0") -> str:
    return f"sim://?profile={profile}&state={tmp_path}/m{index}.json&imei={imei}"


MANIFEST = """
[[credential]]
tag = 100
type = "ca-cert"
file = "{ca}"
[[credential]]
tag = 100
type = "client-cert"
issue = {{ ca = "{ca}", ca_key = "{key}", days = 30, cn_from = "imei" }}
"""


def test_manifest_issue_on_two_boards(xsudo: Run, tmp_path: Path) -> None:
    ca_file = create_ca(xsudo, tmp_path, "fleetca", "keyring")
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(MANIFEST.format(ca=ca_file.name, key="fleetca"))
    imeis = ["352656100000101", "352656100000102"]
    ports = [sim_url(tmp_path, 0, imeis[0]), sim_url(tmp_path, 1, imeis[1], "nrf9160-1.3")]
    report = tmp_path / "report.jsonl"
    result = xsudo(
        "provision", str(manifest), "--report", str(report), "--port", ports[0], "--port", ports[1]
    )
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    for index, (line, imei) in enumerate(zip(lines, imeis, strict=True)):
        assert line["ok"], line
        issued = line["results"][1]
        assert issued["action"] == "written" and issued["issued"]["subject"] == f"CN={imei}"
        nvm = load_nvm(tmp_path / f"m{index}.json")
        assert nvm is not None
        cert = tmp_path / f"cert{index}.pem"
        cert.write_bytes(nvm.credentials[(100, 1)])
        assert openssl_cert_ok(ca_file, cert)
        assert hashlib.sha256(cert.read_bytes()).hexdigest().upper() == issued["sha"]
        assert (100, 2) in nvm.credentials


def test_manifest_issue_is_validated_before_any_device_is_touched(
    xsudo: Run, tmp_path: Path
) -> None:
    ca_file = create_ca(xsudo, tmp_path, "ca-one", "keyring")
    create_ca(xsudo, tmp_path, "ca-two", "keyring")
    manifest = tmp_path / "fleet.toml"
    manifest.write_text(MANIFEST.format(ca=ca_file.name, key="ca-two"))
    result = xsudo("provision", str(manifest), "--port", sim_url(tmp_path, 0, "352656100000101"))
    assert result.code == 2
    assert "[[credential]] #2 issue" in result.err and "ca-two" in result.err
    assert not (tmp_path / "m0.json").exists()  # the board was never opened


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('type = "client-cert"\nfile = "x.pem"\nissue = { ca = "ca.pem", ca_key = "k" }',
         "both file and issue"),
        ('type = "ca-cert"\nissue = { ca = "ca.pem", ca_key = "k" }', "only for type client-cert"),
        ('type = "client-cert"\nissue = { ca = "ca.pem", ca_key = "k", cn-from = "imei" }',
         "unknown key"),
        ('type = "client-cert"\nissue = { ca = "ca.pem" }', "no 'ca_key'"),
        ('type = "client-cert"\nissue = { ca = "ca.pem", ca_key = "k", cn_from = "mac" }',
         "cn_from must be"),
        ('type = "client-cert"\nissue = { ca = "ca.pem", ca_key = "k", days = 0 }',
         "days must be"),
        ('type = "client-cert"\nissue = { ca = "ca.pem", ca_key = "k", attributes = "CN" }',
         "attributes"),
    ],
)  # fmt: skip
def test_manifest_issue_errors(xsudo: Run, tmp_path: Path, entry: str, problem: str) -> None:
    manifest = tmp_path / "bad.toml"
    manifest.write_text(f"[[credential]]\ntag = 1\n{entry}\n")
    result = xsudo("provision", str(manifest), "--port", "sim://")
    assert result.code == 2, result.err
    assert problem in result.err


def test_manifest_refuses_a_client_key_file_for_an_issued_tag(xsudo: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.toml"
    manifest.write_text(
        '[[credential]]\ntag = 1\ntype = "client-cert"\n'
        'issue = { ca = "ca.pem", ca_key = "k" }\n'
        '[[credential]]\ntag = 1\ntype = "client-key"\nfile = "key.pem"\n'
    )
    result = xsudo("provision", str(manifest), "--port", "sim://")
    assert result.code == 2 and "generates that key on the device" in result.err


def test_issue_with_a_ca_key_behind_an_external_signer_and_an_openssl_made_ca(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    key = tmp_path / "ext-ca.key"
    made_key = openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    assert made_key.returncode == 0, made_key.stderr
    public = tmp_path / "ext-ca.pub"
    assert openssl("pkey", "-in", str(key), "-pubout", "-out", str(public)).returncode == 0
    ca_file = tmp_path / "ext-ca.pem"
    made = openssl(
        "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=external CA", "-days", "5",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(ca_file),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    registered = xsudo(
        "key", "import-command", "extca", "--public-key", str(public),
        "--command", f"openssl pkeyutl -sign -inkey {key} -in",
    )  # fmt: skip
    assert registered.code == 0, registered.err
    server = board()
    cert_file = tmp_path / "client.pem"
    result = xsudo(
        "cred", "issue", "--port", server.path, "--tag", "6", "--ca", str(ca_file),
        "--ca-key", "extca", "--cert-out", str(cert_file), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert openssl_cert_ok(ca_file, cert_file)
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert (
        cert.not_valid_after_utc
        <= x509.load_pem_x509_certificate(ca_file.read_bytes()).not_valid_after_utc
    )
    assert result.json()["write"]["sha"] == listed(xsudo, server.path, 6)["client-cert"]


def test_issue_appends_the_device_to_an_nrf_cloud_onboarding_csv(
    xsudo: Run, board: Board, tmp_path: Path
) -> None:
    import csv

    ca_file = create_ca(xsudo, tmp_path, "labca", "keyring")
    onboard = tmp_path / "onboard.csv"
    for imei in ("352656100000101", "352656100000102"):
        server = board("nrf91x1-2.0", imei=imei)
        result = xsudo(
            "cred", "issue", "--port", server.path, "--tag", "7", "--ca", str(ca_file),
            "--ca-key", "labca", "--cn-from", "imei", "--onboarding-csv", str(onboard),
            "--tags", "line-3|batch-7",
        )  # fmt: skip
        assert result.code == 0, result.err
    rows = list(csv.reader(onboard.open(newline="")))
    assert [row[0] for row in rows] == ["352656100000101", "352656100000102"]
    assert rows[0][1:4] == ["", "line-3|batch-7", "APP|MODEM"]
    cert = x509.load_pem_x509_certificate(rows[1][4].encode())
    assert cert.subject.rfc4514_string() == "CN=352656100000102"
    bad = xsudo(
        "cred", "issue", "--port", server.path, "--tag", "8", "--ca", str(ca_file),
        "--ca-key", "labca", "--onboarding-csv", str(onboard), "--fw-types", "APP|TOASTER",
    )  # fmt: skip
    assert bad.code == 2 and "TOASTER" in bad.err
