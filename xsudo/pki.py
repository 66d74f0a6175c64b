"""Small X.509 helpers for test, demo and lab certificates (P-256, SHA-256).

For labs and the demo only: production users bring their own CA. Keys passed in are never
written anywhere by this module. Every name that goes into a certificate is checked:
printable text only (:func:`check_name_text`, :func:`check_name`), else a one-line
:class:`~xsudo.errors.BadInputError`. :func:`sign_with` and what builds on it
(:func:`make_ca_with_signer`, :func:`open_ca`, :func:`issue_from_csr`) sign through a
:class:`~xsudo.signing.Signer`, so a CA key in any xsudo key store works without export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xsudo.crypto import (
    PrivateKey,
    PublicKey,
    fingerprint,
    require_p256_public,
    verify_digest,
)
from xsudo.encoding import encode_der
from xsudo.errors import BadInputError, SignatureInvalid, UnsupportedKeyError
from xsudo.signing import Signer

MAX_COMMON_NAME = 64
"""RFC 5280 ub-common-name."""


def check_name_text(value: str, what: str = "the common name") -> str:
    """``value`` if it can go into a certificate name: 1-64 characters, every one printable
    (no control, format or separator characters such as newline, NUL, ESC, U+202E; the
    ASCII space is fine). Otherwise a one-line :class:`BadInputError` (exit 2) naming
    ``what`` (``"--cn"``), with the value escaped."""
    _refuse_unprintable(value, what)
    if not 1 <= len(value) <= MAX_COMMON_NAME:
        raise BadInputError(
            f"{what} must be 1-{MAX_COMMON_NAME} characters, not {len(value)}",
            f"give a name of 1-{MAX_COMMON_NAME} characters",
        )
    return value


def check_name(name: x509.Name, what: str = "the certificate subject") -> x509.Name:
    """``name`` if every attribute value is printable text (:func:`check_name_text`, without
    the CN length rule for other attributes); :class:`BadInputError` otherwise."""
    for attribute in name:
        value = attribute.value
        label = f"{what} attribute {attribute.rfc4514_attribute_name}"
        if not isinstance(value, str):
            raise BadInputError(f"{label} is not text", "use text attribute values")
        _refuse_unprintable(value, label)
    return name


def _refuse_unprintable(value: str, what: str) -> None:
    bad = next((ch for ch in value if not ch.isprintable()), None)
    if bad is not None:
        raise BadInputError(
            f"{what} {value!r} contains a control or non-printable character (U+{ord(bad):04X})",
            "use printable characters only",
        )


def _name(common_name: str) -> x509.Name:
    check_name_text(common_name)
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)


def make_ca(key: PrivateKey, common_name: str, *, days: int = 3650) -> x509.Certificate:
    """A self-signed CA certificate for ``key``."""
    start, end = _validity(days)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
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
    """A TLS client certificate for ``subject_key``, signed by the CA."""
    start, end = _validity(days)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
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


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: only for content written to a modem (type 2), never to disk."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_ec_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- certificates signed through any Signer (key store, HSM, external command) ------------

ECDSA_SHA256_ALGID = bytes.fromhex("300a06082a8648ce3d040302")
"""DER AlgorithmIdentifier ecdsa-with-SHA256 (parameters absent, RFC 5758)."""


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def sign_with(builder: x509.CertificateBuilder, signer: Signer) -> x509.Certificate:
    """Finish ``builder`` with a signature made by ``signer`` (the issuer's key).

    The TBSCertificate comes from cryptography's builder (finished with a throwaway P-256
    key, whose signature is discarded; the TBS names the algorithm, ecdsa-with-SHA256, not
    the key). Its SHA-256 goes to ``signer.sign_digest``, so the issuer key may live in any
    key store, an HSM or behind an external command and is never exported. The signature
    is verified against ``signer.public_key()`` before the certificate is returned.

    Raises :class:`~xsudo.errors.SignatureInvalid` when the signer returns a signature that
    does not verify.
    """
    draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    digest = hashlib.sha256(tbs).digest()
    r, s = signer.sign_digest(digest)
    if not verify_digest(signer.public_key(), digest, r, s):
        raise SignatureInvalid(
            f"key {signer.name!r} returned a signature that does not verify",
            "check the key store or signing device",
        )
    signature = encode_der(r, s)
    der = _der(0x30, tbs + ECDSA_SHA256_ALGID + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def _key_ids(
    builder: x509.CertificateBuilder, subject: PublicKey, issuer: PublicKey
) -> x509.CertificateBuilder:
    return builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(subject), critical=False
    ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer), critical=False)


def make_ca_with_signer(signer: Signer, common_name: str, *, days: int = 3650) -> x509.Certificate:
    """A self-signed CA certificate for the key behind ``signer`` (test and lab CAs)."""
    key = signer.public_key()
    start, end = _validity(days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    )
    return sign_with(_key_ids(builder, key, key), signer)


def load_certificate(data: bytes, what: str = "certificate") -> x509.Certificate:
    """A PEM or DER X.509 certificate (the first one of a PEM bundle)."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise BadInputError(f"the {what} is not a PEM or DER X.509 certificate") from None


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and a signer for its key, checked by :func:`open_ca`."""

    cert: x509.Certificate
    signer: Signer

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the CA's public key."""
        return fingerprint(self.signer.public_key())


