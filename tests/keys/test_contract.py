"""The contract every key store backend passes, run once per store (keyring, file, pkcs11 on
SoftHSM2, command with the openssl CLI as the external signer).

Independent checks: keys come from the openssl CLI, fingerprints are computed with
``openssl pkey ... -outform DER | sha256sum``, signatures are verified with cryptography and
with ``openssl pkeyutl -verify``. Where a store lacks an operation (the command store cannot
generate or import private keys) the test is skipped with the reason, never passed.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.keys.conftest import (
    IMPORT_PASSPHRASE,
    OpensslKey,
    StoreHarness,
    openssl,
    openssl_fingerprint,
    sha256,
)
from xsudo.cli.hints import cli_text
from xsudo.crypto import public_key_der
from xsudo.errors import (
    BadInputError,
    KeyNotFoundError,
    KeyStoreError,
    WrongPassphraseError,
)
from xsudo.keys import KeyRecord

HEX64 = re.compile(r"[0-9a-f]{64}")


def verify_with_openssl(tmp: Path, public_pem: str, digest: bytes, der_sig: bytes) -> bool:
    (tmp / "pub.pem").write_text(public_pem)
    (tmp / "digest.bin").write_bytes(digest)
    (tmp / "sig.der").write_bytes(der_sig)
    try:
        out = openssl(
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(tmp / "pub.pem"),
            "-in",
            str(tmp / "digest.bin"),
            "-sigfile",
            str(tmp / "sig.der"),
        )
    except AssertionError:
        return False
    return b"Signature Verified Successfully" in out


def check_record(record: KeyRecord, name: str, kind: str) -> None:
    assert record.name == name
    assert record.store == kind
    assert HEX64.fullmatch(record.fingerprint)
    assert datetime.strptime(record.created, "%Y-%m-%dT%H:%M:%SZ")
    public = serialization.load_pem_public_key(record.public_key_pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)


def test_generate_list_show(harness: StoreHarness) -> None:
    harness.require("generate")
    store = harness.store()
    record = store.generate("dev1", harness.kind)
    check_record(record, "dev1", harness.kind)
    assert harness.secret_exists("dev1")
    assert store.get("dev1") == record
    assert store.list() == [record]
    second = store.generate("dev0", harness.kind)
    assert [r.name for r in store.list()] == ["dev0", "dev1"]
    assert second.fingerprint != record.fingerprint


@pytest.mark.parametrize("form", ["sec1_pem", "sec1_der", "pkcs8_pem", "pkcs8_der"])
def test_import_plain_formats(harness: StoreHarness, openssl_key: OpensslKey, form: str) -> None:
    harness.require("import")
    record = harness.store().import_key("imp", openssl_key.formats[form].read_bytes(), harness.kind)
    check_record(record, "imp", harness.kind)
    assert record.fingerprint == openssl_key.fingerprint


@pytest.mark.parametrize("form", ["enc_pkcs8_pem", "enc_pkcs8_der"])
def test_import_encrypted(harness: StoreHarness, openssl_key: OpensslKey, form: str) -> None:
    harness.require("import")
    data = openssl_key.encrypted[form].read_bytes()
    store = harness.store()
    for wrong in (b"not the passphrase", None):
        with pytest.raises(WrongPassphraseError) as caught:
            store.import_key("enc", data, harness.kind, wrong)
        assert caught.value.exit_code == 2
        assert "not the passphrase" not in str(caught.value)
    assert store.list() == []
    assert not harness.secret_exists("enc")
    record = store.import_key("enc", data, harness.kind, IMPORT_PASSPHRASE.encode())
    assert record.fingerprint == openssl_key.fingerprint


def test_export_matches_openssl(
    harness: StoreHarness, openssl_key: OpensslKey, tmp_path: Path
) -> None:
    store = harness.store()
    record = harness.import_pem(store, "exp", openssl_key.formats["pkcs8_pem"])
    exported = tmp_path / "exp.pub.pem"
    exported.write_text(record.public_key_pem)
    assert record.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert record.public_key_pem.endswith("-----END PUBLIC KEY-----\n")
    loaded = serialization.load_pem_public_key(exported.read_bytes())
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    assert public_key_der(loaded) == public_key_der(store.public_key("exp"))
    assert openssl_fingerprint(exported, public=True) == record.fingerprint
    assert openssl_fingerprint(exported, public=True) == openssl_key.fingerprint


def test_signatures_verify_with_cryptography_and_openssl(
    harness: StoreHarness, tmp_path: Path
) -> None:
    store = harness.store()
    record = harness.create(store, "signer")
    signer = store.signer("signer")
    assert signer.name == "signer"
    message = b'%CMNG=0,16842753,0,"test"'
    digest = sha256(message)
    r, s = signer.sign_digest(digest)
    der = utils.encode_dss_signature(r, s)
    public = serialization.load_pem_public_key(record.public_key_pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(der, message, ec.ECDSA(hashes.SHA256()))
    assert verify_with_openssl(tmp_path, record.public_key_pem, digest, der)
    other_digest = sha256(message + b" ")
    assert not verify_with_openssl(tmp_path, record.public_key_pem, other_digest, der)
    again = [signer.sign_digest(digest), harness.store().signer("signer").sign_digest(digest)]
    if harness.deterministic:
        # RFC 6979: the same digest gives the same signature, from any instance of the store.
        assert again == [(r, s), (r, s)]
    else:
        # Token and external-signer ECDSA draws a fresh nonce: new signatures, each valid.
        for r2, s2 in again:
            der2 = utils.encode_dss_signature(r2, s2)
            assert verify_with_openssl(tmp_path, record.public_key_pem, digest, der2)


def test_persistence_across_instances(harness: StoreHarness) -> None:
    first = harness.store()
    record = harness.create(first, "kept")
    second = harness.store()
    assert second.list() == [record]
    assert second.get("kept") == record
    r, s = second.signer("kept").sign_digest(sha256(b"x"))
    public = second.public_key("kept")
    public.verify(utils.encode_dss_signature(r, s), b"x", ec.ECDSA(hashes.SHA256()))


def test_delete(harness: StoreHarness) -> None:
    store = harness.store()
    harness.create(store, "gone")
    harness.create(store, "stays")
    store.delete("gone")
    # The command store only forgets: the external signer's key is not xsudo's to destroy.
    assert harness.secret_exists("gone") == (not harness.owns_secrets)
    assert harness.secret_exists("stays")
    assert [r.name for r in harness.store().list()] == ["stays"]
    for call in (store.get, store.public_key, store.signer, store.delete):
        with pytest.raises(KeyNotFoundError) as caught:
            call("gone")
        assert caught.value.exit_code == 2
    assert harness.create(store, "gone").name == "gone"


@pytest.mark.parametrize("name", ["", "-x", ".hidden", "a/b", "../up", "a b", "x" * 65, "é"])
def test_invalid_names_are_refused(harness: StoreHarness, name: str) -> None:
    store = harness.store()
    with pytest.raises(BadInputError, match="invalid key name"):
        store.generate(name, harness.kind)
    assert store.list() == []
    assert not (harness.home / "keys").exists() or not any((harness.home / "keys").iterdir())


def test_duplicate_names_are_refused(harness: StoreHarness, openssl_key: OpensslKey) -> None:
    store = harness.store()
    original = harness.create(store, "dup")
    with pytest.raises(KeyStoreError, match="already exists") as caught:
        store.generate("dup", harness.kind)
    assert "xsudo key delete dup" in cli_text(caught.value)
    with pytest.raises(KeyStoreError, match="already exists"):
        store.import_key("dup", openssl_key.formats["pkcs8_pem"].read_bytes(), harness.kind)
    other = "file" if harness.kind == "keyring" else "keyring"
    with pytest.raises(KeyStoreError, match="already exists"):
        store.generate("dup", other)
    assert store.get("dup") == original
    assert harness.store().signer("dup").public_key() == store.public_key("dup")


def test_metadata_never_needs_the_secret(harness: StoreHarness) -> None:
    harness.create(harness.store(), "meta")
    # A store that cannot open any secret: no passphrase or PIN anywhere, no keychain, the
    # external signer's key moved away.
    store = harness.locked_store()
    assert [r.name for r in store.list()] == ["meta"]
    assert store.get("meta").fingerprint
    assert store.public_key("meta")
    signer = store.signer("meta")
    assert signer.public_key() == store.public_key("meta")
    with pytest.raises(BadInputError, match=harness.locked_error):
        signer.sign_digest(sha256(b"needs the secret"))


def test_no_secret_in_metadata_or_json(harness: StoreHarness, openssl_key: OpensslKey) -> None:
    store = harness.store()
    record = harness.import_pem(store, "leak", openssl_key.formats["sec1_pem"])
    metadata = (harness.home / "keys" / "leak.json").read_text()
    exposed = metadata + json.dumps(record.to_json()) + repr(record)
    for marker in openssl_key.secret_markers():
        assert marker not in exposed
    if harness.kind == "file":
        stored = harness.stored_bytes("leak")
        assert bytes.fromhex(openssl_key.scalar_hex) not in stored
        assert openssl_key.formats["pkcs8_der"].read_bytes() not in stored


def test_tampered_secret_is_detected(harness: StoreHarness) -> None:
    store = harness.store()
    harness.create(store, "a")
    harness.create(store, "b")
    harness.swap_secrets("a", "b")
    with pytest.raises(
        KeyStoreError,
        match=r"does not match its registered public key|does not verify against the registered",
    ):
        harness.store().signer("a").sign_digest(sha256(b"m"))


def test_digest_must_be_32_bytes(harness: StoreHarness) -> None:
    store = harness.store()
    harness.create(store, "d")
    with pytest.raises(BadInputError, match="32 bytes"):
        store.signer("d").sign_digest(b"short")
