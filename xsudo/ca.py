"""Certificates signed by a CA whose key is in a key store (P-256, ecdsa-with-SHA256).

Production code: used by ``xsudo cred issue``, manifests' ``issue`` entries and
``xsudo ca create``. The CA key stays in its key store (file store, OS keyring, PKCS#11
token, external command): every certificate is signed through a
:class:`~xsudo.signing.Signer`, which gets only the SHA-256 of the TBSCertificate, so the
key is never exported. This module generates, loads and holds no private key: the
TBSCertificate is DER-encoded here (:func:`sign_certificate`) from cryptography's own
encodings of names, public keys and extensions.

* :func:`load_certificate` and :func:`open_ca` give a :class:`CertificateAuthority`: a CA
  certificate checked against the signer of its key;
* :func:`issue_from_csr` signs a TLS client certificate for a device's CSR (``%KEYGEN``);
* :func:`make_ca_with_signer` makes the self-signed certificate of a key-store CA key;
* :func:`cert_pem` encodes a certificate as PEM;
* every name that goes into a certificate is printable text (:func:`check_name_text`,
  :func:`check_name`), else a one-line :class:`~xsudo.errors.BadInputError`.

Lab, demo and test helpers that make CA and client keys in memory are in
:mod:`xsudo.labpki`, never here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from xsudo.crypto import PublicKey, fingerprint, require_p256_public, verify_digest
from xsudo.encoding import encode_der
from xsudo.errors import BadInputError, Remedy, SignatureInvalid, UnsupportedKeyError
from xsudo.signing import Signer

MAX_COMMON_NAME = 64
"""RFC 5280 ub-common-name."""

ECDSA_SHA256_ALGID = bytes.fromhex("300a06082a8648ce3d040302")
"""DER AlgorithmIdentifier ecdsa-with-SHA256 (parameters absent, RFC 5758)."""

CA_KEY_USAGE = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
"""keyUsage of a CA certificate: keyCertSign and cRLSign."""

Extensions = Sequence[tuple[x509.ExtensionType, bool]]
"""Certificate extensions in order, each as ``(value, critical)``."""


# -- names ---------------------------------------------------------------------------------


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


def cn_name(common_name: str) -> x509.Name:
    """The name ``CN=<common_name>``, checked with :func:`check_name_text`."""
    check_name_text(common_name)
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    """``(not_before, not_after)`` in whole UTC seconds: from five minutes ago (clock skew)
    to ``days`` days from now."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)


def cert_pem(cert: x509.Certificate) -> bytes:
    """The certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certificate(data: bytes, what: str = "certificate") -> x509.Certificate:
    """A PEM or DER X.509 certificate (the first one of a PEM bundle)."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise BadInputError(f"the {what} is not a PEM or DER X.509 certificate") from None


# -- signing through a Signer --------------------------------------------------------------


def sign_certificate(
    signer: Signer,
    *,
    issuer: x509.Name,
    subject: x509.Name,
    public_key: PublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: Extensions,
    serial: int | None = None,
) -> x509.Certificate:
    """A v3 certificate for ``public_key``, signed ecdsa-with-SHA256 by ``signer`` (the
    issuer's key, which may live in any key store, an HSM or behind an external command).

    The TBSCertificate (RFC 5280 section 4.1) is encoded here, as cryptography's
    ``CertificateBuilder`` encodes it; its SHA-256 goes to ``signer.sign_digest``. The
    signature is verified against ``signer.public_key()`` before the certificate is
    returned. ``serial`` defaults to a random 159-bit number; times are UTC, whole seconds.

    Raises :class:`~xsudo.errors.SignatureInvalid` when the signer returns a signature that
    does not verify.
    """
    number = x509.random_serial_number() if serial is None else serial
    if not 0 < number < 1 << 159:
        raise ValueError("the serial number must be positive and at most 159 bits")
    if not_after < not_before:
        raise ValueError("the certificate would end before it starts")
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    parts = [
        _der(0xA0, _integer(2)),  # version v3
        _integer(number),
        ECDSA_SHA256_ALGID,
        issuer.public_bytes(),
        _der(0x30, _time(not_before) + _time(not_after)),
        subject.public_bytes(),
        spki,
    ]
    if extensions:
        encoded = b"".join(_extension(value, critical) for value, critical in extensions)
        parts.append(_der(0xA3, _der(0x30, encoded)))
    tbs = _der(0x30, b"".join(parts))
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


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def _integer(value: int) -> bytes:
    """DER INTEGER of a non-negative ``value`` (minimal, a leading zero when the top bit is
    set)."""
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _time(moment: dt.datetime) -> bytes:
    """RFC 5280 Time: UTCTime for 1950-2049, GeneralizedTime otherwise (whole seconds)."""
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment
    if 1950 <= utc.year < 2050:
        return _der(0x17, utc.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _der(0x18, f"{utc.year:04d}{utc:%m%d%H%M%S}Z".encode("ascii"))


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    content = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        content += bytes(reversed(chunk))
    return _der(0x06, bytes(content))


def _extension(value: x509.ExtensionType, critical: bool) -> bytes:
    flag = _der(0x01, b"\xff") if critical else b""
    return _der(0x30, _oid(value.oid.dotted_string) + flag + _der(0x04, value.public_bytes()))


def _key_ids(subject: PublicKey, issuer: PublicKey) -> list[tuple[x509.ExtensionType, bool]]:
    return [
        (x509.SubjectKeyIdentifier.from_public_key(subject), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer), False),
    ]


# -- the CA ----------------------------------------------------------------------------------


def make_ca_with_signer(signer: Signer, common_name: str, *, days: int = 3650) -> x509.Certificate:
    """A self-signed CA certificate for the key behind ``signer`` (``xsudo ca create``: the
    key is in the key store): basicConstraints cA=true pathLen 0, keyUsage keyCertSign and
    cRLSign, key identifiers."""
    key = signer.public_key()
    name = cn_name(common_name)
    start, end = validity(days)
    return sign_certificate(
        signer,
        issuer=name,
        subject=name,
        public_key=key,
        not_before=start,
        not_after=end,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (CA_KEY_USAGE, True),
            *_key_ids(key, key),
        ],
    )


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
            "the CA certificate's key is not EC P-256",
            "use a P-256 CA (xsudo.ca.make_ca_with_signer makes one)",
            remedy=Remedy("create-ca"),
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
        raise BadInputError(f"a validity of {days} days is not positive", "give at least 1 day")
    name = check_name(subject if subject is not None else csr.subject)
    key = require_p256_public(csr.public_key())
    start, end = validity(days)
    return sign_certificate(
        ca.signer,
        issuer=ca.cert.subject,
        subject=name,
        public_key=key,
        not_before=start,
        not_after=min(end, ca.cert.not_valid_after_utc),
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
            (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False),
            *_key_ids(key, ca.signer.public_key()),
        ],
    )


__all__ = [
    "CA_KEY_USAGE",
    "ECDSA_SHA256_ALGID",
    "MAX_COMMON_NAME",
    "CertificateAuthority",
    "cert_pem",
    "check_name",
    "check_name_text",
    "cn_name",
    "issue_from_csr",
    "load_certificate",
    "make_ca_with_signer",
    "open_ca",
    "sign_certificate",
    "validity",
]
