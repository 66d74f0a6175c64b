"""Store ``command``: an external signer program, here ``openssl_signer.sh`` (the openssl CLI).

Independent checks: the signer is the openssl CLI, signatures are checked with
``openssl pkeyutl -verify``, the digest the command received is compared with ``hashlib``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import utils

from tests.keys.conftest import (
    SIGNER_SCRIPT,
    fast_store,
    openssl,
    register_command_key,
    sha256,
    signer_argv,
)
from tests.keys.test_contract import verify_with_openssl
from tests.support.boards import Result
from xsudo.cli.hints import cli_text
from xsudo.encoding import SignatureFormatError
from xsudo.errors import BadInputError, KeyStoreError
from xsudo.keys import KeyStore, SignerCommand, SignerCommandError
from xsudo.keys.command_store import parse_signature_output
from xsudo.signing import sign_command

Run = Callable[..., Result]
BODY = b'%CMNG=0,7,0,"hello"'


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "signer-key.pem"
    path.write_bytes(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    return path


@pytest.fixture
def other_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "other-key.pem"
    path.write_bytes(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    return path


@pytest.fixture
def store(isolated_env: Path) -> KeyStore:
    return fast_store(isolated_env)


def public_pem(key_file: Path) -> str:
    return openssl("pkey", "-in", str(key_file), "-pubout").decode()


# --- output formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["der", "raw", "base64"])
def test_accepted_output_formats_sign_verifiable_lines(
    store: KeyStore, key_file: Path, tmp_path: Path, mode: str
) -> None:
    register_command_key(store, "ext", key_file, mode=mode)
    signed = sign_command(BODY, store.signer("ext"))
    assert signed.line.endswith(";" + BODY.decode())
    assert signed.xsudo.data_len == len(BODY)
    digest = hashlib.sha256(BODY).digest()
    assert verify_with_openssl(tmp_path, public_pem(key_file), digest, signed.signature_der)


def test_garbage_output_is_refused(store: KeyStore, key_file: Path) -> None:
    register_command_key(store, "ext", key_file, mode="garbage")
    with pytest.raises(SignerCommandError, match="printed no signature xsudo accepts") as caught:
        store.signer("ext").sign_digest(sha256(BODY))
    assert caught.value.exit_code == 2
    assert "24 bytes starting 0x74686973" in str(caught.value)


def test_a_signature_by_another_key_is_caught(
    store: KeyStore, key_file: Path, other_key_file: Path
) -> None:
    register_command_key(store, "ext", other_key_file, public_from=key_file)
    with pytest.raises(
        SignerCommandError,
        match="the signer command returned a signature that does not verify against the "
        "registered public key",
    ):
        sign_command(BODY, store.signer("ext"))


def test_a_failing_command_shows_its_first_stderr_line(store: KeyStore, key_file: Path) -> None:
    register_command_key(store, "ext", key_file, mode="fail")
    digest = sha256(BODY)
    with pytest.raises(SignerCommandError) as caught:
        store.signer("ext").sign_digest(digest)
    message = str(caught.value)
    assert "failed (exit status 1): vault: permission denied (403)" in message
    assert "second line" not in message
    assert digest.hex() not in message and base64.b64encode(digest).decode() not in message
    assert "\n" not in message


# Without the process-group kill, xsudo would wait for the grandchild's 60 s sleep (it holds
# stdout open): the timeout mark turns that into a failure.
@pytest.mark.timeout(30)
def test_a_hanging_command_is_killed_with_its_children(
    store: KeyStore, tmp_path: Path, key_file: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    register_command_key(store, "slow", pid_file, mode="hang", public_from=key_file, timeout=1)
    with pytest.raises(SignerCommandError, match=r"did not finish within 1 s and was stopped"):
        store.signer("slow").sign_digest(sha256(BODY))
    # The grandchild (sleep 60) held stdout open; xsudo returned only after it died. It may be
    # a zombie until init reaps it, but it is not running.
    sleeper = int(pid_file.read_text())
    try:
        state = Path(f"/proc/{sleeper}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("Z", "X", "gone")


def test_digest_file_is_private_exact_and_removed(
    store: KeyStore, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSUDO_PKCS11_PIN", "pin-that-must-not-leak")
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "passphrase-that-must-not-leak")
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:8200")
    register_command_key(store, "ext", key_file, mode="inspect")
    sign_command(BODY, store.signer("ext"))
    file_mode, dir_mode = key_file.with_name(key_file.name + ".mode").read_text().split()
    assert (file_mode, dir_mode) == ("600", "700")
    assert key_file.with_name(key_file.name + ".digest").read_bytes() == sha256(BODY)
    used = Path(key_file.with_name(key_file.name + ".path").read_text())
    assert used.name == "digest.bin"
    assert not used.exists() and not used.parent.exists()
    env = key_file.with_name(key_file.name + ".env").read_text()
    assert "VAULT_ADDR=http://127.0.0.1:8200" in env  # the signer's own settings pass
    assert "must-not-leak" not in env  # xsudo's secrets do not


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("der", lambda der, raw: der),
        ("raw", lambda der, raw: raw),
        ("b64-der-lf", lambda der, raw: base64.b64encode(der) + b"\n"),
        ("b64-raw-crlf", lambda der, raw: base64.b64encode(raw) + b"\r\n"),
        ("b64-der-bare", lambda der, raw: base64.b64encode(der)),
    ],
)
def test_parse_accepts(name: str, make: Callable[[bytes, bytes], bytes]) -> None:
    r, s = 0x1234 << 200, 0x5678 << 190
    der = utils.encode_dss_signature(r, s)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert parse_signature_output(make(der, raw)) == (r, s)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("empty", lambda der, raw: b""),
        ("der-newline", lambda der, raw: der + b"\n"),
        ("der-trailing", lambda der, raw: der + b"\x00"),
        ("raw-65", lambda der, raw: raw + b"\n"),
        ("raw-63", lambda der, raw: raw[:63]),
        ("b64-two-lines", lambda der, raw: base64.encodebytes(der + der)),
        ("b64-unpadded", lambda der, raw: base64.b64encode(der).rstrip(b"=") + b"\n"),
        ("b64-two-newlines", lambda der, raw: base64.b64encode(der) + b"\n\n"),
        ("b64-urlsafe", lambda der, raw: base64.urlsafe_b64encode(b"\xfb" + der[1:])),
        ("hex", lambda der, raw: der.hex().encode() + b"\n"),
        ("ber-long-length", lambda der, raw: b"\x30\x81" + der[1:]),
        ("huge", lambda der, raw: der * 100),
    ],
)
def test_parse_refuses(name: str, make: Callable[[bytes, bytes], bytes]) -> None:
    r, s = 0x1234 << 200, 0x5678 << 190
    der = utils.encode_dss_signature(r, s)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(SignatureFormatError):
        parse_signature_output(make(der, raw))


# --- registration and metadata ----------------------------------------------------------------


def test_command_parsing_and_metadata(store: KeyStore, key_file: Path) -> None:
    command = SignerCommand.parse(f"sh '{SIGNER_SCRIPT}' der \"{key_file}\"", 12.5)
    assert command.argv == signer_argv("der", key_file)
    record = register_command_key(store, "ext", key_file)
    assert json.loads(record.details["argv"]) == list(signer_argv("der", key_file))
    assert record.details["timeout"] == "30"
    assert SignerCommand.of(store.get("ext")) == SignerCommand(signer_argv("der", key_file))
    for bad in ("", "   ", "sh 'unbalanced"):
        with pytest.raises(BadInputError):
            SignerCommand.parse(bad)
    for timeout in (0, -1, 3601):
        with pytest.raises(BadInputError, match="out of range"):
            SignerCommand.parse("true", timeout)


def test_damaged_metadata_is_reported(store: KeyStore, key_file: Path, isolated_env: Path) -> None:
    register_command_key(store, "ext", key_file)
    path = isolated_env / "keys" / "ext.json"
    data = json.loads(path.read_text())
    data["details"]["argv"] = '"sh -c whatever"'
    path.write_text(json.dumps(data))
    with pytest.raises(KeyStoreError, match="does not hold a valid signer command"):
        store.signer("ext")


def test_generate_and_import_are_refused(store: KeyStore, key_file: Path) -> None:
    with pytest.raises(KeyStoreError, match="cannot generate keys") as caught:
        store.generate("k1", "command")
    assert "xsudo key import-command k1" in cli_text(caught.value)
    with pytest.raises(KeyStoreError, match="keeps no private keys"):
        store.import_key("k2", key_file.read_bytes(), "command")
    assert store.list() == []


# --- the CLI ----------------------------------------------------------------------------------


def command_line(mode: str, key: Path) -> str:
    return f"sh {SIGNER_SCRIPT} {mode} {key}"


def test_cli_import_command_sign_verify_delete(
    xsudo: Run, key_file: Path, other_key_file: Path, tmp_path: Path
) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_text(public_pem(key_file))
    wrong = xsudo(
        "key",
        "import-command",
        "ext",
        "--command",
        command_line("der", other_key_file),
        "--public-key",
        str(pub),
    )
    assert wrong.code == 2 and "does not verify against the registered public key" in wrong.err
    assert xsudo("key", "list", "--json").json() == []
    done = xsudo(
        "key",
        "import-command",
        "ext",
        "--command",
        command_line("base64", key_file),
        "--public-key",
        str(pub),
        "--timeout",
        "5",
        "--json",
    )
    assert done.code == 0, done.err
    assert "signed a test digest and the signature verifies" in done.err
    record = done.json()
    assert record["store"] == "command"
    assert record["details"]["timeout"] == "5"
    assert record["details"]["command"] == command_line("base64", key_file)
    signed = xsudo("sign", "--key", "ext", BODY.decode())
    assert signed.code == 0, signed.err
    verdict = xsudo("verify", "--key", "ext", signed.out.strip())
    assert (verdict.code, verdict.out) == (0, "valid\n")
    refused = xsudo("key", "generate", "k9", "--store", "command")
    assert refused.code == 2 and "import-command k9" in refused.err
    gone = xsudo("key", "delete", "ext", "--yes")
    assert gone.code == 0 and "not touched" in gone.err
    assert key_file.exists()


@pytest.mark.timeout(30)
def test_cli_registration_errors(xsudo: Run, key_file: Path, tmp_path: Path) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_text(public_pem(key_file))
    missing = xsudo(
        "key",
        "import-command",
        "x",
        "--command",
        "/no/such/signer --flag",
        "--public-key",
        str(pub),
    )
    assert missing.code == 2
    assert missing.err.count("\n") == 1 and "'/no/such/signer' was not found" in missing.err
    quotes = xsudo("key", "import-command", "x", "--command", "sh 'oops", "--public-key", str(pub))
    assert quotes.code == 2 and "cannot split the signer command" in quotes.err
    hung = xsudo(
        "key",
        "import-command",
        "x",
        "--command",
        f"sh {SIGNER_SCRIPT} hang {tmp_path / 'pid'}",
        "--public-key",
        str(pub),
        "--timeout",
        "1",
    )
    assert hung.code == 2 and "did not finish within 1 s" in hung.err
    unchecked = xsudo(
        "key",
        "import-command",
        "x",
        "--command",
        command_line("garbage", key_file),
        "--public-key",
        str(pub),
        "--no-check",
    )
    assert unchecked.code == 0, unchecked.err
    failing = xsudo("sign", "--key", "x", BODY.decode())
    assert failing.code == 2 and "printed no signature xsudo accepts" in failing.err
    assert failing.out == ""


def test_registration_refuses_a_program_that_is_not_executable(
    store: KeyStore, tmp_path: Path
) -> None:
    script = tmp_path / "signer"
    script.write_text("#!/bin/sh\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    backend = store.backend("command")
    describe = backend.describe
    with pytest.raises(BadInputError, match="is not executable"):
        describe(SignerCommand((str(script),)))
    assert os.access(SIGNER_SCRIPT, os.R_OK)
