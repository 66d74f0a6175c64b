"""Shared material for the content tests: the modem-observed vector and certificate factories."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
_OBSERVED = json.loads((VECTORS / "modem-observed.json").read_text(encoding="utf-8"))
CASE = _OBSERVED["cases"][0]
CERT_PEM: bytes = CASE["content"].encode("ascii")
"""Amazon Root CA 1 exactly as written to a real modem (LF, one trailing LF)."""
OBSERVED_SHA: str = CASE["sha256_upper_hex"]
"""What that modem listed for it."""

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    key: ec.EllipticCurvePrivateKey,
    *,
    cn: str = "test-device",
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=365),
    extensions: list[x509.ExtensionType] | None = None,
) -> bytes:
    """A self-signed PEM certificate for ``key`` with the given validity window."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension in extensions or []:
        builder = builder.add_extension(extension, critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
