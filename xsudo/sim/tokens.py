"""The bodies of ``%KEYGEN``, ``%ATTESTTOKEN`` and ``%CLAIMTOKEN`` replies.

Every reply is ``<base64url(body)>.<base64url(COSE_Sign1)>`` without padding. The COSE
payload follows the layout nRFCloud/utils parses from real modems:
``[payload_id, device_uuid(16), bstr(cbor(sec_tag)), sha256(body), nonce(16)]``, signed by
the simulated device identity key. Payload ids 9 (CSR) and 8 (public key) are Nordic's;
1 (attestation) and 10 (claim) are this simulator's own choice.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xsudo.sim import cbor
from xsudo.sim.cose import sign1

PAYLOAD_PUBKEY = 8
PAYLOAD_CSR = 9
PAYLOAD_ATTESTATION = 1
PAYLOAD_CLAIM = 10
MSG_DEVICE_IDENTITY = 1
MSG_CLAIM = 6

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


def csr_der(key: ec.EllipticCurvePrivateKey, subject: x509.Name) -> bytes:
    """A PKCS#10 CSR for ``key`` (ecdsa-with-SHA256), DER."""
    request = x509.CertificateSigningRequestBuilder().subject_name(subject)
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _token(
    body: bytes,
    payload_id: int,
    dev_uuid: uuid.UUID,
    sec_tag: int,
    nonce: bytes,
    identity: ec.EllipticCurvePrivateKey,
) -> str:
    payload = cbor.dumps(
        [payload_id, dev_uuid.bytes, cbor.dumps(sec_tag), hashlib.sha256(body).digest(), nonce]
    )
    return f"{b64url(body)}.{b64url(sign1(payload, identity))}"


def keygen_reply(
    key: ec.EllipticCurvePrivateKey,
    output_format: int,
    subject: x509.Name,
    sec_tag: int,
    dev_uuid: uuid.UUID,
    identity: ec.EllipticCurvePrivateKey,
    nonce: bytes,
) -> str:
    """``%KEYGEN`` text: a CSR (format 0) or the SubjectPublicKeyInfo DER (format 1)."""
    if output_format == 0:
        body, payload_id = csr_der(key, subject), PAYLOAD_CSR
    else:
        body = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        payload_id = PAYLOAD_PUBKEY
    return _token(body, payload_id, dev_uuid, sec_tag, nonce, identity)


def attestation_reply(
    dev_uuid: uuid.UUID,
    device_type: int,
    fw_uuid: uuid.UUID,
    nonce: bytes,
    identity: ec.EllipticCurvePrivateKey,
) -> str:
    """``%ATTESTTOKEN`` text: ``[1, device_uuid, device_type, fw_uuid, nonce]`` + COSE."""
    body = cbor.dumps([MSG_DEVICE_IDENTITY, dev_uuid.bytes, device_type, fw_uuid.bytes, nonce])
    return _token(body, PAYLOAD_ATTESTATION, dev_uuid, 0, nonce, identity)


def claim_reply(
    dev_uuid: uuid.UUID,
    sec_tag: int,
    ownership_key: bytes,
    nonce: bytes,
    identity: ec.EllipticCurvePrivateKey,
) -> str:
    """``%CLAIMTOKEN`` text: ``[6, device_uuid, sha256(ownership key), nonce]`` + COSE."""
    body = cbor.dumps([MSG_CLAIM, dev_uuid.bytes, hashlib.sha256(ownership_key).digest(), nonce])
    return _token(body, PAYLOAD_CLAIM, dev_uuid, sec_tag, nonce, identity)
