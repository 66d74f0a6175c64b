"""One in-memory :class:`xsudo.signing.Signer` for tests: a private key held in the process,
no key store. Signatures are RFC 6979 deterministic (xsudo's own implementation, which the
vector tests check against published known answers)."""

from __future__ import annotations

from xsudo.crypto import PrivateKey, PublicKey, generate_private_key, sign_digest_deterministic


class MemorySigner:
    """Signs SHA-256 digests with ``key`` (a new P-256 key when omitted) under ``name``."""

    def __init__(self, key: PrivateKey | None = None, name: str = "test") -> None:
        self.key = key or generate_private_key()
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def public_key(self) -> PublicKey:
        return self.key.public_key()

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        return sign_digest_deterministic(self.key, digest)
