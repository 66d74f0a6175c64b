"""Key metadata: the public half of every key, one JSON file per key, no secrets.

Layout: ``$XSUDO_HOME/keys/<name>.json`` holding ``version``, ``name``, ``store``,
``created`` (ISO-8601 UTC), ``fingerprint`` (hex SHA-256 of the SubjectPublicKeyInfo DER),
``public_key_pem`` and ``details`` (store-specific strings such as the key file name or the
keychain service/username). Reading a record checks that the PEM is P-256 and matches the
fingerprint, so a damaged file is reported instead of used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xsudo.crypto import fingerprint, load_public_key
from xsudo.errors import (
    BadInputError,
    InsecureStoreError,
    KeyNotFoundError,
    KeyStoreError,
    Remedy,
    XsudoError,
)
from xsudo.fileio import METADATA_LIMIT, InputFileMissing, read_input
from xsudo.keys.fsutil import create_private_file

METADATA_VERSION = 1
KEY_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class KeyRecord:
    """What the toolkit knows about a key without opening its secret."""

    name: str
    store: str
    fingerprint: str
    created: str
    public_key_pem: str
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object for this key (public data only, never secrets)."""
        return {
            "name": self.name,
            "store": self.store,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "public_key_pem": self.public_key_pem,
            "details": dict(self.details),
        }


def validate_key_name(name: str) -> str:
    """Return ``name`` if it is a valid key name, else raise :class:`BadInputError`.

    Valid: 1-64 characters from ``A-Z a-z 0-9 . _ -``, starting with a letter or digit.
    """
    if not KEY_NAME_PATTERN.fullmatch(name):
        shown = name if name.isprintable() else repr(name)
        raise BadInputError(
            f"invalid key name {shown!r}",
            "use 1-64 characters from A-Z a-z 0-9 . _ - starting with a letter or digit",
        )
    return name


def utc_now_iso() -> str:
    """The current time as ISO-8601 UTC with a ``Z`` suffix, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MetadataDir:
    """The directory of ``<name>.json`` metadata files (created on first write, mode 0700)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{validate_key_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def require_absent(self, name: str) -> None:
        """Raise :class:`KeyStoreError` if a key called ``name`` already exists."""
        if self.exists(name):
            raise KeyStoreError(
                f"a key named {name!r} already exists",
                "choose another name, or delete that key first",
                remedy=Remedy("choose-key-name", {"key": name}),
            )

    def read(self, name: str) -> KeyRecord:
        """The record of ``name``; :class:`KeyNotFoundError` if there is none, and
        :class:`KeyStoreError` for a file that is not a regular file of at most
        :data:`~xsudo.fileio.METADATA_LIMIT` bytes or is damaged."""
        path = self.path(name)
        try:
            data = read_input(path, "key metadata", limit=METADATA_LIMIT)
        except InputFileMissing:
            raise KeyNotFoundError(
                f"no key named {name!r}",
                f"check the name against the stored keys (KeyStore.list), or generate {name!r}",
                remedy=Remedy("list-keys", {"key": name}),
            ) from None
        except BadInputError as exc:
            raise KeyStoreError(exc.message, "restore it from a backup") from None
        _refuse_writable_by_others(path)
        record = _parse_record(data, path)
        if record.name != name:
            raise _damaged(path, f"it names key {record.name!r}")
        return record

    def write(self, record: KeyRecord) -> None:
        """Create the metadata file of ``record`` atomically; never overwrites."""
        payload = {"version": METADATA_VERSION, **record.to_json()}
        data = (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8")
        try:
            create_private_file(self.path(record.name), data)
        except FileExistsError:
            self.require_absent(record.name)
            raise
        except OSError as exc:
            raise KeyStoreError(
                f"cannot write key metadata for {record.name!r}: {exc.strerror}"
            ) from None

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()

    def names(self) -> list[str]:
        """Names of all keys with a metadata file, sorted."""
        if not self.directory.is_dir():
            return []
        found = (p.stem for p in self.directory.glob("*.json") if p.is_file())
        return sorted(n for n in found if KEY_NAME_PATTERN.fullmatch(n))


def _refuse_writable_by_others(path: Path) -> None:
    """Metadata can name a PKCS#11 module to load or a signer command to run, so a file or
    directory that group or others may write is refused (POSIX only)."""
    if os.name != "posix":  # pragma: no cover - Windows ACLs are not mode bits
        return
    for target in (path, path.parent):
        mode = target.stat().st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise InsecureStoreError(
                f"{target} is writable by group or others (mode {stat.S_IMODE(mode):o}); its "
                "key metadata could make xsudo load a module or run a command",
                f"restrict it: chmod go-w {target}",
            )


def _damaged(path: Path, why: str) -> KeyStoreError:
    return KeyStoreError(
        f"key metadata {path} is damaged ({why})",
        "restore it from a backup, or remove it and the key's secret",
    )


def _parse_record(data: bytes, path: Path) -> KeyRecord:
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _damaged(path, "not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise _damaged(path, "not JSON") from None
    if not isinstance(raw, Mapping):
        raise _damaged(path, "not a JSON object")
    fields = {}
    for key in ("name", "store", "fingerprint", "created", "public_key_pem"):
        value = raw.get(key)
        if not isinstance(value, str):
            raise _damaged(path, f"field {key!r} missing or not a string")
        fields[key] = value
    details = raw.get("details", {})
    if not isinstance(details, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in details.items()
    ):
        raise _damaged(path, "field 'details' is not an object of strings")
    try:
        public_key = load_public_key(fields["public_key_pem"].encode("ascii"))
    except (XsudoError, UnicodeEncodeError):
        raise _damaged(path, "public_key_pem is not a P-256 public key") from None
    if fingerprint(public_key) != fields["fingerprint"]:
        raise _damaged(path, "the fingerprint does not match the public key")
    return KeyRecord(details=dict(details), **fields)
