"""The file store unlocks a key file (its PBKDF2) once per process and key: more signers, key
stores or threads reuse the unlocked key; a wrong passphrase, a replaced file or a deleted key
are not waved through (module contract of :mod:`xsudo.keys.file_store`)."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.keys.conftest import FAST_ROUNDS
from xsudo.crypto import verify_digest
from xsudo.errors import WrongPassphraseError
from xsudo.keys import FileKeyBackend, KeyStore, PassphraseSource
from xsudo.keys.file_store import _unlocked, forget_unlocked_keys

PASSPHRASE = "unlock once passphrase"
DIGEST = hashlib.sha256(b"AT%CMNG=0,1,0").digest()


@pytest.fixture
def kdf_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every PKCS#12 decryption (the PBKDF2 of a key file) from now on."""
    forget_unlocked_keys()
    calls: list[int] = []
    real = pkcs12.load_key_and_certificates

    def counting(data: bytes, password: bytes | None, *args: Any) -> Any:
        calls.append(len(data))
        return real(data, password, *args)

    monkeypatch.setattr(pkcs12, "load_key_and_certificates", counting)
    return calls


def new_store(home: Path) -> KeyStore:
    source = PassphraseSource(interactive=False)
    backend = FileKeyBackend(home / "keys", source, kdf_rounds=FAST_ROUNDS)
    return KeyStore(home, source, backends={"file": backend})


@pytest.fixture
def home(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", PASSPHRASE)
    new_store(isolated_env).generate("k1", "file")
    return isolated_env


def signs(store: KeyStore, name: str) -> bool:
    signer = store.signer(name)
    r, s = signer.sign_digest(DIGEST)
    return verify_digest(signer.public_key(), DIGEST, r, s)


def test_signers_of_several_stores_share_one_unlock(home: Path, kdf_calls: list[int]) -> None:
    before = sorted(p.name for p in home.rglob("*"))
    assert all(signs(new_store(home), "k1") for _ in range(5))
    assert len(kdf_calls) == 1
    new_store(home).generate("k2", "file")
    assert signs(new_store(home), "k2") and signs(new_store(home), "k1")
    assert len(kdf_calls) == 2  # one per key
    after = sorted(p.name for p in home.rglob("*"))
    assert set(after) - set(before) == {"k2.json", "k2.p12"}  # nothing else reached the disk


def test_threads_opening_one_key_at_once_unlock_it_once(home: Path, kdf_calls: list[int]) -> None:
    start = threading.Barrier(8)

    def open_and_sign(_: int) -> bool:
        store = new_store(home)
        start.wait()
        return signs(store, "k1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(open_and_sign, range(8)))
    assert len(kdf_calls) == 1


def test_a_wrong_passphrase_is_refused_after_an_unlock(
    home: Path, kdf_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert signs(new_store(home), "k1")
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", "a wrong one")
    with pytest.raises(WrongPassphraseError):
        new_store(home).signer("k1").sign_digest(DIGEST)
    assert len(kdf_calls) == 2
    monkeypatch.setenv("XSUDO_KEY_PASSPHRASE", PASSPHRASE)
    assert signs(new_store(home), "k1")
    assert len(kdf_calls) == 2  # the right one is still remembered


def test_a_replaced_or_deleted_key_is_unlocked_again(home: Path, kdf_calls: list[int]) -> None:
    store = new_store(home)
    old = store.public_key("k1")
    assert signs(store, "k1")
    store.delete("k1")
    assert not _unlocked  # deleting the key drops it from memory too
    store.generate("k1", "file")  # a new key under the same name and file
    assert store.public_key("k1") != old
    assert signs(new_store(home), "k1")
    assert len(kdf_calls) == 2


def test_the_remembered_key_does_not_show_in_its_repr(home: Path, kdf_calls: list[int]) -> None:
    assert signs(new_store(home), "k1")
    (entry,) = _unlocked.values()
    assert repr(entry) == "_Unlocked(...)"
    assert PASSPHRASE.encode() not in repr(_unlocked).encode()
