"""Decode and check a ``%KEYGEN`` reply: ``<base64url(CSR or key)>.<base64url(COSE_Sign1)>``.

:func:`decode_keygen` checks everything that needs no key: base64url, the COSE_Sign1
structure and algorithm (ES256), the payload shape, that the payload's digest equals
SHA-256 of the body as received, and the CSR itself (:func:`xsudo.tokens.csr.load_csr`).
The COSE signature needs the device identity key: :func:`xsudo.tokens.cose.check_signature`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from xsudo.crypto import PublicKey, fingerprint, load_public_key
from xsudo.errors import BadInputError, XsudoError
from xsudo.tokens import b64url
from xsudo.tokens.cose import CoseSign1, SignatureCheck, check_signature, parse_sign1
from xsudo.tokens.csr import CsrInfo, load_csr
from xsudo.tokens.errors import TokenError
from xsudo.tokens.payload import PAYLOAD_CSR, PAYLOAD_PUBKEY, TokenPayload, parse_payload


@dataclass(frozen=True)
class KeygenReply:
    """A checked ``%KEYGEN`` reply. ``csr`` is set for a CSR (format 0); ``public_key`` is
    the generated key either way."""

    body: bytes
    cose: CoseSign1
    payload: TokenPayload
    public_key: PublicKey
    csr: CsrInfo | None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def verify(self, identity_key: PublicKey | None) -> SignatureCheck:
        """Check the COSE signature with the device identity key (see
        :func:`~xsudo.tokens.cose.check_signature`)."""
        return check_signature(self.cose, identity_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "public_key_fingerprint": self.fingerprint,
            "csr": None
            if self.csr is None
            else {
                "subject": self.csr.subject.rfc4514_string(),
                "sha256": self.csr.sha256,
                "normalised": self.csr.quirk is not None,
                "quirk": self.csr.quirk,
            },
            "cose": {
                "alg": "ES256",
                "kid": self.cose.kid_name,
                "digest_matches": True,
                **self.payload.to_json(),
            },
        }


def check_digest(payload: TokenPayload, body: bytes, what: str) -> None:
    """The payload's digest must be SHA-256 of ``body`` as received."""
    actual = hashlib.sha256(body).digest()
    if payload.digest != actual:
        raise TokenError(
            f"COSE digest mismatch: the signed payload carries SHA-256 {payload.digest.hex()}, "
            f"but the {what} received hashes to {actual.hex()}",
            "the reply was altered on the way; retry",
        )


def decode_keygen(text: str) -> KeygenReply:
    """Decode and check a ``%KEYGEN`` reply (the text between the quotes)."""
    body, cose_bytes = b64url.split_reply(text, "KEYGEN")
    cose = parse_sign1(cose_bytes, "the KEYGEN COSE_Sign1")
    if cose.payload is None:
        raise TokenError("the KEYGEN COSE_Sign1 has no payload (it must carry the digest)")
    payload = parse_payload(cose.payload)
    if payload.payload_id not in (PAYLOAD_CSR, PAYLOAD_PUBKEY):
        raise TokenError(
            f"the KEYGEN COSE payload id is {payload.payload_id}, expected 9 (CSR) or 8 "
            "(public key)"
        )
    what = "CSR" if payload.payload_id == PAYLOAD_CSR else "public key"
    check_digest(payload, body, what)
    if payload.payload_id == PAYLOAD_CSR:
        csr: CsrInfo | None = load_csr(body)
        assert csr is not None
        public_key = csr.public_key
    else:
        csr = None
        try:
            public_key = load_public_key(body)
        except XsudoError as exc:
            raise TokenError(f"the KEYGEN body is not a P-256 public key ({exc.message})") from None
    return KeygenReply(body, cose, payload, public_key, csr)


def load_identity_key(data: bytes) -> PublicKey:
    """A device identity public key (PEM or DER), e.g. from ``xsudo sim --identity-key-out``."""
    try:
        return load_public_key(data)
    except BadInputError as exc:
        raise BadInputError(
            f"the identity key file is not a P-256 public key ({exc.message})",
            "give the device identity public key PEM",
        ) from None
