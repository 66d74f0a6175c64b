"""Rules S26-S27a: %KEYGEN, %ATTESTTOKEN, %CLAIMTOKEN replies have the right shape and verify.

CSRs are checked with ``cryptography`` and the ``openssl`` CLI; COSE_Sign1 with ``cbor2`` and
the device identity public key the simulator exposes. The comparison with real modem replies
is in ``test_tokens_fidelity.py``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

from xsudo.sim import Modem, SimOptions
from xsudo.sim.cose import CoseError, verify1
from xsudo.sim.tokens import key_usage_der

SELF_DESCRIBED = bytes.fromhex("d9d9f7")
TOKEN = re.compile(rb'(%[A-Z]+): "([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)"\r\nOK\r\n')
CMEE1 = b"AT+CMEE=1"


def unb64url(text: bytes) -> bytes:
    """Decode the way nrfcredstore and nRFCloud/utils do: add padding, urlsafe decode."""
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def split(answer: bytes, name: bytes) -> tuple[bytes, bytes]:
    match = TOKEN.fullmatch(answer)
    assert match is not None, answer
    assert match.group(1) == name
    return unb64url(match.group(2)), unb64url(match.group(3))


def check_cose(cose: bytes, modem: Modem, detached: bytes | None = None) -> bytes:
    """Check the COSE_Sign1 independently (cbor2 + cryptography); return the signed content
    (the attached payload, or ``detached`` when the payload is null)."""
    cbor2 = pytest.importorskip("cbor2")
    item = cbor2.loads(cose)
    assert item.tag == 18
    protected, unprotected, payload, signature = item.value
    assert protected == b"\xa1\x01\x26"  # {1: -7}
    assert dict(unprotected) == {4: b"\x21"}  # kid: bstr(cbor(-2))
    assert len(signature) == 64
    if detached is None:
        assert isinstance(payload, bytes)
        content = payload
    else:
        assert payload is None
        content = detached
    to_sign = cbor2.dumps(["Signature1", protected, b"", content])
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    modem.identity_public_key.verify(der, to_sign, ec.ECDSA(hashes.SHA256()))
    assert verify1(cose, modem.identity_public_key, detached) == content
    return bytes(content)


def self_described(data: bytes) -> list[Any]:
    """CBOR that must sit in tag 55799 (as real modems send it), decoded with cbor2."""
    cbor2 = pytest.importorskip("cbor2")
    assert data[:3] == SELF_DESCRIBED, data[:3].hex()
    decoded: list[Any] = cbor2.loads(data[3:])
    return decoded


def cose_payload(cose: bytes, modem: Modem) -> list[Any]:
    """Check an attached COSE_Sign1 and return its decoded (tag 55799) payload."""
    return self_described(check_cose(cose, modem))


def device_uuid(modem: Modem) -> bytes:
    return modem.handle(b"AT%DEVICEUUID").split(b": ")[1].split(b"\r\n")[0]


def test_keygen_csr_is_valid_and_signed_by_the_stored_key(tmp_path: Path) -> None:
    modem = Modem()
    body, cose = split(modem.handle(b"AT%KEYGEN=16842753,2,0"), b"%KEYGEN")
    csr = x509.load_der_x509_csr(body)
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        device_uuid(modem).decode()
    )
    stored = serialization.load_pem_private_key(modem.nvm.credentials[(16842753, 2)], None)
    assert stored.public_key() == csr.public_key()
    (tmp_path / "csr.der").write_bytes(body)
    result = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(tmp_path / "csr.der"), "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
    )
    # OpenSSL 3.0 exits 0 even when the self-signature fails; the verdict line is the check.
    verdict = result.stdout + result.stderr
    assert "verify OK" in verdict and "failure" not in verdict, verdict
    payload = cose_payload(cose, modem)
    assert payload[0] == 9
    assert str(__import__("uuid").UUID(bytes=payload[1])).encode() == device_uuid(modem)
    assert payload[2] == bytes([0x1A]) + (16842753).to_bytes(4, "big")
    assert payload[3] == hashlib.sha256(body).digest()
    assert len(payload[4]) == 16


def key_usage_of(csr: x509.CertificateSigningRequest) -> x509.Extension[x509.KeyUsage]:
    assert len(csr.extensions) == 1
    return csr.extensions.get_extension_for_class(x509.KeyUsage)


def test_keygen_attributes_and_key_usage(tmp_path: Path) -> None:
    modem = Modem()
    answer = modem.handle(b'AT%KEYGEN=52,2,0,"O=Acme,CN=nrf-352656100367872","101010000"')
    body = split(answer, b"%KEYGEN")[0]
    csr = x509.load_der_x509_csr(body)
    assert csr.subject.rfc4514_string() == "CN=nrf-352656100367872,O=Acme"
    usage = key_usage_of(csr)
    assert not usage.critical
    assert usage.value.digital_signature and usage.value.key_encipherment
    assert usage.value.key_agreement and not usage.value.content_commitment
    assert not usage.value.data_encipherment and not usage.value.key_cert_sign
    (tmp_path / "csr.der").write_bytes(body)
    text = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(tmp_path / "csr.der"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Digital Signature, Key Encipherment, Key Agreement" in text


def test_keygen_default_key_usage_is_the_one_real_csrs_carry() -> None:
    """Real CSRs made without <key_usage> carry BIT STRING 03 02 03 e8 (see the fixture)."""
    body = split(Modem().handle(b"AT%KEYGEN=52,2,0"), b"%KEYGEN")[0]
    usage = key_usage_of(x509.load_der_x509_csr(body)).value
    assert (usage.digital_signature, usage.content_commitment, usage.key_encipherment) == (
        True,
        True,
        True,
    )
    assert usage.key_agreement and not usage.data_encipherment
    assert not (usage.key_cert_sign or usage.crl_sign or usage.encipher_only)
    assert bytes.fromhex("0603551d0f0404030203e8") in body


def test_keygen_all_zero_key_usage_leaves_the_extension_out() -> None:
    body = split(Modem().handle(b'AT%KEYGEN=52,2,0,"","000000000"'), b"%KEYGEN")[0]
    assert list(x509.load_der_x509_csr(body).extensions) == []


@pytest.mark.parametrize("bits", ["111010000", "101010000", "000000001", "100000000", "111111111"])
def test_key_usage_der_matches_asn1crypto(bits: str) -> None:
    asn1_x509 = pytest.importorskip("asn1crypto.x509")
    names = [
        "digital_signature",
        "non_repudiation",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    expected = asn1_x509.KeyUsage({n for n, bit in zip(names, bits, strict=True) if bit == "1"})
    assert key_usage_der(bits) == expected.dump()


def test_keygen_public_key_format() -> None:
    modem = Modem()
    body, cose = split(modem.handle(b"AT%KEYGEN=9,2,1"), b"%KEYGEN")
    key = serialization.load_der_public_key(body)
    stored = serialization.load_pem_private_key(modem.nvm.credentials[(9, 2)], None)
    assert key == stored.public_key()
    assert cose_payload(cose, modem)[0] == 8


def test_keygen_type_8_reuses_the_key_and_type_2_replaces_it() -> None:
    modem = Modem()
    first = split(modem.handle(b"AT%KEYGEN=9,8,1"), b"%KEYGEN")[0]
    second = split(modem.handle(b"AT%KEYGEN=9,8,1"), b"%KEYGEN")[0]
    assert first == second
    third = split(modem.handle(b"AT%KEYGEN=9,2,1"), b"%KEYGEN")[0]
    fourth = split(modem.handle(b"AT%KEYGEN=9,2,1"), b"%KEYGEN")[0]
    assert third != fourth
    listed = modem.handle(b"AT%CMNG=1,9,2")
    digest = hashlib.sha256(modem.nvm.credentials[(9, 2)]).hexdigest().upper().encode()
    assert listed == b'%CMNG: 9,2,"' + digest + b'"\r\nOK\r\n'


@pytest.mark.parametrize(
    ("setup", "command", "expected"),
    [
        ((b"AT+CFUN=1",), b"AT%KEYGEN=9,2,0", b"+CME ERROR: 518\r\n"),
        ((), b"AT%KEYGEN=2147483648,2,0", b"+CME ERROR: 514\r\n"),
        ((), b"AT%KEYGEN=9,3,0", b"+CME ERROR: 50\r\n"),
        ((), b"AT%KEYGEN=9,2,2", b"+CME ERROR: 50\r\n"),
        ((), b"AT%KEYGEN=9,2", b"+CME ERROR: 50\r\n"),
        ((), b'AT%KEYGEN=9,2,0,"XX=1"', b"+CME ERROR: 50\r\n"),
        ((), b'AT%KEYGEN=9,2,0,"CN=a","12"', b"+CME ERROR: 50\r\n"),
        ((), b"AT%KEYGEN?", b"ERROR\r\n"),
        ((b"#pofwarn",), b"AT%KEYGEN=9,2,0", b"+CME ERROR: 528\r\n"),
        ((), b'AT%ATTESTTOKEN="abc"', b"+CME ERROR: 50\r\n"),
        ((), b'AT%ATTESTTOKEN="' + b"g" * 32 + b'"', b"+CME ERROR: 50\r\n"),
        ((), b"AT%ATTESTTOKEN=" + b"0" * 32, b"+CME ERROR: 50\r\n"),
        ((), b"AT%CLAIMTOKEN=7", b"+CME ERROR: 529\r\n"),
        ((), b"AT%CLAIMTOKEN=x", b"+CME ERROR: 50\r\n"),
        ((b'AT%CMNG=0,7,9,"owner"',), b'AT%CLAIMTOKEN=7,"abc"', b"+CME ERROR: 50\r\n"),
    ],
)
def test_token_errors(setup: tuple[bytes, ...], command: bytes, expected: bytes) -> None:
    modem = Modem()
    modem.handle(CMEE1)
    for line in setup:
        if line == b"#pofwarn":
            modem.trigger_pofwarn()
        else:
            modem.handle(line)
    assert modem.handle(command) == expected


@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0"])
def test_attestation_token(profile: str) -> None:
    modem = Modem(SimOptions(profile=profile))
    body, cose = split(modem.handle(b"AT%ATTESTTOKEN"), b"%ATTESTTOKEN")
    message = self_described(body)
    assert message[0] == 1
    assert message[1] == modem.device_uuid.bytes
    assert message[2] == modem.options.profile_info.device_type
    assert str(__import__("uuid").UUID(bytes=message[3])).encode() in modem.handle(b"AT%XMODEMUUID")
    assert len(message[4]) == 16
    assert check_cose(cose, modem, detached=body) == body


def test_attestation_signature_covers_the_body() -> None:
    modem = Modem()
    body, cose = split(modem.handle(b"AT%ATTESTTOKEN"), b"%ATTESTTOKEN")
    with pytest.raises(CoseError, match="does not verify"):
        verify1(cose, modem.identity_public_key, body[:-1] + bytes([body[-1] ^ 1]))
    with pytest.raises(CoseError, match="no content"):
        verify1(cose, modem.identity_public_key)


def test_attestation_challenge_replaces_the_nonce() -> None:
    modem = Modem()
    challenge = "90115c20ac3f381b520b43c76bd5d99c"
    answer = modem.handle(b'AT%ATTESTTOKEN="' + challenge.encode() + b'"')
    body, cose = split(answer, b"%ATTESTTOKEN")
    assert self_described(body)[4] == bytes.fromhex(challenge)
    check_cose(cose, modem, detached=body)


def test_claim_token_needs_an_ownership_key() -> None:
    modem = Modem()
    modem.handle(CMEE1)
    assert modem.handle(b"AT%CLAIMTOKEN=7") == b"+CME ERROR: 529\r\n"
    assert modem.handle(b'AT%CMNG=0,7,9,"owner"') == b"OK\r\n"
    challenge = "00112233445566778899aabbccddeeff"
    answer = modem.handle(b'AT%CLAIMTOKEN=7,"' + challenge.encode() + b'"')
    body, cose = split(answer, b"%CLAIMTOKEN")
    message = self_described(body)
    assert message[:2] == [6, modem.device_uuid.bytes]
    assert message[2] == hashlib.sha256(b"owner").digest()
    assert message[3] == bytes.fromhex(challenge)
    check_cose(cose, modem, detached=body)


def test_identity_public_key_is_the_reserved_type_6_entry() -> None:
    modem = Modem()
    pem = modem.nvm.credentials[(4294967294, 6)]
    assert serialization.load_pem_public_key(pem) == modem.identity_public_key
    assert modem.identity_public_pem() == pem
