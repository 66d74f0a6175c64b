"""Fixtures for the key store tests: key material made by the openssl CLI, and one harness per
store so a single contract suite runs against every backend.

The contract suite builds the file store with a low PBKDF2 round count (:data:`FAST_ROUNDS`):
the round count is unrelated to what that suite checks, and the real default (600,000) is
checked on its own in ``test_file_store.py`` and through the real CLI in ``test_cli.py``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.support import memory_keyring
from xsudo.keys import FileKeyBackend, KeyringKeyBackend, KeyStore, PassphraseSource

FAST_ROUNDS = 1000
STORE_PASSPHRASE = "contract pass phrase \u00e9"
IMPORT_PASSPHRASE = "import-pass 42"


def openssl(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run the openssl CLI; return stdout (raise with its stderr on failure)."""
    result = subprocess.run(
        ["openssl", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout


def openssl_fingerprint(key_file: Path, *, public: bool) -> str:
    """``openssl pkey [-pubin] -outform DER | sha256sum`` of ``key_file``, as hex."""
    mode = "-pubin" if public else "-pubout"
    out = subprocess.run(
        ["sh", "-c", f'openssl pkey {mode} -in "$1" -outform DER | sha256sum', "sh", key_file],
        capture_output=True,
        check=True,
    ).stdout
    return out.split()[0].decode("ascii")


@dataclass(frozen=True)
class OpensslKey:
    """One P-256 key written by openssl in every format ``xsudo key import`` takes."""

    formats: dict[str, Path]
    encrypted: dict[str, Path]
    fingerprint: str
    scalar_hex: str
    pkcs8_der_b64: str

    def secret_markers(self) -> list[str]:
        """Strings that must never show up outside the secret store."""
        body = b"".join(self.formats["pkcs8_pem"].read_bytes().splitlines()[1:-1]).decode()
        return [self.scalar_hex, self.pkcs8_der_b64, body[:40], "PRIVATE KEY"]


@pytest.fixture(scope="session")
def openssl_key(tmp_path_factory: pytest.TempPathFactory) -> OpensslKey:
    d = tmp_path_factory.mktemp("openssl-key")
    sec1_pem = d / "sec1.pem"
    sec1_pem.write_bytes(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
    formats = {
        "sec1_pem": sec1_pem,
        "sec1_der": d / "sec1.der",
        "pkcs8_pem": d / "pkcs8.pem",
        "pkcs8_der": d / "pkcs8.der",
    }
    formats["sec1_der"].write_bytes(openssl("ec", "-in", str(sec1_pem), "-outform", "DER"))
    formats["pkcs8_pem"].write_bytes(openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(sec1_pem)))
    formats["pkcs8_der"].write_bytes(
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", str(sec1_pem), "-outform", "DER")
    )
    env = {"IMPORT_PW": IMPORT_PASSPHRASE}
    encrypted = {"enc_pkcs8_pem": d / "enc.pem", "enc_pkcs8_der": d / "enc.der"}
    for name, form in (("enc_pkcs8_pem", "PEM"), ("enc_pkcs8_der", "DER")):
        encrypted[name].write_bytes(
            openssl(
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                str(sec1_pem),
                "-passout",
                "env:IMPORT_PW",
                "-outform",
                form,
                env=env,
            )
        )
    key = serialization.load_pem_private_key(sec1_pem.read_bytes(), None)
    scalar = key.private_numbers().private_value  # type: ignore[union-attr]
    return OpensslKey(
        formats=formats,
        encrypted=encrypted,
        fingerprint=openssl_fingerprint(sec1_pem, public=False),
        scalar_hex=f"{scalar:064x}",
        pkcs8_der_b64=base64.b64encode(formats["pkcs8_der"].read_bytes()).decode(),
    )


@pytest.fixture(scope="session")
def foreign_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Keys xsudo must refuse, by the name the error has to mention."""
    d = tmp_path_factory.mktemp("foreign-keys")
    made = {
        "secp384r1": openssl("ecparam", "-name", "secp384r1", "-genkey", "-noout"),
        "secp256k1": openssl("ecparam", "-name", "secp256k1", "-genkey", "-noout"),
        "RSA": openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"),
        "Ed25519": openssl("genpkey", "-algorithm", "ED25519"),
    }
    paths = {}
    for label, pem in made.items():
        paths[label] = d / f"{label}.pem"
        paths[label].write_bytes(pem)
    return paths


@dataclass
class StoreHarness:
    """A key store whose new keys go to one backend, plus ways to look behind it."""

    kind: str
    home: Path
    make: Callable[[], KeyStore]

    def store(self) -> KeyStore:
        """A fresh KeyStore instance over the same home and secrets."""
        return self.make()

    def secret_exists(self, name: str) -> bool:
        if self.kind == "keyring":
            return ("xsudo", name) in memory_keyring.entries()
        return (self.home / "keys" / f"{name}.p12").exists()

    def swap_secrets(self, a: str, b: str) -> None:
        """Put the secret of ``b`` where the secret of ``a`` is (a store tampered with)."""
        if self.kind == "keyring":
            entries = memory_keyring.entries()
            entries[("xsudo", a)] = entries[("xsudo", b)]
            return
        keys = self.home / "keys"
        (keys / f"{a}.p12").write_bytes((keys / f"{b}.p12").read_bytes())

    def stored_bytes(self, name: str) -> bytes:
        """What the backend holds for ``name`` (the encrypted file, or the keychain value)."""
        if self.kind == "keyring":
            return memory_keyring.entries()[("xsudo", name)].encode()
        return (self.home / "keys" / f"{name}.p12").read_bytes()


def fast_store(home: Path, passphrase: PassphraseSource | None = None) -> KeyStore:
    """A KeyStore with the configured keyring and a file store at :data:`FAST_ROUNDS`."""
    source = passphrase if passphrase is not None else PassphraseSource(interactive=False)
    return KeyStore(
        home,
        source,
        backends={
            "keyring": KeyringKeyBackend(interactive=False),
            "file": FileKeyBackend(home / "keys", source, kdf_rounds=FAST_ROUNDS),
        },
    )


@pytest.fixture(params=["keyring", "file"])
def harness(
    request: pytest.FixtureRequest, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> StoreHarness:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", STORE_PASSPHRASE)
    kind: str = request.param
    return StoreHarness(kind, isolated_env, lambda: fast_store(isolated_env))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
