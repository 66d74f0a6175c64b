"""EC key attributes as PKCS#11 tokens hold them, parsed strictly (no python-pkcs11 needed).

Contract:

* ``CKA_EC_PARAMS`` is the DER of an X9.62 ``ECParameters``; only the named curve
  prime256v1 (OID 1.2.840.10045.3.1.7) is accepted. Anything else (another named curve,
  explicit parameters, implicitCA, bytes that are no ``ECParameters``) raises
  :class:`~xsudo.errors.UnsupportedKeyError` naming what was found.
* ``CKA_EC_POINT`` is a DER OCTET STRING wrapping the uncompressed point ``04 || X || Y``
  (65 bytes for P-256). The wrapper must be the canonical DER encoding with nothing after it;
  a bare point, a compressed point or a point not on the curve is refused.
"""

from __future__ import annotations

from asn1crypto.core import OctetString
from asn1crypto.keys import ECDomainParameters
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from xsudo.crypto import PrivateKey, PublicKey
from xsudo.errors import KeyStoreError, Remedy, UnsupportedKeyError

P256_OID = "1.2.840.10045.3.1.7"
P256_NAME = "secp256r1"
UNCOMPRESSED_POINT_BYTES = 65
SCALAR_BYTES = 32


def p256_ec_params() -> bytes:
    """The ``CKA_EC_PARAMS`` value for P-256: DER of the named-curve OID."""
    return bytes(ECDomainParameters(name="named", value=P256_NAME).dump(force=True))


def check_p256_ec_params(der: bytes, what: str) -> None:
    """Accept ``der`` only if it names prime256v1; ``what`` names the key in errors."""
    try:
        params = ECDomainParameters.load(der, strict=True)
        kind = params.name
        chosen = params.chosen
        canonical = params.dump(force=True)
    except (ValueError, TypeError, KeyError):
        raise UnsupportedKeyError(
            f"{what} has EC parameters that are not X9.62 ECParameters",
            "XSUDO needs an EC P-256 (prime256v1) key",
        ) from None
    if kind == "named":
        oid = chosen.dotted
        if oid == P256_OID and canonical == der:
            return
        name = chosen.native if chosen.native != oid else "an unknown curve"
        raise UnsupportedKeyError(
            f"{what} is an EC key on curve {name} (OID {oid}); XSUDO needs an EC P-256 "
            "(secp256r1/prime256v1) key",
            "generate one in the token (KeyStore.generate with the pkcs11 store)",
            remedy=Remedy("generate-key", {"store": "pkcs11"}),
        )
    described = "explicit curve parameters" if kind == "specified" else "implicitCA parameters"
    raise UnsupportedKeyError(
        f"{what} uses {described}; XSUDO needs the named curve prime256v1",
        "generate one in the token (KeyStore.generate with the pkcs11 store)",
        remedy=Remedy("generate-key", {"store": "pkcs11"}),
    )


def public_key_from_ec_point(der: bytes, what: str) -> PublicKey:
    """The P-256 public key in a ``CKA_EC_POINT`` value (DER OCTET STRING of ``04||X||Y``)."""
    try:
        wrapper = OctetString.load(der, strict=True)
        point = bytes(wrapper.native)
        canonical = wrapper.dump(force=True)
    except (ValueError, TypeError):
        raise _bad_point(what, "not a DER OCTET STRING") from None
    if canonical != der:
        raise _bad_point(what, "the OCTET STRING is not in canonical DER")
    if len(point) != UNCOMPRESSED_POINT_BYTES or point[0] != 0x04:
        raise _bad_point(
            what, f"{len(point)} bytes starting 0x{point[:1].hex()}, not a 65-byte 04||X||Y point"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise _bad_point(what, "the point is not on the P-256 curve") from None


def ec_point_attribute(public: PublicKey) -> bytes:
    """The ``CKA_EC_POINT`` value for ``public``: DER OCTET STRING of the uncompressed point."""
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return bytes(OctetString(point).dump(force=True))


def private_value_attribute(key: PrivateKey) -> bytes:
    """The ``CKA_VALUE`` of an EC private key object: the scalar, 32 bytes big-endian."""
    return key.private_numbers().private_value.to_bytes(SCALAR_BYTES, "big")


def _bad_point(what: str, why: str) -> KeyStoreError:
    return KeyStoreError(
        f"{what} has a CKA_EC_POINT that is not a P-256 public key ({why})",
        "check the token's key objects; xsudo reads the public key object of the pair",
    )
