"""The key store: named P-256 keys, their public metadata, and backends for their secrets.

Contract:

* Metadata (public, no passphrase needed) lives in ``$XSUDO_HOME/keys/<name>.json``;
  :meth:`KeyStore.list`, :meth:`KeyStore.get` and :meth:`KeyStore.public_key` read only that.
* Secrets live in a backend (``keyring`` or ``file``, see :data:`STORE_NAMES`); a new key is
  saved to its backend first and its metadata written last, so a key that is listed has a
  secret. If writing the metadata fails, the secret is removed again.
* Two backends never release the key: ``pkcs11`` (a PKCS#11 token) and ``command`` (an
  external signer program). Keys that already live there are added with
  :meth:`KeyStore.register_existing` (the backend's own ``locate``/``describe`` finds them).
* Names match ``[A-Za-z0-9][A-Za-z0-9._-]{0,63}``; an existing name is never overwritten.
* Only EC P-256 keys are accepted.
* Creating a :class:`KeyStore` disables core dumps of the process
  (:func:`xsudo.hardening.disable_core_dumps`): it may come to hold private keys.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Mapping
from pathlib import Path

from xsudo import hardening
from xsudo.crypto import (
    PublicKey,
    fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
)
from xsudo.errors import BadInputError, InsecureStoreError, KeyStoreError, XsudoError
from xsudo.keys.backend import KeyBackend
from xsudo.keys.command_store import CommandKeyBackend
from xsudo.keys.file_store import FileKeyBackend
from xsudo.keys.keyring_store import KeyringKeyBackend
from xsudo.keys.passphrase import PassphraseSource
from xsudo.keys.pkcs11_store import Pkcs11Config, Pkcs11KeyBackend
from xsudo.keys.records import KeyRecord, MetadataDir, utc_now_iso, validate_key_name
from xsudo.signing import Signer

STORE_NAMES: tuple[str, ...] = ("keyring", "file", "pkcs11", "command")
KEYS_DIR = "keys"


def default_backends(
    home: Path,
    passphrase: PassphraseSource,
    *,
    pins: PassphraseSource | None = None,
    pkcs11: Pkcs11Config | None = None,
) -> dict[str, KeyBackend]:
    """The standard backends, by store name, in order of preference.

    ``pins`` is where PKCS#11 PINs come from (default: ``$XSUDO_PKCS11_PIN``, else a prompt on
    a terminal); ``pkcs11`` where new token keys go (default: ``$XSUDO_PKCS11_MODULE``). The
    ``file`` store is always usable, so ``pkcs11`` and ``command`` are never the default.
    """
    return {
        "keyring": KeyringKeyBackend(),
        "file": FileKeyBackend(home / KEYS_DIR, passphrase),
        "pkcs11": Pkcs11KeyBackend(pkcs11, pins),
        "command": CommandKeyBackend(),
    }


class KeyStore:
    """Named P-256 keys under ``home`` (``$XSUDO_HOME``).

    ``backends`` replaces the standard ones (tests, or a caller adding a PKCS#11 store); the
    first usable one in order is the default store.
    """

    def __init__(
        self,
        home: Path,
        passphrase: PassphraseSource | None = None,
        *,
        backends: Mapping[str, KeyBackend] | None = None,
    ) -> None:
        hardening.disable_core_dumps()  # this process may now come to hold private keys
        self.home = home
        self.passphrase = passphrase if passphrase is not None else PassphraseSource()
        self._backends = dict(
            backends if backends is not None else default_backends(home, self.passphrase)
        )
        self._meta = MetadataDir(home / KEYS_DIR)

    def default_store(self) -> tuple[str, str]:
        """The store a new key goes to when none is named, and why (one line)."""
        refusals: builtins.list[str] = []
        for name, backend in self._backends.items():
            usable, reason = backend.available()
            if usable:
                if refusals:
                    return name, f"{reason}, because {'; '.join(refusals)}"
                return name, reason
            refusals.append(f"the {name} store is unusable: {reason}")
        raise KeyStoreError("no key store is usable here", "; ".join(refusals))

    def check_new_name(self, name: str) -> None:
        """Raise the error :meth:`generate` would for ``name`` (invalid, or already used)."""
        validate_key_name(name)
        self._meta.require_absent(name)

    def generate(self, name: str, store: str | None = None) -> KeyRecord:
        """Create a new P-256 key called ``name`` in ``store`` (default: :meth:`default_store`)."""
        self.check_new_name(name)
        backend = self._backend_for_new(store)
        public, details = backend.generate(name)
        return self._register(name, backend, public, details)

    def import_key(
        self,
        name: str,
        data: bytes,
        store: str | None = None,
        source_password: bytes | None = None,
    ) -> KeyRecord:
        """Keep an existing P-256 private key (PEM or DER; PKCS#8, SEC1 or encrypted PKCS#8).

        ``source_password`` opens an encrypted ``data``; a wrong one raises
        :class:`~xsudo.errors.WrongPassphraseError`.
        """
        self.check_new_name(name)
        key = load_private_key(data, source_password)
        backend = self._backend_for_new(store)
        details = backend.store(name, key)
        return self._register(name, backend, key.public_key(), details)

    def register_existing(
        self, name: str, store: str, public: PublicKey, details: dict[str, str]
    ) -> KeyRecord:
        """Register a key whose secret already lives in ``store`` (a token key pair, an
        external signer): ``public`` and ``details`` come from that backend's own lookup.

        The name is checked as for :meth:`generate`; nothing is written to the backend.
        """
        self.check_new_name(name)
        return self._register(name, self._backend_for_new(store), public, details)

    def backend(self, store: str) -> KeyBackend:
        """The backend called ``store`` (:class:`BadInputError` if there is none)."""
        return self._backend_named(store)

    def list(self) -> builtins.list[KeyRecord]:
        """Every key, sorted by name."""
        return [self._meta.read(name) for name in self._meta.names()]

    def get(self, name: str) -> KeyRecord:
        """The record of ``name``; :class:`~xsudo.errors.KeyNotFoundError` if missing."""
        return self._meta.read(validate_key_name(name))

    def public_key(self, name: str) -> PublicKey:
        """The public key of ``name`` from its metadata (no passphrase, no keychain)."""
        return load_public_key(self.get(name).public_key_pem.encode("ascii"))

    def signer(self, name: str) -> Signer:
        """A signer for ``name``; its secret is opened on first use (or ``unlock()``)."""
        record = self.get(name)
        return self._backend_of(record).signer(record)

    def delete(self, name: str) -> None:
        """Remove the secret of ``name``, then its metadata."""
        record = self.get(name)
        self._backend_of(record).delete(record)
        self._meta.remove(record.name)

    def _backend_for_new(self, store: str | None) -> KeyBackend:
        if store is None:
            store, _reason = self.default_store()
        backend = self._backend_named(store)
        usable, reason = backend.available()
        if not usable:
            remedy_of = getattr(backend, "unavailable_remedy", None)  # optional member
            raise InsecureStoreError(
                f"the {store} store cannot be used: {reason}",
                f"use another store ({', '.join(n for n in self._backends if n != store)})",
                remedy=remedy_of() if callable(remedy_of) else None,
            )
        return backend

    def _backend_named(self, store: str) -> KeyBackend:
        backend = self._backends.get(store)
        if backend is None:
            raise BadInputError(
                f"unknown key store {store!r}", f"use one of: {', '.join(self._backends)}"
            )
        return backend

    def _backend_of(self, record: KeyRecord) -> KeyBackend:
        if record.store not in self._backends:
            raise KeyStoreError(
                f"key {record.name!r} is in store {record.store!r}, which this xsudo does not "
                "support",
                "use the xsudo version that created it",
            )
        return self._backends[record.store]

    def _register(
        self, name: str, backend: KeyBackend, public: PublicKey, details: dict[str, str]
    ) -> KeyRecord:
        record = KeyRecord(
            name=name,
            store=backend.name,
            fingerprint=fingerprint(public),
            created=utc_now_iso(),
            public_key_pem=public_key_pem(public),
            details=details,
        )
        try:
            self._meta.write(record)
        except BaseException:
            with contextlib.suppress(XsudoError):  # the original error matters more
                backend.delete(record)
            raise
        return record
