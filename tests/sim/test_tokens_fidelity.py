"""The simulator's token replies have the STRUCTURE of real modem replies, field by field.

References: ``tests/tokens/real_modem_tokens.json`` (an nRF9160's ``AT%KEYGEN=17,2,0`` and
``AT%ATTESTTOKEN`` replies, published in nRFCloud/utils' test fixtures) and
:data:`REAL_PUBKEY_REPLY`. Values (keys, UUIDs, nonces, digests, signatures) differ by
nature; everything else must match: CBOR tags (including the self-described tag 55799,
which cbor2 drops silently, so it is checked on the bytes), array lengths, item types,
byte-string lengths, the COSE headers byte for byte, and the CSR's ASN.1 layout. Decoding
uses cbor2 and asn1crypto, never the simulator's own codec.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import cbor2
import pytest
import serial
from asn1crypto import algos, csr, keys

from xsudo.cli.sim import options_from_flags, sim
from xsudo.sim import Modem, SimOptions, register_url_handler
from xsudo.sim.registry import parse_sim_url
from xsudo.tokens import NULL_QUIRK, decode_attestation, decode_keygen

REAL = json.loads((Path(__file__).parents[1] / "tokens" / "real_modem_tokens.json").read_text())
REAL_PUBKEY_REPLY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZKgDx0O0FKa7i1yFoxYngNdV5Csyi4rEPHcFTfeBVtkkJX-G0QZs-ye"
    "sfzIaPs91b4x5xYN_g28k63gkeVMJwA.0oRDoQEmoQRBIVhL2dn3hQhQUDYxVDkxRPCAIhIbZAFifUEQWCDlovwqMVoJ"
    "1W-x93Tqypy2v_1ALv3-GCF1R9gYIy2WVlBQXvxKqA9JTveFh3nVwce-WEAMltwSSkVh8jSBPhP79ndSG0HJTOaTF9SE"
    "xIq-FstjdLUW2inxdvVfqzLa05rgXqxshN5vfQIs22QT-swCt30h"
)
"""A real ``AT%KEYGEN=16,2,1`` reply (public key format), from the examples in nRFCloud/utils'
``python/modem-firmware-1.3+/README.md`` (Copyright (c) Nordic Semiconductor ASA)."""
SELF_DESCRIBED = bytes.fromhex("d9d9f7")
REAL_KEYGEN_TAG = REAL["keygen"]["sec_tag"]


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(reply: str) -> tuple[bytes, bytes]:
    body, cose = reply.split(".")
    return unb64url(body), unb64url(cose)


def sim_reply(modem: Modem, command: bytes) -> str:
    answer = modem.handle(command)
    assert answer.endswith(b'"\r\nOK\r\n'), answer
    return answer.split(b'"')[1].decode("ascii")


# -- structure extractors (values out, structure in) ------------------------------------------


def shape(value: Any) -> Any:
    """Tags, array lengths, item types and byte-string lengths of a decoded CBOR item."""
    if isinstance(value, cbor2.CBORTag):
        return ("tag", value.tag, shape(value.value))
    if isinstance(value, list | tuple):
        return ("array", [shape(item) for item in value])
    if isinstance(value, dict):
        return ("map", {key: shape(item) for key, item in value.items()})
    if isinstance(value, bytes):
        return ("bstr", len(value))
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return ("uint" if value >= 0 else "nint", len(cbor2.dumps(value)))
    return type(value).__name__


def cbor_shape(data: bytes) -> tuple[bool, Any]:
    """(wrapped in tag 55799?, shape of the item inside)."""
    wrapped = data[:3] == SELF_DESCRIBED
    return wrapped, shape(cbor2.loads(data[3:] if wrapped else data))


def cose_structure(cose: bytes) -> dict[str, Any]:
    """A COSE_Sign1's structure; the headers are kept byte for byte (they are the format)."""
    item = cbor2.loads(cose)
    assert isinstance(item, cbor2.CBORTag)
    protected, unprotected, payload, signature = item.value
    return {
        "tag": item.tag,
        "items": len(item.value),
        "protected": protected,
        "protected_decoded": dict(cbor2.loads(protected)),
        "unprotected": dict(unprotected),
        "kid": cbor2.loads(unprotected[4]),
        "payload": None if payload is None else cbor_shape(payload),
        "signature": ("bstr", len(signature)),
        "bytes_before_payload": cose[:10],
    }


def keygen_payload(cose: bytes) -> list[Any]:
    payload = cbor2.loads(cose).value[2]
    assert payload[:3] == SELF_DESCRIBED
    decoded: list[Any] = cbor2.loads(payload[3:])
    return decoded


