"""COSE_Sign1 (RFC 9052) with ES256, as the simulated modem signs its tokens.

Shape, byte for byte what real nRF91 replies carry (tests/tokens/real_modem_tokens.json):
a CBOR tag 18 around ``[protected, unprotected, payload, signature]`` where ``protected`` is
the bstr ``a1 01 26`` (``{1: -7}``, alg ES256), ``unprotected`` is ``{4: h'21'}`` (kid: a
bstr holding ``cbor(-2)``, "identity key"), and ``signature`` is raw ``r || s`` (64 bytes)
over the RFC 9052 ``Sig_structure`` ``["Signature1", protected, h'', content]``.

``payload`` is a bstr (attached: ``%KEYGEN``) or ``null`` (detached: real ``%ATTESTTOKEN``
replies carry ``null`` and the attestation message travels as the reply's first part).
For a detached token this module signs the standard ``Sig_structure`` with the message as
the external content (RFC 9052 section 4.4). Whether real modems sign exactly that input is
unconfirmed: their identity keys are not published, so no real detached signature has been
checked.

This signer is the simulator's own, built on its hand-written :mod:`xsudo.sim.cbor`, and
shares no code with the host's checker (:mod:`xsudo.tokens.cose`, on ``cbor2``): each side
checks the other.
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


def _sig_structure(protected: bytes, content: bytes) -> bytes:
    return cbor.dumps(["Signature1", protected, b"", content])


def sign1(content: bytes, key: ec.EllipticCurvePrivateKey, *, detached: bool = False) -> bytes:
    """A tagged COSE_Sign1 over ``content`` signed by ``key`` (ES256).

    ``detached=False``: ``content`` is the payload. ``detached=True``: the payload is
    ``null`` and ``content`` is signed as external content (see the module docstring).
    """
    protected = cbor.dumps({1: ALG_ES256})
    der = key.sign(_sig_structure(protected, content), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    unprotected: dict[cbor.CborValue, cbor.CborValue] = {4: cbor.dumps(KID_IDENTITY_KEY)}
    payload = None if detached else content
    return cbor.dumps(cbor.Tag(COSE_SIGN1_TAG, [protected, unprotected, payload, encode_raw(r, s)]))


def verify1(token: bytes, key: ec.EllipticCurvePublicKey, detached: bytes | None = None) -> bytes:
    """Check a COSE_Sign1 made by :func:`sign1` against ``key``; return the signed content.

    A ``null`` payload needs the external content in ``detached``; an attached payload must
    come without it.
    """
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
    if not isinstance(protected, bytes):
        raise CoseError("the protected header must be a byte string")
    content = _content(payload, detached)
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise CoseError("signature must be 64 bytes (r || s)")
    if cbor.loads(protected) != {1: ALG_ES256}:
        raise CoseError("protected header is not {1: -7} (ES256)")
    try:
        r, s = decode_raw(signature)
    except SignatureFormatError as exc:
        raise CoseError(str(exc)) from None
    if not verify_message(key, _sig_structure(protected, content), r, s):
        raise CoseError("COSE_Sign1 signature does not verify")
    return content


def _content(payload: cbor.CborValue, detached: bytes | None) -> bytes:
    if payload is None:
        if detached is None:
            raise CoseError("the payload is detached (null) and no content was given")
        return detached
    if not isinstance(payload, bytes):
        raise CoseError("the payload must be a byte string or null")
    if detached is not None:
        raise CoseError("the payload is attached; detached content was given too")
    return payload
