"""Decode and check an ``%ATTESTTOKEN`` reply: ``<base64url(message)>.<base64url(COSE)>``.

Real modems send the COSE_Sign1 with a ``null`` payload: the attestation message is the
detached content, so the signature is verified over it (RFC 9052 section 4.4) and there is
no digest to compare (the simulator sends the same shape). An attached payload, should a
firmware send one, must have the modem token layout, and its digest, device UUID and nonce
must match the message.
A challenge given to the modem must come back as the message's nonce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xsudo.crypto import PublicKey
from xsudo.tokens import b64url
from xsudo.tokens.cose import CoseSign1, SignatureCheck, check_signature, parse_sign1
from xsudo.tokens.errors import TokenError
from xsudo.tokens.keygen import check_digest
from xsudo.tokens.payload import (
    AttestationMessage,
    TokenPayload,
    parse_attestation_message,
    parse_payload,
)

CHALLENGE_BYTES = 16


@dataclass(frozen=True)
class Attestation:
    """A checked attestation token. ``payload`` is ``None`` for a detached COSE payload."""

    body: bytes
    message: AttestationMessage
    cose: CoseSign1
    payload: TokenPayload | None

    @property
    def digest_check(self) -> str:
        return "matches" if self.payload is not None else "not applicable (detached payload)"

    def verify(self, identity_key: PublicKey | None) -> SignatureCheck:
        """Check the COSE signature (over the detached message when the payload is null)."""
        return check_signature(self.cose, identity_key, detached=self.body)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.message.to_json(),
            "cose": {
                "alg": "ES256",
                "kid": self.cose.kid_name,
                "detached_payload": self.payload is None,
                "digest": self.digest_check,
                "payload": None if self.payload is None else self.payload.to_json(),
            },
        }


def decode_attestation(text: str, challenge: bytes | None = None) -> Attestation:
    """Decode and check an ``%ATTESTTOKEN`` reply; ``challenge`` is what was sent, if any."""
    body, cose_bytes = b64url.split_reply(text, "ATTESTTOKEN")
    message = parse_attestation_message(body)
    cose = parse_sign1(cose_bytes, "the ATTESTTOKEN COSE_Sign1")
    payload = None
    if cose.payload is not None:
        payload = parse_payload(cose.payload)
        check_digest(payload, body, "attestation message")
        if payload.device_uuid != message.device_uuid:
            raise TokenError(
                f"the COSE payload names device {payload.device_uuid}, the message "
                f"{message.device_uuid}"
            )
        if message.nonce is not None and payload.nonce != message.nonce:
            raise TokenError("the COSE payload's nonce differs from the message's")
    if challenge is not None and message.nonce != challenge:
        got = message.nonce.hex() if message.nonce is not None else "none"
        raise TokenError(
            f"the token does not carry the challenge sent ({challenge.hex()}); its nonce is {got}",
            "a replayed or stale token: do not trust it",
        )
    return Attestation(body, message, cose, payload)