def csr_structure(der: bytes) -> dict[str, Any]:
    """The CSR's ASN.1 layout (asn1crypto): everything but the key, the names' text and the
    signature value."""
    request = csr.CertificationRequest.load(der)
    info = request["certification_request_info"]
    signature = algos.DSASignature.load(request["signature"].native)
    return {
        "outer_items": len(request),
        "version": info["version"].native,
        "subject": [
            [(a["type"].dotted, a["value"].name) for a in rdn] for rdn in info["subject"].chosen
        ],
        "spki_algorithm": info["subject_pk_info"]["algorithm"].dump(),
        "spki_key_bytes": len(info["subject_pk_info"]["public_key"].contents),
        "attributes": [
            (
                attribute["type"].dotted,
                [
                    [
                        (e["extn_id"].dotted, e["critical"].native, e["extn_value"].contents)
                        for e in v
                    ]
                    for v in attribute["values"]
                ],
            )
            for attribute in info["attributes"]
        ],
        "signature_algorithm": request["signature_algorithm"].dump(),
        "signature": (
            "ECDSA-Sig-Value",
            len(signature),
            signature.dump() == request["signature"].native,
        ),
    }


# -- %KEYGEN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("null_param", [False, True])
def test_keygen_csr_reply_has_the_real_structure(null_param: bool) -> None:
    modem = Modem(SimOptions(csr_null_param=null_param))
    sim_body, sim_cose = parts(sim_reply(modem, f"AT%KEYGEN={REAL_KEYGEN_TAG},2,0".encode()))
    real_body, real_cose = parts(REAL["keygen"]["reply"])
    assert cose_structure(sim_cose) == cose_structure(real_cose)
    assert len(sim_cose) == len(real_cose)
    assert keygen_payload(sim_cose)[0] == keygen_payload(real_cose)[0] == 9
    sim_csr, real_csr = csr_structure(sim_body), csr_structure(real_body)
    standard = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}).dump()
    if null_param:
        assert sim_csr == real_csr
    else:
        assert sim_csr["signature_algorithm"] == standard
        assert {**sim_csr, "signature_algorithm": None} == {**real_csr, "signature_algorithm": None}


def test_null_param_csr_is_the_real_layout_byte_for_byte_and_verifies(tmp_path: Path) -> None:
    """With the device UUID and the public key swapped for the real ones, the simulator's
    certificationRequestInfo IS the real one; the signatureAlgorithm bytes are the real ones;
    the signature is valid (OpenSSL and the client decoder agree)."""
    modem = Modem(SimOptions(csr_null_param=True))
    reply = sim_reply(modem, f"AT%KEYGEN={REAL_KEYGEN_TAG},2,0".encode())
    sim_der, real_der = parts(reply)[0], parts(REAL["keygen"]["reply"])[0]
    sim_req, real_req = (
        csr.CertificationRequest.load(sim_der),
        csr.CertificationRequest.load(real_der),
    )

    def point(request: csr.CertificationRequest) -> bytes:
        return bytes(
            request["certification_request_info"]["subject_pk_info"]["public_key"].contents
        )

    sim_info = sim_req["certification_request_info"].dump()
    swapped = sim_info.replace(point(sim_req), point(real_req)).replace(
        str(modem.device_uuid).encode(), REAL["keygen"]["device_uuid"].encode()
    )
    assert swapped == real_req["certification_request_info"].dump()
    assert sim_req["signature_algorithm"].dump() == real_req["signature_algorithm"].dump()
    (tmp_path / "csr.der").write_bytes(sim_der)
    done = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(tmp_path / "csr.der"), "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
    )
    verdict = done.stdout + done.stderr
    assert "verify OK" in verdict and "failure" not in verdict, verdict
    decoded = decode_keygen(reply)
    assert decoded.csr is not None and decoded.csr.quirk == NULL_QUIRK
    assert decoded.verify(modem.identity_public_key).status == "verified"


def test_keygen_public_key_reply_has_the_real_structure() -> None:
    modem = Modem()
    sim_body, sim_cose = parts(sim_reply(modem, b"AT%KEYGEN=16,2,1"))
    real_body, real_cose = parts(REAL_PUBKEY_REPLY)
    assert cose_structure(sim_cose) == cose_structure(real_cose)
    assert keygen_payload(sim_cose)[0] == keygen_payload(real_cose)[0] == 8
    sim_key, real_key = keys.PublicKeyInfo.load(sim_body), keys.PublicKeyInfo.load(real_body)
    assert sim_key["algorithm"].dump() == real_key["algorithm"].dump()
    assert len(sim_body) == len(real_body) == 91


