"""The bodies of ``%KEYGEN``, ``%ATTESTTOKEN`` and ``%CLAIMTOKEN`` replies, shaped like real
modems' replies.

Every reply is ``<base64url(body)>.<base64url(COSE_Sign1)>`` without padding, the COSE_Sign1
signed by the simulated device identity key (:mod:`xsudo.sim.cose`). Facts from real replies
(tests/tokens/real_modem_tokens.json, the examples in nRFCloud/utils' README) and that
project's ``modem_credentials_parser.py``:

* ``%KEYGEN``: the body is the CSR DER (format 0) or the SubjectPublicKeyInfo DER (format 1).
  The COSE payload is attached: CBOR tag 55799 (self-described, ``d9 d9 f7``) around
  ``[payload_id, device_uuid(16), bstr(cbor(sec_tag)), sha256(body), nonce(16)]``, with
  payload id 9 (``CSR_msg_v1``) or 8 (``pubkey_msg_v2``).
* The CSR: version 0; subject ``CN=<device UUID>`` (UTF8String) unless attributes are given;
  the P-256 key; one attribute, extensionRequest, holding one non-critical keyUsage; the
  signatureAlgorithm ecdsa-with-SHA256, which older firmware (real mfw 1.3.x CSRs) encodes
  with a NULL parameter (:func:`csr_der` ``null_param``).
  Real CSRs made without ``<key_usage>`` carry keyUsage bits ``111010000``
  (digitalSignature, nonRepudiation, keyEncipherment, keyAgreement): :data:`DEFAULT_KEY_USAGE`.
* ``%ATTESTTOKEN``: the body is tag 55799 around ``[1, device_uuid(16), device_type,
  firmware_uuid(16), nonce(16)]``; the COSE_Sign1 payload is ``null`` (detached) and the
  signature covers the body (the exact detached input is unconfirmed, see
  :mod:`xsudo.sim.cose`).

Not confirmed by any real sample (the simulator's own choices): how ``<key_usage>`` bits map
to keyUsage bits (taken as string position i = KeyUsage bit i, digitalSignature first), what
an all-zero ``<key_usage>`` does (the CSR then carries no extensionRequest), and the whole
``%CLAIMTOKEN`` reply: shaped like ``%ATTESTTOKEN`` (tag 55799 body
``[6, device_uuid, sha256(ownership key), nonce]``, detached COSE).
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from xsudo.sim import cbor
from xsudo.sim.cose import sign1

PAYLOAD_PUBKEY = 8
PAYLOAD_CSR = 9
MSG_DEVICE_IDENTITY = 1
MSG_CLAIM = 6
SELF_DESCRIBED = 55799
KEY_USAGE_BITS = 9
DEFAULT_KEY_USAGE = "111010000"
"""keyUsage of real CSRs made without ``<key_usage>`` (BIT STRING ``03 02 03 e8``)."""
ECDSA_SHA256_NULL_ALGID = bytes.fromhex("300c06082a8648ce3d0403020500")
"""``SEQUENCE { ecdsa-with-SHA256, NULL }``: the signatureAlgorithm of older firmware."""

_ATTRIBUTE_OIDS = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "DNQUALIFIER": NameOID.DN_QUALIFIER,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
}


def b64url(data: bytes) -> str:
    """base64url without padding (what the modem prints)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def device_uuid(identity_public_der: bytes) -> uuid.UUID:
    """A stable version-4-shaped UUID derived from the identity key (the device's ID)."""
    raw = bytearray(hashlib.sha256(identity_public_der).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw))


def parse_attributes(text: str, default_cn: str) -> x509.Name | None:
    """``"O=Acme,CN=dev-1"`` -> an X.509 name; ``None`` for an unknown or empty attribute.

    An empty string gives ``CN=<default_cn>`` (real modems put the device UUID there).
    """
    if not text:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, default_cn)])
    attributes = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        oid = _ATTRIBUTE_OIDS.get(key.strip().upper())
        if oid is None or not sep or not value:
            return None
        if oid == NameOID.COUNTRY_NAME and len(value) != 2:
            return None
        attributes.append(x509.NameAttribute(oid, value))
    return x509.Name(attributes)


