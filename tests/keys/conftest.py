"""Fixtures for the key store tests: key material made by the openssl CLI, and one harness per
store so a single contract suite runs against every backend.

The contract suite builds the file store with a low PBKDF2 round count (:data:`FAST_ROUNDS`):
the round count is unrelated to what that suite checks, and the real default (600,000) is
checked on its own in ``test_file_store.py`` and through the real CLI in ``test_cli.py``.

Stores ``pkcs11`` and ``command`` run the same suite: ``pkcs11`` against a fresh SoftHSM2
token per test (``tests/keys/softhsm.py``), ``command`` with ``openssl_signer.sh`` (the
openssl CLI signing with keys the harness makes). The command store cannot create or import
private keys, so for it :meth:`StoreHarness.create` makes the key with openssl and registers
the signer, and the tests of ``generate``/``import`` themselves are skipped with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.keys.softhsm import TOKEN_LABEL, USER_PIN, SoftHsm, softhsm  # noqa: F401
from tests.support import memory_keyring
from tests.support.boards import board, xsudo  # noqa: F401  (end-to-end HSM tests)
from xsudo.crypto import load_public_key
from xsudo.keys import (
    PKCS11_PIN_ENV,
    CommandKeyBackend,
    FileKeyBackend,
    KeyRecord,
    KeyringKeyBackend,
    KeyStore,
    PassphraseSource,
    Pkcs11Config,
    Pkcs11KeyBackend,
    SignerCommand,
)

FAST_ROUNDS = 1000
STORE_PASSPHRASE = "contract pass phrase \u00e9"
IMPORT_PASSPHRASE = "import-pass 42"
SIGNER_SCRIPT = Path(__file__).resolve().parent / "openssl_signer.sh"


def write_secret(path: Path, content: str | bytes) -> Path:
    """Write a passphrase or PIN file as a user should: mode 0600 (others are refused)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    path.chmod(0o600)
    return path


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


def signer_argv(mode: str, key_file: Path) -> tuple[str, ...]:
    """The command-store argv of ``openssl_signer.sh`` in ``mode`` with ``key_file``."""
    extra = (sys.executable,) if mode == "raw" else ()
    return ("sh", str(SIGNER_SCRIPT), mode, str(key_file), *extra)


def register_command_key(
    store: KeyStore,
    name: str,
    key_file: Path,
    *,
    mode: str = "der",
    public_from: Path | None = None,
    timeout: float = 30.0,
) -> KeyRecord:
    """Register ``openssl_signer.sh MODE key_file`` as key ``name`` in the command store, with
    the public key of ``public_from`` (default: ``key_file``) as openssl derives it."""
    public = load_public_key(openssl("pkey", "-in", str(public_from or key_file), "-pubout"))
    command = SignerCommand(signer_argv(mode, key_file), timeout)
    backend = store.backend("command")
    assert isinstance(backend, CommandKeyBackend)
    return store.register_existing(name, "command", public, backend.describe(command))


# Operations a store does not have, and why (the contract tests of them are skipped).
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("command", "generate"): (
        "the command store cannot create keys: the external signer owns its key "
        "(xsudo key generate --store command is refused, see test_command_store.py)"
    ),
    ("command", "import"): (
        "the command store holds no private keys, so there is no private-key file format "
        "to import (refusal tested in test_command_store.py)"
    ),
}


