"""COSE_Sign1 (RFC 9052) as nRF91 modems sign their token replies: ES256 over P-256.

Shape (nRFCloud/utils ``modem_credentials_parser.py`` parses it; the simulator sends it):
CBOR tag 18 around ``[protected, unprotected, payload, signature]`` where ``protected`` is
a byte string holding the map ``{1: -7}`` (alg ES256), ``unprotected`` a map whose key 4
(kid) holds a byte string with a CBOR integer naming the signing key (-2: the device
identity key), ``payload`` a byte string or ``null`` (detached, as in real
``%ATTESTTOKEN`` replies), and ``signature`` the 64-byte ``r || s``.

:func:`parse_sign1` checks the structure and the algorithm; :func:`check_signature`
verifies the signature over the RFC 9052 ``Sig_structure`` when a key is given and says
plainly when none was.

Why this is not a COSE library: CBOR decoding and encoding are ``cbor2``'s
(:mod:`xsudo.tokens.cbor`) and the ECDSA check is ``cryptography``'s; what is left here is
the one message shape nRF91 modems send and the ``Sig_structure``, a few lines. The COSE
libraries on PyPI were checked (2026-12) and do not fit: ``pycose`` (1.1.0, the last
release, December 2023) cannot decode any COSE message with ``cbor2`` 6, which decodes the
array inside the tag as a tuple (TimothyClaeys/pycose issue 141, open); with ``cbor2`` 5 it
accepts trailing bytes after the message, and it pulls in ``ecdsa``, ``certvalidator``,
``oscrypto`` and ``attrs``. ``cwt`` (python-cwt 3.3.0) requires ``cbor2<6``, below the
``cbor2`` this package needs for duplicate-key rejection, and pulls in ``pyhpke``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from xsudo.crypto import PublicKey, fingerprint, verify_message
from xsudo.encoding import SignatureFormatError, decode_raw
from xsudo.errors import Remedy, SignatureInvalid
from xsudo.tokens import cbor
from xsudo.tokens.errors import TokenError

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
ALG_ES256 = -7
SIGNATURE_BYTES = 64

KEY_NAMES = {
    -2: "identity_key",
    -4: "nordic_base_production_key",
    -5: "nordic_base_rd_key",
}
"""kid values nRFCloud/utils names (``header_key_type_dict``)."""


@dataclass(frozen=True)
class CoseSign1:
    """A parsed COSE_Sign1. ``protected`` is the serialized protected header as received
    (it is what the signature covers); ``payload`` is ``None`` when detached."""

    protected: bytes
    unprotected: dict[cbor.Key, cbor.Value]
    payload: bytes | None
    signature: bytes

    @property
    def kid(self) -> int | None:
        """The kid as the modem encodes it (a byte string holding a CBOR integer)."""
        raw = self.unprotected.get(HEADER_KID)
        if not isinstance(raw, bytes):
            return None
        try:
            value = cbor.loads(raw, "COSE kid")
        except TokenError:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def kid_name(self) -> str | None:
        kid = self.kid
        return None if kid is None else KEY_NAMES.get(kid, f"key {kid}")

    def to_be_signed(self, detached: bytes | None = None) -> bytes:
        """The ``Sig_structure`` (RFC 9052 section 4.4) with an empty external AAD.

        ``detached`` supplies the content when the payload is ``null``.
        """
        content = self.payload if self.payload is not None else detached
        if content is None:
            raise TokenError("the COSE_Sign1 payload is detached and no content was supplied")
        return cbor.dumps(["Signature1", self.protected, b"", content])


def parse_sign1(data: bytes, what: str = "COSE_Sign1") -> CoseSign1:
    """Parse and check a tagged ES256 COSE_Sign1; :class:`TokenError` says what is wrong."""
    item = cbor.loads(data, what)
    if not isinstance(item, cbor.Tag) or item.number != COSE_SIGN1_TAG:
        raise TokenError(f"{what} is not a COSE_Sign1 (CBOR tag 18)")
    parts = item.value
    if not isinstance(parts, list) or len(parts) != 4:
        raise TokenError(
            f"{what} must be an array of 4 items (protected, unprotected, payload, signature)"
        )
    protected, unprotected, payload, signature = parts
    if not isinstance(protected, bytes):
        raise TokenError(f"{what}: the protected header is not a byte string")
    if not isinstance(unprotected, dict):
        raise TokenError(f"{what}: the unprotected header is not a map")
    if payload is not None and not isinstance(payload, bytes):
        raise TokenError(f"{what}: the payload is neither a byte string nor null")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        size = len(signature) if isinstance(signature, bytes) else "no"
        raise TokenError(f"{what}: the signature must be 64 bytes (r || s), got {size}")
    _check_alg(protected, what)
    return CoseSign1(protected, unprotected, payload, signature)


def _check_alg(protected: bytes, what: str) -> None:
    header = cbor.loads(protected, f"{what} protected header") if protected else {}
    if not isinstance(header, dict):
        raise TokenError(f"{what}: the protected header is not a map")
    alg = header.get(HEADER_ALG)
    if alg != ALG_ES256:
        raise TokenError(
            f"{what}: the protected header's alg is {alg!r}, expected ES256 (-7)",
            "only ECDSA P-256 with SHA-256 is accepted",
        )


SignatureStatus = Literal["verified", "not-verified"]


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of :func:`check_signature`: ``verified`` with the key's fingerprint, or
    ``not-verified`` (no key supplied). An invalid signature raises instead."""

    status: SignatureStatus
    key_fingerprint: str | None = None
    detached: bool = False

    @property
    def message(self) -> str:
        if self.status == "verified":
            over = " (over the detached body)" if self.detached else ""
            return f"COSE signature verified{over} with identity key {self.key_fingerprint}"
        return "COSE signature NOT verified (no identity key given)"

    def to_json(self) -> dict[str, Any]:
        return {
            "signature": self.status,
            "identity_key_fingerprint": self.key_fingerprint,
            "detached_payload": self.detached,
        }


def check_signature(
    token: CoseSign1, key: PublicKey | None, *, detached: bytes | None = None
) -> SignatureCheck:
    """Verify ``token`` with ``key`` (raises :class:`SignatureInvalid` when it does not
    verify); without a key return a ``not-verified`` result."""
    is_detached = token.payload is None
    if key is None:
        return SignatureCheck("not-verified", None, is_detached)
    try:
        r, s = decode_raw(token.signature)
    except SignatureFormatError as exc:
        raise SignatureInvalid(f"the COSE signature is malformed: {exc.message}") from None
    if not verify_message(key, token.to_be_signed(detached), r, s):
        raise SignatureInvalid(
            f"the COSE_Sign1 signature does not verify with the identity key {fingerprint(key)}",
            "check that the identity key is this device's; otherwise the reply was altered "
            "or did not come from this modem",
            remedy=Remedy("check-identity-key"),
        )
    return SignatureCheck("verified", fingerprint(key), is_detached)
