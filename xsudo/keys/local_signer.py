"""A :class:`~xsudo.signing.Signer` over a private key held by this process.

The secret is opened lazily (on :meth:`LocalSigner.unlock` or the first
:meth:`LocalSigner.sign_digest`), checked against the key's registered fingerprint, and then
kept in memory for this signer's lifetime. Signatures are RFC 6979 deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

from xsudo.crypto import (
    PrivateKey,
    PublicKey,
    fingerprint,
    load_public_key,
    sign_digest_deterministic,
)
from xsudo.errors import BadInputError, KeyStoreError
from xsudo.keys.records import KeyRecord

DIGEST_SIZE = 32


class LocalSigner:
    """Signs SHA-256 digests with the key of ``record``, opened by ``opener`` when needed."""

    def __init__(self, record: KeyRecord, opener: Callable[[], PrivateKey]) -> None:
        self._record = record
        self._opener = opener
        self._public_key = load_public_key(record.public_key_pem.encode("ascii"))
        self._private_key: PrivateKey | None = None

    @property
    def name(self) -> str:
        return self._record.name

    def public_key(self) -> PublicKey:
        return self._public_key

    def unlock(self) -> None:
        """Open the secret now (asking for a passphrase if the store needs one)."""
        self._key()

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """Deterministic ECDSA (RFC 6979) over a 32-byte SHA-256 ``digest``."""
        if len(digest) != DIGEST_SIZE:
            raise BadInputError(
                f"a SHA-256 digest is {DIGEST_SIZE} bytes, got {len(digest)}",
                "hash the message with SHA-256 first",
            )
        return sign_digest_deterministic(self._key(), digest)

    def _key(self) -> PrivateKey:
        if self._private_key is None:
            key = self._opener()
            if fingerprint(key.public_key()) != self._record.fingerprint:
                raise KeyStoreError(
                    f"the secret stored for key {self.name!r} does not match its registered "
                    "public key",
                    "the store holds a different key under this name; do not use it to sign",
                )
            self._private_key = key
        return self._private_key
