"""COSE_Sign1 (RFC 9052) with ES256, as the simulated modem signs its tokens.

Shape, following what nRFCloud/utils' parser expects of real modem output: a CBOR tag 18
around ``[protected, unprotected, payload, signature]`` where ``protected`` is the bstr of
``{1: -7}`` (alg ES256), ``unprotected`` is ``{4: bstr(cbor(-2))}`` (kid "identity key"),
and ``signature`` is raw ``r || s`` (64 bytes) over the ``Signature1`` structure.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from xsudo.crypto import verify_message
from xsudo.encoding import SignatureFormatError, decode_raw, encode_raw
from xsudo.sim import cbor

COSE_SIGN1_TAG = 18
ALG_ES256 = -7
KID_IDENTITY_KEY = -2


class CoseError(ValueError):
    """A token that is not a COSE_Sign1 of this shape, or whose signature does not verify."""


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor.dumps(["Signature1", protected, b"", payload])


def sign1(payload: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A tagged COSE_Sign1 over ``payload`` signed by ``key`` (ES256)."""
    protected = cbor.dumps({1: ALG_ES256})
    der = key.sign(_sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    unprotected: dict[cbor.CborValue, cbor.CborValue] = {4: cbor.dumps(KID_IDENTITY_KEY)}
    return cbor.dumps(cbor.Tag(COSE_SIGN1_TAG, [protected, unprotected, payload, encode_raw(r, s)]))


def verify1(token: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """Check a COSE_Sign1 made by :func:`sign1` against ``key``; return its payload."""
    try:
        item = cbor.loads(token)
    except (cbor.CborError, UnicodeDecodeError) as exc:
        raise CoseError(f"not CBOR: {exc}") from None
    if not isinstance(item, cbor.Tag) or item.number != COSE_SIGN1_TAG:
        raise CoseError("not a tagged COSE_Sign1")
    parts = item.value
    if not isinstance(parts, list) or len(parts) != 4:
        raise CoseError("COSE_Sign1 must be an array of four items")
    protected, _unprotected, payload, signature = parts
    if not isinstance(protected, bytes) or not isinstance(payload, bytes):
        raise CoseError("protected header and payload must be byte strings")
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise CoseError("signature must be 64 bytes (r || s)")
    if cbor.loads(protected) != {1: ALG_ES256}:
        raise CoseError("protected header is not {1: -7} (ES256)")
    try:
        r, s = decode_raw(signature)
    except SignatureFormatError as exc:
        raise CoseError(str(exc)) from None
    if not verify_message(key, _sig_structure(protected, payload), r, s):
        raise CoseError("COSE_Sign1 signature does not verify")
    return payload
