"""Key names and metadata files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.keys.conftest import fast_store
from xsudo.errors import BadInputError, KeyStoreError
from xsudo.keys import KeyRecord, validate_key_name
from xsudo.keys.records import KEY_NAME_PATTERN, MetadataDir

DIRECTORY = Path("/nonexistent/xsudo/keys")


@given(st.from_regex(KEY_NAME_PATTERN, fullmatch=True))
def test_valid_names_stay_inside_the_keys_directory(name: str) -> None:
    assert validate_key_name(name) == name
    path = MetadataDir(DIRECTORY).path(name)
    assert path.parent == DIRECTORY
    assert path.name == f"{name}.json"


@given(st.text(max_size=80).filter(lambda n: not KEY_NAME_PATTERN.fullmatch(n)))
def test_other_names_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(BadInputError) as caught:
        validate_key_name(name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["a", "A9", "dev-1.prod_2", "x" * 64, "9"])
def test_examples_of_valid_names(name: str) -> None:
    assert validate_key_name(name) == name


def test_record_json_is_public_only() -> None:
    record = KeyRecord("n", "file", "ab" * 32, "2024-01-01T00:00:00Z", "PEM", {"file": "n.p12"})
    assert record.to_json() == {
        "name": "n",
        "store": "file",
        "fingerprint": "ab" * 32,
        "created": "2024-01-01T00:00:00Z",
        "public_key_pem": "PEM",
        "details": {"file": "n.p12"},
    }


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda m: "{not json", "not JSON"),
        (lambda m: json.dumps([m]), "not a JSON object"),
        (lambda m: json.dumps({**m, "fingerprint": "00" * 32}), "fingerprint does not match"),
        (lambda m: json.dumps({**m, "name": "other"}), "names key 'other'"),
        (lambda m: json.dumps({**m, "store": 7}), "'store' missing or not a string"),
        (lambda m: json.dumps({**m, "public_key_pem": "junk"}), "not a P-256 public key"),
        (lambda m: json.dumps({**m, "details": {"a": 1}}), "not an object of strings"),
    ],
)
def test_damaged_metadata_is_reported(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, change: object, why: str
) -> None:
    store = fast_store(isolated_env)
    store.generate("k", "keyring")
    path = isolated_env / "keys" / "k.json"
    path.write_text(change(json.loads(path.read_text())))  # type: ignore[operator]
    with pytest.raises(KeyStoreError, match="is damaged") as caught:
        store.get("k")
    assert why in str(caught.value)
    with pytest.raises(KeyStoreError):
        store.list()


def test_metadata_file_layout(isolated_env: Path) -> None:
    record = fast_store(isolated_env).generate("k", "keyring")
    stored = json.loads((isolated_env / "keys" / "k.json").read_text())
    assert stored == {"version": 1, **record.to_json()}
    assert stored["details"] == {
        "service": "xsudo",
        "username": "k",
        "backend": "tests.support.memory_keyring.MemoryKeyring",
        "format": "pkcs8-der-base64",
    }


def test_stray_files_are_not_keys(isolated_env: Path) -> None:
    store = fast_store(isolated_env)
    store.generate("k", "keyring")
    keys = isolated_env / "keys"
    (keys / ".k.json.1234.tmp").write_text("partial")
    (keys / "notes.txt").write_text("hello")
    (keys / "-bad.json").write_text("{}")
    assert [r.name for r in store.list()] == ["k"]


def test_metadata_writable_by_others_is_refused(tmp_path: Path) -> None:
    """Metadata can name a PKCS#11 module or a signer command: others must not edit it."""
    import os

    from xsudo.errors import InsecureStoreError
    from xsudo.keys import KeyStore, PassphraseSource

    store = KeyStore(tmp_path, PassphraseSource(interactive=False))
    store.generate("alpha", store="keyring")
    meta = tmp_path / "keys" / "alpha.json"
    os.chmod(meta, 0o620)
    with pytest.raises(InsecureStoreError, match="chmod go-w"):
        store.get("alpha")
    os.chmod(meta, 0o600)
    os.chmod(meta.parent, 0o777)
    with pytest.raises(InsecureStoreError):
        store.get("alpha")
    os.chmod(meta.parent, 0o700)
    assert store.get("alpha").name == "alpha"


@pytest.mark.timeout(30)
def test_metadata_that_is_special_huge_or_not_utf8_is_one_line(isolated_env: Path) -> None:
    """Metadata goes through the capped reader: a FIFO does not hang, a huge file is not
    read, and bytes that are not UTF-8 are reported as damage, not a traceback."""
    import os

    store = fast_store(isolated_env)
    store.generate("k", "keyring")
    path = isolated_env / "keys" / "k.json"
    path.unlink()
    os.mkfifo(path, 0o600)
    with pytest.raises(KeyStoreError, match=r"is a FIFO \(named pipe\)") as caught:
        store.get("k")
    assert "\n" not in str(caught.value)
    path.unlink()
    with path.open("wb") as handle:
        handle.truncate(64 * 1024 + 1)
    path.chmod(0o600)
    with pytest.raises(KeyStoreError, match="is larger than 65536 bytes"):
        store.get("k")
    path.write_bytes(b'{"name": "k\xff"}')
    with pytest.raises(KeyStoreError, match=r"is damaged \(not UTF-8 text\)"):
        store.get("k")
    path.write_bytes(b"[" * 60_000)
    with pytest.raises(KeyStoreError, match=r"is damaged \(not JSON\)"):
        store.get("k")
