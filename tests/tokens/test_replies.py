"""KEYGEN and ATTESTTOKEN replies: the simulator's, real modems', and hand-made tampered
ones (built with cbor2 + cryptography in ``forge``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import cbor2
import pytest

from tests.tokens import forge
from xsudo.crypto import fingerprint, load_public_key
from xsudo.errors import SignatureInvalid
from xsudo.sim import Modem, SimOptions
from xsudo.tokens import (
    NULL_QUIRK,
    TokenError,
    decode_attestation,
    decode_keygen,
    load_identity_key,
)

REAL = json.loads((Path(__file__).parent / "real_modem_tokens.json").read_text())


def sim_reply(modem: Modem, line: bytes) -> str:
    answer = modem.handle(line)
    assert answer.endswith(b'"\r\nOK\r\n'), answer
    return answer.split(b'"')[1].decode()


@pytest.fixture
def modem() -> Modem:
    sim = Modem(SimOptions())
    sim.handle(b"AT+CMEE=1")
    return sim


# -- the simulator ---------------------------------------------------------------------------


def test_simulator_keygen_reply_decodes_and_verifies(modem: Modem) -> None:
    reply = decode_keygen(sim_reply(modem, b'AT%KEYGEN=77,2,0,"O=Acme,CN=dev-1"'))
    assert reply.csr is not None and reply.csr.quirk is None
    assert reply.csr.subject.rfc4514_string() == "CN=dev-1,O=Acme"
    assert reply.payload.sec_tag == 77 and reply.payload.payload_id == 9
    assert reply.payload.device_uuid == modem.device_uuid
    assert reply.cose.kid_name == "identity_key"
    check = reply.verify(load_identity_key(modem.identity_public_pem()))
    assert check.status == "verified"
    assert check.key_fingerprint == fingerprint(modem.identity_public_key)
    assert reply.verify(None).status == "not-verified"
    assert "NOT verified" in reply.verify(None).message


def test_simulator_keygen_signature_fails_with_another_devices_key(modem: Modem) -> None:
    reply = decode_keygen(sim_reply(modem, b"AT%KEYGEN=1,2,0"))
    other = Modem(SimOptions()).identity_public_key
    with pytest.raises(SignatureInvalid, match="does not verify"):
        reply.verify(other)


def test_simulator_keygen_public_key_format(modem: Modem) -> None:
    reply = decode_keygen(sim_reply(modem, b"AT%KEYGEN=3,2,1"))
    assert reply.csr is None and reply.payload.payload_id == 8
    assert reply.verify(modem.identity_public_key).status == "verified"


def test_simulator_attestation_with_and_without_challenge(modem: Modem) -> None:
    challenge = bytes.fromhex("90115c20ac3f381b520b43c76bd5d99c")
    token = decode_attestation(
        sim_reply(modem, b'AT%ATTESTTOKEN="90115c20ac3f381b520b43c76bd5d99c"'), challenge
    )
    assert token.message.nonce == challenge
    assert token.message.device_uuid == modem.device_uuid
    assert token.message.firmware_uuid == modem.modem_uuid
    assert token.message.device_type_name == "nRF9161 LACA"
    assert token.verify(modem.identity_public_key).status == "verified"
    fresh = decode_attestation(sim_reply(modem, b"AT%ATTESTTOKEN"))
    assert fresh.message.nonce != challenge
    with pytest.raises(TokenError, match="does not carry the challenge"):
        decode_attestation(sim_reply(modem, b"AT%ATTESTTOKEN"), challenge)


# -- real modem output (nRFCloud/utils fixtures) ------------------------------------------


def test_real_keygen_reply_gives_what_nrfcloud_utils_extracts() -> None:
    reply = decode_keygen(REAL["keygen"]["reply"])
    assert reply.csr is not None and reply.csr.quirk == NULL_QUIRK
    assert str(reply.payload.device_uuid) == REAL["keygen"]["device_uuid"]
    assert reply.payload.sec_tag == REAL["keygen"]["sec_tag"]
    expected = load_public_key(REAL["keygen"]["public_key_pem"].encode())
    assert reply.fingerprint == fingerprint(expected)
    assert reply.verify(None).status == "not-verified"


def test_real_attestation_token_has_a_detached_payload() -> None:
    token = decode_attestation(REAL["attesttoken"]["reply"])
    assert str(token.message.device_uuid) == REAL["attesttoken"]["device_uuid"]
    assert token.message.message_type_name == "Device identity message v1"
    assert token.payload is None and token.cose.payload is None
    assert token.digest_check.startswith("not applicable")
    assert token.message.nonce is not None and len(token.message.nonce) == 16


# -- hand-made vectors -------------------------------------------------------------------


def test_hand_made_keygen_token_verifies() -> None:
    token = forge.Forge()
    reply = decode_keygen(token.keygen(forge.csr_der(forge.new_key())))
    check = reply.verify(token.identity.public_key())
    assert check.status == "verified" and not check.detached


def test_hand_made_token_without_the_self_described_tag_is_accepted() -> None:
    token = forge.Forge(self_described=False)
    reply = decode_keygen(token.keygen(forge.csr_der(forge.new_key())))
    assert reply.verify(token.identity.public_key()).status == "verified"


def test_the_quirk_csr_in_a_token_verifies_with_the_digest_of_the_received_bytes() -> None:
    token = forge.Forge()
    body = forge.null_quirk(forge.csr_der(forge.new_key()))
    reply = decode_keygen(token.keygen(body))
    assert reply.csr is not None and reply.csr.quirk == NULL_QUIRK
    assert reply.payload.digest == hashlib.sha256(body).digest()


def test_a_negative_sec_tag_is_the_unsigned_32_bit_value() -> None:
    token = forge.Forge(sec_tag=-2)
    reply = decode_keygen(token.keygen(forge.csr_der(forge.new_key())))
    assert reply.payload.sec_tag == 4294967294


def test_digest_mismatch() -> None:
    token = forge.Forge(digest=hashlib.sha256(b"another CSR").digest())
    with pytest.raises(TokenError, match="COSE digest mismatch"):
        decode_keygen(token.keygen(forge.csr_der(forge.new_key())))


def test_a_swapped_csr_is_a_digest_mismatch() -> None:
    token = forge.Forge()
    text = token.keygen(forge.csr_der(forge.new_key()))
    other = forge.b64url(forge.csr_der(forge.new_key()))
    with pytest.raises(TokenError, match="digest mismatch"):
        decode_keygen(other + "." + text.split(".")[1])


@pytest.mark.parametrize("alg", [-35, -8, 7, "ES256", None])
def test_wrong_alg(alg: object) -> None:
    token = forge.Forge(alg=alg)
    with pytest.raises(TokenError, match="expected ES256"):
        decode_keygen(token.keygen(forge.csr_der(forge.new_key())))


def test_bad_signature_fails_only_when_a_key_is_given() -> None:
    token = forge.Forge(signature=bytes(range(1, 65)))
    reply = decode_keygen(token.keygen(forge.csr_der(forge.new_key())))
    assert reply.verify(None).status == "not-verified"
    with pytest.raises(SignatureInvalid):
        reply.verify(token.identity.public_key())


def test_signature_over_other_bytes_fails() -> None:
    token = forge.Forge(sign_over=b"something else")
    reply = decode_keygen(token.keygen(forge.csr_der(forge.new_key())))
    with pytest.raises(SignatureInvalid):
        reply.verify(token.identity.public_key())


def test_zero_signature_is_invalid_not_a_crash() -> None:
    token = forge.Forge(signature=bytes(64))
    reply = decode_keygen(token.keygen(forge.csr_der(forge.new_key())))
    with pytest.raises(SignatureInvalid, match="malformed"):
        reply.verify(token.identity.public_key())


@pytest.mark.parametrize(
    ("knob", "value", "problem"),
    [
        ("tag", 17, "not a COSE_Sign1"),
        ("signature", b"\x01" * 63, "64 bytes"),
        ("payload_id", 3, "payload id is 3"),
    ],
)
def test_structure_errors(knob: str, value: object, problem: str) -> None:
    token = forge.Forge(**{knob: value})  # type: ignore[arg-type]
    with pytest.raises(TokenError, match=problem):
        decode_keygen(token.keygen(forge.csr_der(forge.new_key())))


def cose_of(items: list[object]) -> str:
    return forge.b64url(cbor2.dumps(cbor2.CBORTag(18, items)))


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([b"\xa1\x01\x26", {}, b"x"], "array of 4"),
        ([{1: -7}, {}, b"x", bytes(64)], "protected header is not a byte string"),
        ([b"\xa1\x01\x26", [], b"x", bytes(64)], "unprotected header is not a map"),
        ([b"\xa1\x01\x26", {}, 5, bytes(64)], "payload is neither"),
        ([b"", {}, b"x", bytes(64)], "expected ES256"),
        ([b"\xa1\x01\x26", {}, None, bytes(64)], "has no payload"),
        ([b"\xa1\x01\x26", {}, cbor2.dumps([9, b"short"]), bytes(64)], "array of 5"),
    ],
)
def test_malformed_cose(items: list[object], problem: str) -> None:
    body = forge.b64url(forge.csr_der(forge.new_key()))
    with pytest.raises(TokenError, match=problem):
        decode_keygen(f"{body}.{cose_of(items)}")


def test_truncated_and_padded_base64url() -> None:
    text = forge.Forge().keygen(forge.csr_der(forge.new_key()))
    body, cose = text.split(".")
    cut = len(cose) - (len(cose) % 4) - 3  # leaves a length of 1 mod 4
    with pytest.raises(TokenError, match="truncated"):
        decode_keygen(f"{body}.{cose[:cut]}")
    with pytest.raises(TokenError):
        decode_keygen(f"{body}.{cose[:-4]}")
    with pytest.raises(TokenError, match="padding"):
        decode_keygen(f"{body}=.{cose}")
    with pytest.raises(TokenError, match="digest mismatch"):
        decode_keygen(f"{body[: len(body) // 4 * 4 - 4]}.{cose}")


def test_attestation_detached_payload_verifies_over_the_body() -> None:
    token = forge.Forge(detached=True)
    attestation = decode_attestation(token.attestation())
    assert attestation.payload is None
    check = attestation.verify(token.identity.public_key())
    assert check.status == "verified" and check.detached


def test_attestation_detached_signature_over_other_content_fails() -> None:
    token = forge.Forge(detached=True, sign_over=b"not the body")
    with pytest.raises(SignatureInvalid):
        decode_attestation(token.attestation()).verify(token.identity.public_key())


def test_attestation_attached_payload_must_match_the_message() -> None:
    token = forge.Forge(device=uuid.UUID(int=1))
    body = forge.Forge().attestation_body()
    with pytest.raises(TokenError, match="names device"):
        decode_attestation(token.attestation(body))
    with pytest.raises(TokenError, match="digest mismatch"):
        decode_attestation(forge.Forge(digest=bytes(32)).attestation())


def test_attestation_body_shape() -> None:
    text = forge.Forge(detached=True).attestation(cbor2.dumps([1, b"short", 4, b"x" * 16]))
    with pytest.raises(TokenError, match="16-byte UUID"):
        decode_attestation(text)
    four = cbor2.dumps([1, forge.DEVICE.bytes, 6, forge.FIRMWARE.bytes])
    token = decode_attestation(forge.Forge(detached=True).attestation(four))
    assert token.message.nonce is None and token.message.device_type_name == "nRF9151 LACA"
    with pytest.raises(TokenError, match="does not carry the challenge"):
        decode_attestation(forge.Forge(detached=True).attestation(four), bytes(16))
