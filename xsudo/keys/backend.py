"""The seam every key store backend plugs into, and the shared half of local backends.

A backend keeps the secret half of keys; :class:`~xsudo.keys.store.KeyStore` keeps the public
half (metadata). A backend that holds keys this process may read (keyring, encrypted file)
derives from :class:`LocalKeyBackend` and implements only ``_save`` and ``_load``; a backend
that never releases the key (PKCS#11, an external command) implements :class:`KeyBackend`
directly and returns its own :class:`~xsudo.signing.Signer`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from xsudo.crypto import PrivateKey, PublicKey, generate_private_key
from xsudo.keys.local_signer import LocalSigner
from xsudo.keys.records import KeyRecord
from xsudo.signing import Signer


class KeyBackend(Protocol):
    """Where the secret half of a key lives.

    ``details`` returned by :meth:`generate`/:meth:`store` are saved in the key's metadata and
    passed back (in the record) to :meth:`signer` and :meth:`delete`; they must hold no secret.
    """

    @property
    def name(self) -> str:
        """The store name users type (``--store NAME``)."""
        ...

    def available(self) -> tuple[bool, str]:
        """Whether the backend can keep secrets safely here, and a one-line reason."""
        ...

    def generate(self, key_name: str) -> tuple[PublicKey, dict[str, str]]:
        """Create a new P-256 key called ``key_name``; return its public key and details."""
        ...

    def store(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        """Keep an existing private key as ``key_name``; return the details."""
        ...

    def signer(self, record: KeyRecord) -> Signer:
        """A signer for the key of ``record`` (may open the secret lazily)."""
        ...

    def delete(self, record: KeyRecord) -> None:
        """Remove the secret of ``record``; a secret already gone is not an error."""
        ...


class LocalKeyBackend(ABC):
    """Shared logic of backends whose secret this process reads into memory to sign."""

    @property
    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def available(self) -> tuple[bool, str]: ...

    @abstractmethod
    def _save(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        """Persist ``key`` as a new secret; refuse to replace an existing one."""

    @abstractmethod
    def _load(self, record: KeyRecord) -> PrivateKey:
        """Read the secret of ``record`` back (P-256 checked)."""

    @abstractmethod
    def delete(self, record: KeyRecord) -> None: ...

    def generate(self, key_name: str) -> tuple[PublicKey, dict[str, str]]:
        key = generate_private_key()
        return key.public_key(), self._save(key_name, key)

    def store(self, key_name: str, key: PrivateKey) -> dict[str, str]:
        return self._save(key_name, key)

    def signer(self, record: KeyRecord) -> LocalSigner:
        return LocalSigner(record, lambda: self._load(record))
