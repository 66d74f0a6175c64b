"""Turn a command body into a signed ``AT%XSUDO`` line, through any :class:`Signer`.

Contract (docs/design/contracts.md, C1): the signed bytes are the body exactly as it will be sent;
``data_len == len(body)``; every signature is verified against the signer's public key before
it is returned, so a faulty signer (HSM, external command) can never produce a line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from xsudo.command import (
    XsudoLine,
    check_body,
    check_slot,
    command_name,
    xsudo_line_for_checked_body,
)
from xsudo.crypto import PublicKey, fingerprint, verify_digest
from xsudo.encoding import Encoding, b64encode, encode, encode_der, encode_raw
from xsudo.errors import SignatureInvalid


class Signer(Protocol):
    """Anything that holds (or reaches) a P-256 private key and signs SHA-256 digests."""

    @property
    def name(self) -> str:
        """The key's name in the key store."""
        ...

    def public_key(self) -> PublicKey:
        """The matching public key."""
        ...

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        """ECDSA over a 32-byte SHA-256 digest; returns ``(r, s)``."""
        ...


@dataclass(frozen=True)
class SignedCommand:
    """A signed line and everything an auditor needs to check it."""

    xsudo: XsudoLine
    encoding: Encoding
    r: int
    s: int
    key_name: str
    key_fingerprint: str

    @property
    def line(self) -> str:
        """The whole line as text (``AT`` included, no terminator)."""
        return self.xsudo.render().decode("ascii")

    @property
    def body(self) -> bytes:
        return self.xsudo.body

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the signed bytes."""
        return hashlib.sha256(self.xsudo.body).hexdigest()

    @property
    def signature_der(self) -> bytes:
        return encode_der(self.r, self.s)

    @property
    def signature_raw(self) -> bytes:
        return encode_raw(self.r, self.s)

    def audit_fields(self) -> dict[str, str | int | None]:
        """What the audit log records for this signature (metadata only, never content)."""
        return {
            "key_name": self.key_name,
            "key_fingerprint": self.key_fingerprint,
            "command": command_name(self.body),
            "data_len": self.xsudo.data_len,
            "signed_sha256": self.sha256,
            "encoding": self.encoding,
            "slot": self.xsudo.slot,
        }

    def to_json(self) -> dict[str, Any]:
        """The ``xsudo sign --json`` object."""
        return {
            "line": self.line,
            "body": self.body.decode("ascii"),
            "data_len": self.xsudo.data_len,
            "slot": self.xsudo.slot,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "signature_b64": self.xsudo.signature_b64,
            "signature_der_hex": self.signature_der.hex(),
            "signature_raw_hex": self.signature_raw.hex(),
            "key_name": self.key_name,
            "key_fingerprint": self.key_fingerprint,
        }


SignedLine = SignedCommand
"""The public name of :class:`SignedCommand`: a signed ``AT%XSUDO`` line and its parts."""


def sign_command(
    body: bytes, signer: Signer, *, encoding: Encoding = "der", slot: int | None = None
) -> SignedCommand:
    """Sign ``body`` (the command without ``AT``, exact bytes) and build its ``AT%XSUDO`` line.

    Raises :class:`~xsudo.errors.CommandTextError` for a body the modem cannot take (or a
    slot out of range), checked once and before the signer is asked, and
    :class:`~xsudo.errors.SignatureInvalid` if the signer's output does not verify.
    """
    check_body(body)
    check_slot(slot)
    digest = hashlib.sha256(body).digest()
    r, s = signer.sign_digest(digest)
    public_key = signer.public_key()
    if not verify_digest(public_key, digest, r, s):
        raise SignatureInvalid(
            f"key {signer.name!r} produced a signature that does not verify against its public key",
            "the key store returned a different key than the one registered; check the key",
        )
    line = xsudo_line_for_checked_body(body, b64encode(encode(encoding, r, s)), slot)
    return SignedCommand(line, encoding, r, s, signer.name, fingerprint(public_key))
