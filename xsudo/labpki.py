"""Throwaway CA and client certificates from keys made in memory: labs, demos and tests only.

Never for production keys. ``xsudo demo``, the benchmarks and the tests use these helpers to
make a CA and client certificates whose private keys are plain in-memory objects
(:func:`new_ec_key`); this module never writes a key anywhere, and :func:`private_key_pem`
gives the unencrypted PEM of one only to put it on a (usually simulated) modem as a client
key. Names are checked as in production (printable text, :func:`xsudo.ca.check_name_text`).

Production certificates are signed by a CA key that stays in a key store: see
:mod:`xsudo.ca` (``xsudo cred issue``, manifests' ``issue`` entries, ``xsudo ca create``).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from xsudo.ca import CA_KEY_USAGE, cn_name, validity
from xsudo.crypto import PrivateKey, PublicKey, generate_private_key


def new_ec_key() -> PrivateKey:
    """A new P-256 private key in memory (lab, demo and test use only)."""
    return generate_private_key()


def make_ca(key: PrivateKey, common_name: str, *, days: int = 3650) -> x509.Certificate:
    """A self-signed CA certificate for the in-memory ``key``."""
    start, end = validity(days)
    return (
        x509.CertificateBuilder()
        .subject_name(cn_name(common_name))
        .issuer_name(cn_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )


def issue_client_cert(
    ca_key: PrivateKey,
    ca_cert: x509.Certificate,
    subject_key: PublicKey,
    common_name: str,
    *,
    days: int = 365,
) -> x509.Certificate:
    """A TLS client certificate for ``subject_key``, signed by the in-memory ``ca_key``."""
    start, end = validity(days)
    return (
        x509.CertificateBuilder()
        .subject_name(cn_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(subject_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(end, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def private_key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: only for content written to a modem (type 2), never to disk."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


__all__ = ["issue_client_cert", "make_ca", "new_ec_key", "private_key_pem"]
