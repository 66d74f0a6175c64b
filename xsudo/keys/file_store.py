"""Store ``file``: each key in its own passphrase-encrypted PKCS#12 file.

Contract:

* ``$XSUDO_HOME/keys/<name>.p12``, mode 0600, created atomically (never a partial file), never
  overwritten. The key bag is PBES2 with PBKDF2-HMAC-SHA256 (600,000 rounds by default) and
  AES-256-CBC; the MAC is HMAC-SHA256.
* A key file that group or others may access is refused (the message gives the ``chmod 600``).
* A wrong passphrase raises :class:`WrongPassphraseError`; a damaged file says so.
* The passphrase comes from a :class:`~xsudo.keys.passphrase.PassphraseSource` and is asked
  only when a secret is written or opened.
* One unlock per process and key: the PBKDF2 of a key file runs once per process (and per
  passphrase), however many signers, key stores, credentials and boards use the key. The
  unlocked key object is kept in this process's memory only (never on disk, never logged),
  under the file's real path and the SHA-256 of its bytes, so a changed or replaced file is
  unlocked again. Every open still reads the file (its mode checked) and asks the passphrase
  source; a cached key is returned only for the same passphrase (compared through a salted
  SHA-256 kept with the key), so a wrong passphrase is still refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from xsudo.crypto import PrivateKey, require_p256_private
from xsudo.errors import InsecureStoreError, KeyStoreError, Remedy, WrongPassphraseError
from xsudo.fileio import KEY_FILE_LIMIT
from xsudo.keys.backend import LocalKeyBackend
from xsudo.keys.fsutil import create_private_file
from xsudo.keys.passphrase import PassphraseSource
from xsudo.keys.records import KeyRecord, validate_key_name

DEFAULT_KDF_ROUNDS = 600_000
FILE_SUFFIX = ".p12"


class FileKeyBackend(LocalKeyBackend):
    """Encrypted PKCS#12 key files in ``directory``.

    ``kdf_rounds`` exists so unit tests of unrelated logic can run fast; everything else uses
    the default.
    """

    def __init__(
        self,
        directory: Path,
        passphrase: PassphraseSource,
        *,
        kdf_rounds: int = DEFAULT_KDF_ROUNDS,
    ) -> None:
        if kdf_rounds < 1:
            raise ValueError("kdf_rounds must be positive")
        self.directory = directory
        self.passphrase = passphrase
        self.kdf_rounds = kdf_rounds

    @property
    def name(self) -> str:
        return "file"

    def available(self) -> tuple[bool, str]:
        return True, f"passphrase-encrypted PKCS#12 files under {self.directory}"

    def path_for(self, key_name: str) -> Path:
        return self.directory / f"{validate_key_name(key_name)}{FILE_SUFFIX}"

    def _save(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        path = self.path_for(key_name)
        if path.exists() or path.is_symlink():
            raise KeyStoreError(
                f"the key file {path} already exists, but xsudo has no key of that name",
                "choose another name, or move that file away first",
            )
        secret = self.passphrase.get(f"new passphrase for key {key_name!r}", confirm=True)
        data = pkcs12.serialize_key_and_certificates(
            f"xsudo:{key_name}".encode("ascii"), key, None, None, self._encryption(secret)
        )
        try:
            create_private_file(path, data)
        except FileExistsError:
            raise KeyStoreError(f"the key file {path} appeared while writing it") from None
        except OSError as exc:
            raise KeyStoreError(f"cannot write the key file {path}: {exc.strerror}") from None
        return {
            "file": path.name,
            "format": "pkcs12",
            "kdf": "pbkdf2-hmac-sha256",
            "kdf_rounds": str(self.kdf_rounds),
            "cipher": "aes-256-cbc",
        }

    def _encryption(self, secret: bytes) -> serialization.KeySerializationEncryption:
        return (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(self.kdf_rounds)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(secret)
        )

    def _load(self, record: KeyRecord) -> PrivateKey:
        path = self._record_path(record)
        data = read_private_file(path, record.name)
        secret = self.passphrase.get(f"passphrase for key {record.name!r}")
        slot = (os.path.realpath(path), hashlib.sha256(data).digest())
        with _unlock_lock:  # two threads opening one key: one KDF, the other waits for it
            cached = _unlocked.get(slot)
            if cached is not None and cached.opens_with(secret):
                return cached.key
            key = self._unlock(path, record, data, secret)
            _unlocked[slot] = _Unlocked.of(key, secret)
            return key

    def _unlock(self, path: Path, record: KeyRecord, data: bytes, secret: bytes) -> PrivateKey:
        """Decrypt ``data`` with ``secret``: the PBKDF2 run (module contract)."""
        try:
            key, _cert, _extra = pkcs12.load_key_and_certificates(data, secret)
        except ValueError:
            if not _is_pkcs12(data):
                raise KeyStoreError(
                    f"the key file {path} is damaged (not PKCS#12)", "restore it from a backup"
                ) from None
            raise WrongPassphraseError(
                f"wrong passphrase for key {record.name!r}",
                f"check the passphrase ({self.passphrase.describe()})",
                remedy=self.passphrase.remedy("check-passphrase"),
            ) from None
        if key is None:
            raise KeyStoreError(f"the key file {path} holds no private key")
        return require_p256_private(key)

    def delete(self, record: KeyRecord) -> None:
        path = self._record_path(record)
        forget_unlocked_keys(path)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise KeyStoreError(f"cannot delete the key file {path}: {exc.strerror}") from None

    def _record_path(self, record: KeyRecord) -> Path:
        file_name = record.details.get("file", f"{record.name}{FILE_SUFFIX}")
        if Path(file_name).name != file_name or file_name in ("", ".", ".."):
            raise KeyStoreError(
                f"the metadata of key {record.name!r} names an invalid key file {file_name!r}",
                "restore the metadata from a backup",
            )
        return self.directory / file_name


@dataclass(frozen=True)
class _Unlocked:
    """A key this process has unlocked, with a salted digest of the passphrase that did it."""

    key: PrivateKey
    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, key: PrivateKey, secret: bytes) -> _Unlocked:
        salt = os.urandom(16)
        return cls(key, salt, _passphrase_digest(salt, secret))

    def opens_with(self, secret: bytes) -> bool:
        return hmac.compare_digest(self.digest, _passphrase_digest(self.salt, secret))

    def __repr__(self) -> str:  # never the key, never the digest
        return "_Unlocked(...)"


def _passphrase_digest(salt: bytes, secret: bytes) -> bytes:
    return hmac.new(salt, secret, hashlib.sha256).digest()


_unlocked: dict[tuple[str, bytes], _Unlocked] = {}
"""Keys unlocked in this process, by (real path, SHA-256 of the file's bytes)."""
_unlock_lock = threading.Lock()


def forget_unlocked_keys(path: Path | None = None) -> None:
    """Drop the keys this process has unlocked from ``path`` (every key file when ``None``);
    the next open of that file runs the KDF again."""
    where = None if path is None else os.path.realpath(path)
    with _unlock_lock:
        for slot in [slot for slot in _unlocked if where is None or slot[0] == where]:
            del _unlocked[slot]


def _new_unlock_lock() -> None:
    """In a forked child: the parent's lock may have been held by a thread that is gone."""
    global _unlock_lock
    _unlock_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_unlock_lock)


