"""Modem security tokens: ``%KEYGEN`` and ``%ATTESTTOKEN`` replies, decoded and checked.

Pure functions over the reply text (no AT, no device). Everything that can be checked
without a key is checked on decode (base64url, COSE_Sign1 structure and ES256, payload
digest, the CSR's own signature); the COSE signature is checked with the device identity
key by ``reply.verify(key)``, which says plainly when no key was given.

Public API::

    decode_keygen(text) -> KeygenReply          (.csr: CsrInfo, .payload, .verify(key))
    decode_attestation(text, challenge=None) -> Attestation   (.message, .verify(key))
    load_csr(der) -> CsrInfo                    (strict DER; the NULL-parameter quirk)
    parse_sign1(data) -> CoseSign1, check_signature(cose, key, detached=None)
    load_identity_key(data) -> PublicKey
    TokenError                                  (exit 1; the message says what was wrong)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xsudo.lazyexports import lazy_exports

# Names load on first use: reading a token's error type (TokenError) does not load the
# COSE, CBOR and CSR decoders.
_EXPORTS: dict[str, str] = {
    "CHALLENGE_BYTES": "attest",
    "Attestation": "attest",
    "decode_attestation": "attest",
    "CoseSign1": "cose",
    "SignatureCheck": "cose",
    "check_signature": "cose",
    "parse_sign1": "cose",
    "NULL_QUIRK": "csr",
    "CsrInfo": "csr",
    "load_csr": "csr",
    "normalise_null_quirk": "csr",
    "TokenError": "errors",
    "KeygenReply": "keygen",
    "decode_keygen": "keygen",
    "load_identity_key": "keygen",
    "AttestationMessage": "payload",
    "TokenPayload": "payload",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from xsudo.tokens.attest import CHALLENGE_BYTES, Attestation, decode_attestation
    from xsudo.tokens.cose import CoseSign1, SignatureCheck, check_signature, parse_sign1
    from xsudo.tokens.csr import NULL_QUIRK, CsrInfo, load_csr, normalise_null_quirk
    from xsudo.tokens.errors import TokenError
    from xsudo.tokens.keygen import KeygenReply, decode_keygen, load_identity_key
    from xsudo.tokens.payload import AttestationMessage, TokenPayload


__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "CHALLENGE_BYTES",
    "NULL_QUIRK",
    "Attestation",
    "AttestationMessage",
    "CoseSign1",
    "CsrInfo",
    "KeygenReply",
    "SignatureCheck",
    "TokenError",
    "TokenPayload",
    "check_signature",
    "decode_attestation",
    "decode_keygen",
    "load_csr",
    "load_identity_key",
    "normalise_null_quirk",
    "parse_sign1",
]