def valid_key_usage(bits: str) -> bool:
    """``<key_usage>`` must be exactly nine ``0``/``1`` characters."""
    return len(bits) == KEY_USAGE_BITS and set(bits) <= {"0", "1"}


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def key_usage_der(bits: str) -> bytes | None:
    """The DER keyUsage BIT STRING for a 9-character ``<key_usage>`` string (position i is
    KeyUsage bit i, digitalSignature first); ``None`` when no bit is set.

    DER named-bit rules: trailing zero bits are dropped and the unused-bit count says how
    many padding bits the last byte has (``111010000`` -> ``03 02 03 e8``).
    """
    if not valid_key_usage(bits):
        raise ValueError(f"key usage {bits!r} is not nine 0/1 characters")
    used = bits.rstrip("0")
    if not used:
        return None
    width = -(-len(used) // 8) * 8
    value = int(used.ljust(width, "0"), 2).to_bytes(width // 8, "big")
    return _der(0x03, bytes([width - len(used)]) + value)


def csr_der(
    key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    key_usage: str = DEFAULT_KEY_USAGE,
    *,
    null_param: bool = False,
) -> bytes:
    """A PKCS#10 CSR for ``key`` shaped like a real modem's (see the module docstring), DER.

    ``null_param`` gives the older-firmware quirk: the signatureAlgorithm is
    ``SEQUENCE { ecdsa-with-SHA256, NULL }``; the certificationRequestInfo is the same and
    freshly signed, so the signature is valid (only that encoding differs).
    """
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    usage = key_usage_der(key_usage)
    if usage is not None:
        extension = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, usage)
        builder = builder.add_extension(extension, critical=False)
    request = builder.sign(key, hashes.SHA256())
    if not null_param:
        return request.public_bytes(serialization.Encoding.DER)
    info = request.tbs_certrequest_bytes
    signature = key.sign(info, ec.ECDSA(hashes.SHA256()))
    return _der(0x30, info + ECDSA_SHA256_NULL_ALGID + _der(0x03, b"\x00" + signature))


def _keygen_payload(
    payload_id: int, dev_uuid: uuid.UUID, sec_tag: int, body: bytes, nonce: bytes
) -> bytes:
    digest = hashlib.sha256(body).digest()
    items: list[cbor.CborValue] = [payload_id, dev_uuid.bytes, cbor.dumps(sec_tag), digest, nonce]
    return cbor.dumps(cbor.Tag(SELF_DESCRIBED, items))


def keygen_reply(
    key: ec.EllipticCurvePrivateKey,
    output_format: int,
    subject: x509.Name,
    sec_tag: int,
    dev_uuid: uuid.UUID,
    identity: ec.EllipticCurvePrivateKey,
    nonce: bytes,
    *,
    key_usage: str = DEFAULT_KEY_USAGE,
    null_param: bool = False,
) -> str:
    """``%KEYGEN`` text: a CSR (format 0) or the SubjectPublicKeyInfo DER (format 1), and an
    attached COSE payload binding it to the device, the sec_tag and the nonce."""
    if output_format == 0:
        body = csr_der(key, subject, key_usage, null_param=null_param)
        payload_id = PAYLOAD_CSR
    else:
        body = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        payload_id = PAYLOAD_PUBKEY
    payload = _keygen_payload(payload_id, dev_uuid, sec_tag, body, nonce)
    return f"{b64url(body)}.{b64url(sign1(payload, identity))}"


def _detached_reply(items: list[cbor.CborValue], identity: ec.EllipticCurvePrivateKey) -> str:
    body = cbor.dumps(cbor.Tag(SELF_DESCRIBED, items))
    return f"{b64url(body)}.{b64url(sign1(body, identity, detached=True))}"


def attestation_reply(
    dev_uuid: uuid.UUID,
    device_type: int,
    fw_uuid: uuid.UUID,
    nonce: bytes,
    identity: ec.EllipticCurvePrivateKey,
) -> str:
    """``%ATTESTTOKEN`` text: tag 55799 ``[1, device_uuid, device_type, fw_uuid, nonce]`` and
    a COSE_Sign1 with a detached payload over it."""
    items: list[cbor.CborValue] = [
        MSG_DEVICE_IDENTITY,
        dev_uuid.bytes,
        device_type,
        fw_uuid.bytes,
        nonce,
    ]
    return _detached_reply(items, identity)


def claim_reply(
    dev_uuid: uuid.UUID,
    ownership_key: bytes,
    nonce: bytes,
    identity: ec.EllipticCurvePrivateKey,
) -> str:
    """``%CLAIMTOKEN`` text (the simulator's own shape): tag 55799
    ``[6, device_uuid, sha256(ownership key), nonce]`` and a detached COSE_Sign1 over it."""
    digest = hashlib.sha256(ownership_key).digest()
    return _detached_reply([MSG_CLAIM, dev_uuid.bytes, digest, nonce], identity)