def read_private_file(path: Path, key_name: str | None = None) -> bytes:
    """The bytes of a key file (of key ``key_name``), refusing one that group or others may
    access.

    Checks the opened file itself (``fstat``), so the check and the read see the same file.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_NOCTTY"):  # a FIFO must not hang the open
        flags |= getattr(os, name, 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise KeyStoreError(
            f"the key file {path} is missing",
            "restore it from a backup, or delete the key",
            remedy=Remedy("delete-key", {"key": key_name}),
        ) from None
    except OSError as exc:
        raise KeyStoreError(f"cannot open the key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InsecureStoreError(f"the key file {path} is not a regular file")
        if os.name == "posix" and info.st_mode & 0o077:
            raise InsecureStoreError(
                f"the key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                f"restrict it with: chmod 600 {path}",
            )
        data = handle.read(KEY_FILE_LIMIT + 1)
        if len(data) > KEY_FILE_LIMIT:
            raise InsecureStoreError(
                f"the key file {path} is larger than {KEY_FILE_LIMIT} bytes; it is not a key "
                "file xsudo wrote"
            )
        return data


def _is_pkcs12(data: bytes) -> bool:
    """True when ``data`` parses as a PKCS#12 PFX structure (whatever the passphrase)."""
    try:
        len(asn1_pkcs12.Pfx.load(data, strict=True).authenticated_safe)
    except (ValueError, TypeError, KeyError):
        return False
    return True
