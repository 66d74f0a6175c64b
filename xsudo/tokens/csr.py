"""PKCS#10 CSRs from ``%KEYGEN``: strict DER, one known firmware quirk, self-signature.

Contract of :func:`load_csr`:

* The CSR must be strict DER (cryptography's parser refuses BER, trailing bytes, long-form
  lengths that fit short form), signed with ecdsa-with-SHA256, over an EC P-256 key, and
  its self-signature must verify.
* One deviation is repaired, and reported: CSRs from older nRF91 modem firmware encode the
  signatureAlgorithm as ``SEQUENCE { ecdsa-with-SHA256, NULL }`` although RFC 5758 says the
  parameters are absent (nRFCloud/utils normalises the same way before loading). Only that
  exact 14-byte AlgorithmIdentifier, directly after the certificationRequestInfo, is
  rewritten to the 12-byte standard form; the signed part is unchanged, so the signature
  still verifies. Any other deviation is refused.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import SignatureAlgorithmOID

from xsudo.crypto import PublicKey, fingerprint, require_p256_public
from xsudo.errors import UnsupportedKeyError
from xsudo.tokens.errors import TokenError

ECDSA_SHA256_ALGID = bytes.fromhex("300a06082a8648ce3d040302")
ECDSA_SHA256_NULL_ALGID = bytes.fromhex("300c06082a8648ce3d0403020500")
_PEM_BEGIN = "-----BEGIN CERTIFICATE REQUEST-----"
_PEM_END = "-----END CERTIFICATE REQUEST-----"
NULL_QUIRK = "signatureAlgorithm ecdsa-with-SHA256 carried a NULL parameter (older modem firmware)"


@dataclass(frozen=True)
class CsrInfo:
    """A verified CSR. ``received`` is the DER as the modem sent it; ``der`` is what was
    verified (differs only when :attr:`quirk` names the repair)."""

    received: bytes
    der: bytes
    quirk: str | None
    csr: x509.CertificateSigningRequest

    @property
    def subject(self) -> x509.Name:
        return self.csr.subject

    @property
    def public_key(self) -> PublicKey:
        return require_p256_public(self.csr.public_key())

    @property
    def fingerprint(self) -> str:
        """Lower-case hex SHA-256 of the CSR's SubjectPublicKeyInfo DER."""
        return fingerprint(self.public_key)

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the DER as received (what the COSE payload carries)."""
        return hashlib.sha256(self.received).hexdigest()

    def pem(self) -> bytes:
        """The CSR as received, PEM-armoured (64-character lines, one trailing LF).

        The modem's own bytes are kept (quirk included), so SHA-256 of the DER inside still
        equals the digest in the signed COSE payload; OpenSSL accepts the quirk.
        """
        body = base64.b64encode(self.received).decode("ascii")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return ("\n".join([_PEM_BEGIN, *lines, _PEM_END]) + "\n").encode("ascii")


def _length(data: bytes, pos: int) -> tuple[int, int]:
    """A strict DER length at ``pos`` -> (length, position after it); ``ValueError`` else."""
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4:
        raise ValueError("indefinite or oversized length")
    raw = data[pos + 1 : pos + 1 + count]
    if len(raw) != count or raw[0] == 0:
        raise ValueError("truncated or non-minimal length")
    value = int.from_bytes(raw, "big")
    if value < 0x80:
        raise ValueError("long form for a short length")
    return value, pos + 1 + count


def _tlv(data: bytes, pos: int, tag: int) -> int:
    """The end of the TLV with ``tag`` at ``pos`` (strict DER); ``ValueError`` otherwise."""
    if pos >= len(data) or data[pos] != tag:
        raise ValueError("unexpected tag")
    length, start = _length(data, pos + 1)
    if start + length > len(data):
        raise ValueError("truncated")
    return start + length


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def normalise_null_quirk(der: bytes) -> bytes | None:
    """The standard DER of a CSR whose only deviation is the NULL-parameter quirk, or
    ``None`` when ``der`` does not have exactly that shape."""
    try:
        outer_content = _tlv(der, 0, 0x30)
        if outer_content != len(der):
            return None
        _, info_start = _length(der, 1)
        info_end = _tlv(der, info_start, 0x30)
        alg_end = info_end + len(ECDSA_SHA256_NULL_ALGID)
        if der[info_end:alg_end] != ECDSA_SHA256_NULL_ALGID:
            return None
        if _tlv(der, alg_end, 0x03) != len(der):
            return None
    except (ValueError, IndexError):
        return None
    content = der[info_start:info_end] + ECDSA_SHA256_ALGID + der[alg_end:]
    return b"\x30" + _der_length(len(content)) + content


def load_csr(received: bytes) -> CsrInfo:
    """Load and verify a CSR from ``%KEYGEN`` (see the module contract)."""
    der, quirk = received, None
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError as first_error:
        repaired = normalise_null_quirk(received)
        if repaired is None:
            raise TokenError(f"the KEYGEN body is not a DER PKCS#10 CSR ({first_error})") from None
        der, quirk = repaired, NULL_QUIRK
        try:
            csr = x509.load_der_x509_csr(der)
        except ValueError as exc:
            raise TokenError(f"the KEYGEN body is not a DER PKCS#10 CSR ({exc})") from None
    if csr.signature_algorithm_oid != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
        raise TokenError(
            f"the CSR is signed with {csr.signature_algorithm_oid.dotted_string}, "
            "expected ecdsa-with-SHA256"
        )
    try:
        require_p256_public(csr.public_key())
    except (UnsupportedKeyError, UnsupportedAlgorithm, ValueError) as exc:
        raise TokenError(f"the CSR's key is not EC P-256 ({exc})") from None
    if not csr.is_signature_valid:
        raise TokenError("the CSR's self-signature does not verify (the CSR was altered)")
    return CsrInfo(received, der, quirk, csr)