@dataclass
class StoreHarness:
    """A key store whose new keys go to one backend, plus ways to look behind it."""

    kind: str
    home: Path
    make: Callable[[], KeyStore]
    hsm: SoftHsm | None = None
    signer_keys: Path | None = None
    locked_error: str = r"no passphrase|no OS keychain"
    deterministic: bool = True
    owns_secrets: bool = True

    def store(self) -> KeyStore:
        """A fresh KeyStore instance over the same home and secrets."""
        return self.make()

    def require(self, operation: str) -> None:
        """Skip the test when this store has no ``operation`` (with the reason why)."""
        reason = NOT_APPLICABLE.get((self.kind, operation))
        if reason is not None:
            pytest.skip(reason)

    def create(self, store: KeyStore, name: str) -> KeyRecord:
        """A new key ``name`` in this harness's store: ``generate``, or for the command store
        an openssl key behind ``openssl_signer.sh``."""
        if self.kind != "command":
            return store.generate(name, self.kind)
        assert self.signer_keys is not None
        store.check_new_name(name)
        key_file = self.signer_keys / f"{name}.pem"
        key_file.write_bytes(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"))
        return register_command_key(store, name, key_file)

    def import_pem(self, store: KeyStore, name: str, key_file: Path) -> KeyRecord:
        """Key ``name`` from the private key file ``key_file``: imported, or for the command
        store signed by openssl from that file."""
        if self.kind != "command":
            return store.import_key(name, key_file.read_bytes(), self.kind)
        return register_command_key(store, name, key_file)

    def secret_exists(self, name: str) -> bool:
        if self.kind == "keyring":
            return ("xsudo", name) in memory_keyring.entries()
        if self.kind == "pkcs11":
            assert self.hsm is not None
            return name in self.hsm.private_labels()
        if self.kind == "command":
            assert self.signer_keys is not None
            return (self.signer_keys / f"{name}.pem").exists()
        return (self.home / "keys" / f"{name}.p12").exists()

    def swap_secrets(self, a: str, b: str) -> None:
        """Put the secret of ``b`` where the secret of ``a`` is (a store tampered with)."""
        if self.kind == "keyring":
            entries = memory_keyring.entries()
            entries[("xsudo", a)] = entries[("xsudo", b)]
            return
        if self.kind == "pkcs11":
            assert self.hsm is not None
            self.hsm.swap(a, b)
            return
        keys = self.signer_keys if self.kind == "command" else self.home / "keys"
        assert keys is not None
        suffix = ".pem" if self.kind == "command" else ".p12"
        (keys / f"{a}{suffix}").write_bytes((keys / f"{b}{suffix}").read_bytes())

    def stored_bytes(self, name: str) -> bytes:
        """What the backend holds for ``name`` (the encrypted file, or the keychain value)."""
        if self.kind == "keyring":
            return memory_keyring.entries()[("xsudo", name)].encode()
        return (self.home / "keys" / f"{name}.p12").read_bytes()

    def locked_store(self) -> KeyStore:
        """A store over the same metadata that cannot reach any secret: no passphrase or PIN
        anywhere, no keychain, and the command signer's keys moved away."""
        from keyring.backends import fail

        no_secret = PassphraseSource(interactive=False, env_var="XSUDO_TEST_UNSET")
        no_pin = PassphraseSource(interactive=False, env_var="XSUDO_TEST_UNSET")
        if self.signer_keys is not None and self.signer_keys.exists():
            self.signer_keys.rename(self.signer_keys.with_name("moved-away"))
        config = self.hsm_config()
        return KeyStore(
            self.home,
            no_secret,
            backends={
                "keyring": KeyringKeyBackend(backend=fail.Keyring(), interactive=False),
                "file": FileKeyBackend(self.home / "keys", no_secret),
                "pkcs11": Pkcs11KeyBackend(config, no_pin),
                "command": CommandKeyBackend(),
            },
        )

    def hsm_config(self) -> Pkcs11Config:
        if self.hsm is None:
            return Pkcs11Config()
        return Pkcs11Config(module=self.hsm.module, token_label=TOKEN_LABEL)


def fast_store(
    home: Path,
    passphrase: PassphraseSource | None = None,
    *,
    pkcs11: Pkcs11Config | None = None,
) -> KeyStore:
    """A KeyStore with the configured keyring, a file store at :data:`FAST_ROUNDS`, a pkcs11
    store configured by ``pkcs11`` (PIN from ``$XSUDO_PKCS11_PIN``) and the command store."""
    source = passphrase if passphrase is not None else PassphraseSource(interactive=False)
    pins = PassphraseSource(interactive=False, env_var=PKCS11_PIN_ENV, file_param="pin_file")
    return KeyStore(
        home,
        source,
        backends={
            "keyring": KeyringKeyBackend(interactive=False),
            "file": FileKeyBackend(home / "keys", source, kdf_rounds=FAST_ROUNDS),
            "pkcs11": Pkcs11KeyBackend(pkcs11 or Pkcs11Config(), pins),
            "command": CommandKeyBackend(),
        },
    )


@pytest.fixture(params=["keyring", "file", "pkcs11", "command"])
def harness(
    request: pytest.FixtureRequest,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> StoreHarness:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", STORE_PASSPHRASE)
    kind: str = request.param
    if kind == "pkcs11":
        hsm: SoftHsm = request.getfixturevalue("softhsm")
        hsm.init_token(TOKEN_LABEL)
        monkeypatch.setenv(PKCS11_PIN_ENV, USER_PIN)
        config = Pkcs11Config(module=hsm.module, token_label=TOKEN_LABEL)
        return StoreHarness(
            kind,
            isolated_env,
            lambda: fast_store(isolated_env, pkcs11=config),
            hsm=hsm,
            locked_error=r"no PIN of PKCS#11 token",
            deterministic=False,
        )
    if kind == "command":
        signer_keys = tmp_path / "signer-keys"
        signer_keys.mkdir()
        return StoreHarness(
            kind,
            isolated_env,
            lambda: fast_store(isolated_env),
            signer_keys=signer_keys,
            locked_error=r"the signer command .* failed \(exit status 1\)",
            deterministic=False,
            owns_secrets=False,
        )
    return StoreHarness(kind, isolated_env, lambda: fast_store(isolated_env))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
