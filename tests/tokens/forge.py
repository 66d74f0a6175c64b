"""Hand-made modem tokens, built with cbor2 and cryptography only (nothing from xsudo).

The layout follows nRFCloud/utils' ``modem_credentials_parser.py`` and the real replies in
its test fixtures (see ``real_modem_tokens.json``): COSE_Sign1 = tag 18 around
``[bstr({1: -7}), {4: bstr(cbor(-2))}, payload, r||s]``; the payload
``[id, uuid, bstr(cbor(sec_tag)), sha256(body), nonce]`` in tag 55799.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

SELF_DESCRIBED = 55799
DEVICE = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")
FIRMWARE = uuid.UUID("0fedcba9-8765-4321-8fed-cba987654321")
NONCE = bytes(range(16))
ALGID_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
ALGID_SHA256_NULL = bytes.fromhex("300c06082a8648ce3d0403020500")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def csr_der(key: ec.EllipticCurvePrivateKey, cn: str = "device-1", org: str = "") -> bytes:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    name = x509.Name(attributes)
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def outer_content(der: bytes) -> bytes:
    """The content of the outermost SEQUENCE (short or long form length)."""
    assert der[0] == 0x30
    if der[1] < 0x80:
        return der[2:]
    return der[2 + (der[1] & 0x7F) :]


def with_algid(der: bytes, algid: bytes) -> bytes:
    """The CSR with its signatureAlgorithm replaced by ``algid`` (outer length redone)."""
    content = outer_content(der)
    assert content.count(ALGID_SHA256) == 1
    new = content.replace(ALGID_SHA256, algid)
    return b"\x30" + der_length(len(new)) + new


def null_quirk(der: bytes) -> bytes:
    """What older modem firmware sends: ecdsa-with-SHA256 with a NULL parameter."""
    return with_algid(der, ALGID_SHA256_NULL)


@dataclass
class Forge:
    """Knobs for one token; ``keygen()``/``attestation()`` give the reply text."""

    identity: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    alg: Any = -7
    payload_id: int = 9
    sec_tag: int = 42
    device: uuid.UUID = DEVICE
    nonce: bytes = NONCE
    digest: bytes | None = None
    self_described: bool = True
    detached: bool = False
    tag: int = 18
    sign_over: bytes | None = None
    signature: bytes | None = None

    def payload(self, body: bytes) -> bytes:
        digest = self.digest if self.digest is not None else hashlib.sha256(body).digest()
        items = [self.payload_id, self.device.bytes, cbor2.dumps(self.sec_tag), digest, self.nonce]
        return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBED, items) if self.self_described else items)

    def sign1(self, payload: bytes | None, content: bytes) -> bytes:
        protected = cbor2.dumps({1: self.alg})
        to_sign = cbor2.dumps(["Signature1", protected, b"", self.sign_over or content])
        der = self.identity.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        signature = self.signature or r.to_bytes(32, "big") + s.to_bytes(32, "big")
        unprotected = {4: cbor2.dumps(-2)}
        return cbor2.dumps(cbor2.CBORTag(self.tag, [protected, unprotected, payload, signature]))

    def keygen(self, body: bytes) -> str:
        payload = self.payload(body)
        return f"{b64url(body)}.{b64url(self.sign1(payload, payload))}"

    def attestation_body(self, device_type: int = 4) -> bytes:
        items = [1, self.device.bytes, device_type, FIRMWARE.bytes, self.nonce]
        return cbor2.dumps(cbor2.CBORTag(SELF_DESCRIBED, items) if self.self_described else items)

    def attestation(self, body: bytes | None = None) -> str:
        body = body if body is not None else self.attestation_body()
        if self.detached:
            cose = self.sign1(None, body)
        else:
            payload = self.payload(body)
            cose = self.sign1(payload, payload)
        return f"{b64url(body)}.{b64url(cose)}"
