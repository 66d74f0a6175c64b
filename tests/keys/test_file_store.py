"""The encrypted-file store: permissions, atomic creation, the real KDF parameters, passphrases."""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto.cms import EncryptedData
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.keys.conftest import (
    FAST_ROUNDS,
    fast_store,
    openssl,
    openssl_fingerprint,
    sha256,
    write_secret,
)
from xsudo.cli.hints import cli_text
from xsudo.errors import BadInputError, InsecureStoreError, KeyStoreError, WrongPassphraseError
from xsudo.keys import DEFAULT_KDF_ROUNDS, KeyStore, PassphraseSource, fsutil, records

PASS = "file store pass"


@pytest.fixture
def home(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", PASS)
    return isolated_env


def key_file(home: Path, name: str) -> Path:
    return home / "keys" / f"{name}.p12"


def leftovers(home: Path) -> list[str]:
    keys = home / "keys"
    return sorted(p.name for p in keys.iterdir()) if keys.exists() else []


def test_files_are_private(home: Path) -> None:
    fast_store(home).generate("k", "file")
    assert stat.S_IMODE(os.stat(key_file(home, "k")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home / "keys" / "k.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home / "keys").st_mode) == 0o700
    assert leftovers(home) == ["k.json", "k.p12"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_key_file_open_to_others_is_refused(home: Path, mode: int) -> None:
    store = fast_store(home)
    store.generate("k", "file")
    path = key_file(home, "k")
    os.chmod(path, mode)
    with pytest.raises(InsecureStoreError) as caught:
        store.signer("k").sign_digest(sha256(b"m"))
    assert f"chmod 600 {path}" in str(caught.value)
    assert f"{mode:04o}" in str(caught.value)
    assert caught.value.exit_code == 2
    os.chmod(path, 0o600)
    assert store.signer("k").sign_digest(sha256(b"m"))


def test_symlinked_key_file_is_refused(home: Path) -> None:
    store = fast_store(home)
    store.generate("k", "file")
    path = key_file(home, "k")
    real = home / "elsewhere.p12"
    path.rename(real)
    path.symlink_to(real)
    with pytest.raises(KeyStoreError, match="cannot open the key file"):
        store.signer("k").sign_digest(sha256(b"m"))


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_creation_is_atomic(home: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    def fail(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(KeyStoreError, match=r"cannot write the key file.*No space left"):
        fast_store(home).generate("k", "file")
    monkeypatch.undo()
    assert leftovers(home) == []
    assert fast_store(home).list() == []


def test_failed_metadata_write_removes_the_key_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_create = fsutil.create_private_file

    def create(path: Path, data: bytes) -> None:
        if path.suffix == ".json":
            raise OSError(errno.EIO, "Input/output error")
        real_create(path, data)

    monkeypatch.setattr(records, "create_private_file", create)
    with pytest.raises(KeyStoreError, match="cannot write key metadata"):
        fast_store(home).generate("k", "file")
    assert leftovers(home) == []


def test_existing_unregistered_key_file_is_not_overwritten(home: Path) -> None:
    (home / "keys").mkdir(parents=True)
    key_file(home, "k").write_bytes(b"precious")
    with pytest.raises(KeyStoreError, match="already exists"):
        fast_store(home).generate("k", "file")
    assert key_file(home, "k").read_bytes() == b"precious"


def pbes2_parameters(p12: bytes) -> tuple[int, str, str]:
    """(PBKDF2 iterations, PRF, cipher) of the shrouded key bag, read with asn1crypto."""
    pfx = asn1_pkcs12.Pfx.load(p12)
    found = []
    for content_info in pfx.authenticated_safe:
        content = content_info["content"]
        if isinstance(content, EncryptedData):  # certificates; there are none here
            continue
        for bag in asn1_pkcs12.SafeContents.load(content.native):
            if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                algorithm = bag["bag_value"]["encryption_algorithm"]
                assert algorithm["algorithm"].native == "pbes2"
                kdf = algorithm["parameters"]["key_derivation_func"]
                assert kdf["algorithm"].native == "pbkdf2"
                found.append(
                    (
                        kdf["parameters"]["iteration_count"].native,
                        kdf["parameters"]["prf"]["algorithm"].native,
                        algorithm["parameters"]["encryption_scheme"]["algorithm"].native,
                    )
                )
    assert len(found) == 1
    return found[0]


def test_real_default_parameters_are_written(home: Path, tmp_path: Path) -> None:
    """The default store (no round override): PBKDF2 >= 600,000 rounds, AES-256, checked in the
    file itself with asn1crypto and with openssl. One real-default open (the signature)."""
    store = KeyStore(home, PassphraseSource(interactive=False))
    record = store.generate("real", "file")
    assert record.details["kdf_rounds"] == str(DEFAULT_KDF_ROUNDS)
    data = key_file(home, "real").read_bytes()
    iterations, prf, cipher = pbes2_parameters(data)
    assert iterations >= 600_000
    assert prf == "sha256"
    assert cipher == "aes256_cbc"
    info = openssl_info(key_file(home, "real"))
    match = re.search(r"Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration (\d+)", info)
    assert match and int(match.group(1)) >= 600_000, info
    assert "MAC: sha256" in info
    # openssl opens it with the passphrase and finds the registered key.
    pem = openssl(
        "pkcs12",
        "-in",
        str(key_file(home, "real")),
        "-nocerts",
        "-nodes",
        "-passin",
        "env:P12_PASS",
        env={"P12_PASS": PASS},
    )
    (tmp_path / "opened.pem").write_bytes(pem)
    assert openssl_fingerprint(tmp_path / "opened.pem", public=False) == record.fingerprint
    r, s = store.signer("real").sign_digest(sha256(b"real default"))
    public = store.public_key("real")
    public.verify(utils.encode_dss_signature(r, s), b"real default", ec.ECDSA(hashes.SHA256()))


def openssl_info(path: Path) -> str:
    """``openssl pkcs12 -info -noout`` (it reports the structure on stderr)."""
    return subprocess.run(
        ["openssl", "pkcs12", "-info", "-noout", "-in", str(path), "-passin", "env:P12_PASS"],
        env={**os.environ, "P12_PASS": PASS},
        capture_output=True,
        text=True,
        check=True,
    ).stderr


def test_wrong_passphrase(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast_store(home).generate("k", "file")
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "wrong horse")
    with pytest.raises(WrongPassphraseError, match="wrong passphrase for key 'k'") as caught:
        fast_store(home).signer("k").sign_digest(sha256(b"m"))
    assert caught.value.exit_code == 2
    assert "wrong horse" not in str(caught.value)
    assert PASS not in str(caught.value)


def test_damaged_and_missing_files(home: Path) -> None:
    store = fast_store(home)
    store.generate("k", "file")
    path = key_file(home, "k")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(KeyStoreError, match="is damaged"):
        store.signer("k").sign_digest(sha256(b"m"))
    path.unlink()
    with pytest.raises(KeyStoreError, match="is missing"):
        store.signer("k").sign_digest(sha256(b"m"))


def test_passphrase_from_file_wins_over_env(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "pass.txt"
    write_secret(secret_file, "from a file\n")
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "from the environment")
    fast_store(home, PassphraseSource(secret_file, interactive=False)).generate("k", "file")
    monkeypatch.delenv("XSUDO_KEY_PASSPHRASE")
    by_file = fast_store(home, PassphraseSource(secret_file, interactive=False))
    assert by_file.signer("k").sign_digest(sha256(b"m"))
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "from a file")
    assert fast_store(home).signer("k").sign_digest(sha256(b"m"))


def test_no_passphrase_and_no_terminal(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XSUDO_KEY_PASSPHRASE")
    with pytest.raises(BadInputError) as caught:
        fast_store(home).generate("k", "file")
    message = str(caught.value)
    assert "no terminal" in message
    assert "XSUDO_KEY_PASSPHRASE" in message and "passphrase_file" in message
    assert "--passphrase-file" in cli_text(caught.value)
    assert leftovers(home) == []


def test_empty_passphrase_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "")
    with pytest.raises(BadInputError, match="XSUDO_KEY_PASSPHRASE is set but empty"):
        fast_store(home).generate("k", "file")
    assert leftovers(home) == []


def test_fast_rounds_are_recorded(home: Path) -> None:
    record = fast_store(home).generate("k", "file")
    assert record.details["kdf_rounds"] == str(FAST_ROUNDS)
    assert pbes2_parameters(key_file(home, "k").read_bytes())[0] == FAST_ROUNDS
