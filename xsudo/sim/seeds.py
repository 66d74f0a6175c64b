"""Content of the reserved ``%CMNG`` entries a fresh simulated modem holds.

Real modems list ``4294967292,11`` (Nordic base public key), ``4294967293,10`` (Nordic
identity root CA) and ``4294967294,6`` (device identity public key). The first two are the
same on every simulated board (built from fixed throwaway keys with deterministic
signatures, so their SHAs are stable); the third is the board's own identity key.
"""

from __future__ import annotations

import datetime
import hashlib
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xsudo.crypto import P256_ORDER

NORDIC_BASE_KEY_TAG = 4294967292
NORDIC_ROOT_CA_TAG = 4294967293
IDENTITY_KEY_TAG = 4294967294
TYPE_NORDIC_BASE_KEY = 11
TYPE_NORDIC_ROOT_CA = 10
TYPE_IDENTITY_KEY = 6


def _fixed_key(label: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % (P256_ORDER - 1)
    return ec.derive_private_key(scalar + 1, ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, LF line ends, one trailing LF."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@lru_cache(maxsize=1)
def nordic_base_public_key_pem() -> bytes:
    """Stand-in for the Nordic base public key (type 11)."""
    return public_pem(_fixed_key("xsudo-sim nordic base key").public_key())


@lru_cache(maxsize=1)
def nordic_root_ca_pem() -> bytes:
    """Stand-in for the Nordic identity root CA certificate (type 10)."""
    key = _fixed_key("xsudo-sim nordic identity root ca")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xsudo simulator identity root")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start.replace(year=2124))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def reserved_entries(identity: ec.EllipticCurvePublicKey) -> dict[tuple[int, int], bytes]:
    """The three reserved entries for a board whose identity key is ``identity``."""
    return {
        (NORDIC_BASE_KEY_TAG, TYPE_NORDIC_BASE_KEY): nordic_base_public_key_pem(),
        (NORDIC_ROOT_CA_TAG, TYPE_NORDIC_ROOT_CA): nordic_root_ca_pem(),
        (IDENTITY_KEY_TAG, TYPE_IDENTITY_KEY): public_pem(identity),
    }