def test_keygen_payload_fields_line_up_with_the_real_ones() -> None:
    """[id, uuid(16), bstr(cbor(sec_tag)), sha256(body), nonce(16)], all in tag 55799."""
    modem = Modem()
    reply = sim_reply(modem, f"AT%KEYGEN={REAL_KEYGEN_TAG},2,0".encode())
    for text, uuid_text in ((reply, str(modem.device_uuid)), (REAL["keygen"]["reply"], None)):
        payload = keygen_payload(parts(text)[1])
        assert cbor2.loads(payload[2]) == REAL_KEYGEN_TAG
        assert [len(payload[1]), len(payload[3]), len(payload[4])] == [16, 32, 16]
        if uuid_text is not None:
            assert payload[1].hex() == uuid_text.replace("-", "")


# -- %ATTESTTOKEN ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [b"AT%ATTESTTOKEN", b'AT%ATTESTTOKEN="' + b"ab" * 16 + b'"'])
@pytest.mark.parametrize("profile", ["nrf9160-1.3", "nrf91x1-2.0"])
def test_attestation_reply_has_the_real_structure(command: bytes, profile: str) -> None:
    sim_body, sim_cose = parts(sim_reply(Modem(SimOptions(profile=profile)), command))
    real_body, real_cose = parts(REAL["attesttoken"]["reply"])
    assert cbor_shape(sim_body) == cbor_shape(real_body)
    assert cbor2.loads(sim_body[3:])[0] == cbor2.loads(real_body[3:])[0] == 1
    assert cose_structure(sim_cose) == cose_structure(real_cose)
    assert cose_structure(sim_cose)["payload"] is None  # detached, as real modems send it
    assert sim_cose[:13] == real_cose[:13] and len(sim_cose) == len(real_cose)
    assert len(sim_body) == len(real_body)


def test_the_client_decoder_sees_the_simulator_as_it_sees_a_real_modem() -> None:
    modem = Modem()
    sim_token = decode_attestation(sim_reply(modem, b"AT%ATTESTTOKEN"))
    real_token = decode_attestation(REAL["attesttoken"]["reply"])
    assert sim_token.payload is None and real_token.payload is None
    assert sim_token.digest_check == real_token.digest_check
    assert sim_token.to_json().keys() == real_token.to_json().keys()
    assert sim_token.verify(modem.identity_public_key).detached
    sim_keygen = decode_keygen(sim_reply(modem, b"AT%KEYGEN=17,2,0"))
    real_keygen = decode_keygen(REAL["keygen"]["reply"])
    assert sim_keygen.payload.payload_name == real_keygen.payload.payload_name
    assert sim_keygen.to_json().keys() == real_keygen.to_json().keys()


# -- the csr_null_param option, by every way into the simulator --------------------------------


def test_csr_null_param_is_one_option_for_the_cli_the_url_and_the_mapping() -> None:
    expected = SimOptions(csr_null_param=True)
    assert SimOptions().csr_null_param is None  # the profile decides: on for nrf9160-1.3
    context = sim.make_context("sim", ["--pty", "--csr-null-param"])
    values = {k: v for k, v in context.params.items() if k not in ("use_pty", "tcp")}
    assert options_from_flags(values) == expected
    assert parse_sim_url("sim://?csr_null_param=1")[1] == expected
    assert parse_sim_url("sim://?csr-null-param")[1] == expected
    assert SimOptions.from_mapping(expected.to_mapping()) == expected


def test_csr_null_param_through_a_sim_url_port() -> None:
    register_url_handler()
    for url, algorithm_id in (
        ("sim://?csr_null_param=1", "300c06082a8648ce3d0403020500"),
        ("sim://", "300a06082a8648ce3d040302"),
    ):
        with serial.serial_for_url(url, timeout=5) as port:
            port.write(b"AT%KEYGEN=5,2,0\r")
            answer = bytes(port.read_until(b"OK\r\n"))
        body = unb64url(answer.split(b'"')[1].split(b".")[0].decode())
        request = csr.CertificationRequest.load(body)
        assert request["signature_algorithm"].dump().hex() == algorithm_id


def test_the_mfw_1_3_5_profile_sends_the_null_parameter_quirk_by_default() -> None:
    from xsudo.tokens import decode_keygen

    old = Modem(SimOptions(profile="nrf9160-1.3"))
    new = Modem(SimOptions(profile="nrf91x1-2.0"))
    assert decode_keygen(sim_reply(old, b"AT%KEYGEN=17,2,0")).csr.quirk
    assert not decode_keygen(sim_reply(new, b"AT%KEYGEN=17,2,0")).csr.quirk
    off = Modem(SimOptions(profile="nrf9160-1.3", csr_null_param=False))
    assert not decode_keygen(sim_reply(off, b"AT%KEYGEN=17,2,0")).csr.quirk