def open_ca(
    cert: x509.Certificate, signer: Signer, *, now: dt.datetime | None = None
) -> CertificateAuthority:
    """Check that ``cert`` is a usable P-256 CA certificate whose public key is the key of
    ``signer``; raises :class:`~xsudo.errors.BadInputError` naming what does not fit."""
    try:
        cert_key = require_p256_public(cert.public_key())
    except (UnsupportedKeyError, ValueError):
        raise BadInputError(
            "the CA certificate's key is not EC P-256", "use a P-256 CA (xsudo ca create)"
        ) from None
    if fingerprint(cert_key) != fingerprint(signer.public_key()):
        raise BadInputError(
            f"the CA certificate's public key ({fingerprint(cert_key)[:16]}...) is not the "
            f"public key of {signer.name!r} ({fingerprint(signer.public_key())[:16]}...)",
            "give the CA key that belongs to this certificate",
        )
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise BadInputError("the certificate is not a CA (basicConstraints cA is not set)")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise BadInputError("the CA certificate's keyUsage does not allow keyCertSign")
    moment = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise BadInputError(
            f"the CA certificate is not valid now (valid {cert.not_valid_before_utc:%Y-%m-%d} "
            f"to {cert.not_valid_after_utc:%Y-%m-%d})"
        )
    return CertificateAuthority(cert, signer)


def issue_from_csr(
    ca: CertificateAuthority,
    csr: x509.CertificateSigningRequest,
    *,
    days: int = 365,
    subject: x509.Name | None = None,
) -> x509.Certificate:
    """A TLS client certificate for the key in ``csr``, signed by ``ca`` through its signer.

    The subject is the CSR's unless ``subject`` is given; either must hold printable text
    only (:func:`check_name`), else :class:`BadInputError`. Nothing else is taken from the
    CSR (the CA decides the extensions): basicConstraints cA=false, keyUsage
    digitalSignature, extendedKeyUsage clientAuth, key identifiers. Validity ends no later
    than the CA's. The caller verifies the CSR's signature first.
    """
    if days < 1:
        raise BadInputError(f"--days {days} is not a positive number of days")
    check_name(subject if subject is not None else csr.subject)
    key = require_p256_public(csr.public_key())
    start, end = _validity(days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject if subject is not None else csr.subject)
        .issuer_name(ca.cert.subject)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(end, ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    )
    return sign_with(_key_ids(builder, key, ca.signer.public_key()), ca.signer)
