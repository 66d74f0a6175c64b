"""Validation per type: good and bad content, with reasons asserted by code."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.content.support import (
    CERT_PEM,
    NOW,
    key_pem,
    make_cert,
    p256_key,
    public_pem,
)
from xsudo.content import (
    ContentError,
    CredType,
    check_password,
    normalise,
    preflight,
    validate,
)
from xsudo.errors import BadInputError


def _error(content: bytes, cred_type: CredType, **kwargs: object) -> ContentError:
    with pytest.raises(ContentError) as caught:
        validate(content, cred_type, now=NOW, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, BadInputError) and error.exit_code == 2
    assert "\n" not in str(error)
    return error


# --- certificates -------------------------------------------------------------------------


def test_ca_cert_chain_of_several() -> None:
    chain = CERT_PEM + make_cert(p256_key(), cn="intermediate")
    assert validate(chain, CredType.CA_CERT, now=NOW) == ()


def test_client_cert_exactly_one() -> None:
    one = make_cert(p256_key())
    assert validate(one, CredType.CLIENT_CERT, now=NOW) == ()
    error = _error(one + CERT_PEM, CredType.CLIENT_CERT)
    assert error.code == "certificate-count"
    assert "has 2" in str(error)


@pytest.mark.parametrize("cred_type", [CredType.CA_CERT, CredType.CLIENT_CERT])
def test_certificate_types_refuse_a_key(cred_type: CredType) -> None:
    error = _error(key_pem(p256_key()), cred_type)
    assert error.code == "wrong-label"
    assert "client-key" in str(error)


def test_expired_and_not_yet_valid_are_warnings_with_dates() -> None:
    expired = make_cert(
        p256_key(), cn="old", not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(1)
    )
    future = make_cert(
        p256_key(), cn="new", not_before=NOW + timedelta(days=2), not_after=NOW + timedelta(9)
    )
    warnings = validate(expired + future + CERT_PEM, CredType.CA_CERT, now=NOW)
    assert [w.code for w in warnings] == ["expired", "not-yet-valid"]
    assert "certificate 1 of 3 (CN=old) expired on 2025-05-31" in warnings[0].message
    assert "certificate 2 of 3 (CN=new) is not valid until 2025-06-03" in warnings[1].message


def test_amazon_root_expires_in_2038() -> None:
    later = NOW.replace(year=2039)
    (warning,) = validate(CERT_PEM, CredType.CA_CERT, now=later)
    assert warning.code == "expired"
    assert "2038-01-17" in str(warning)


def test_text_outside_blocks() -> None:
    error = _error(b"subject=CN = x\n" + CERT_PEM, CredType.CA_CERT)
    assert error.code == "text-outside-pem"
    assert "line 1" in str(error)


def test_truncated_certificate() -> None:
    truncated = CERT_PEM[: CERT_PEM.index(b"-----END")]
    error = _error(normalise(truncated, CredType.CA_CERT).content, CredType.CA_CERT)
    assert error.code == "pem-unterminated"


def test_altered_certificate_body() -> None:
    lines = CERT_PEM.split(b"\n")
    lines[3] = lines[3][:-4]  # drop 4 Base64 characters: decodes, no longer parses
    error = _error(b"\n".join(lines), CredType.CA_CERT)
    assert error.code == "bad-certificate"


def test_non_base64_line() -> None:
    error = _error(CERT_PEM.replace(b"MIID", b"MI*D", 1), CredType.CA_CERT)
    assert error.code == "bad-base64"
    assert "line 2" in str(error)


def test_der_file_is_refused_with_conversion_hint() -> None:
    der = normalise(CERT_PEM, CredType.CA_CERT).content  # PEM → DER via openssl below
    result = subprocess.run(
        ["openssl", "x509", "-outform", "der"], input=der, capture_output=True, check=True
    )
    error = _error(result.stdout, CredType.CA_CERT)
    assert error.code == "der-not-pem"
    assert "openssl x509" in str(error)


def test_spaces_that_cannot_be_repaired_are_reported() -> None:
    broken = CERT_PEM.replace(b"\n", b" ").replace(b"MIID", b"MI D", 1)
    content = normalise(broken, CredType.CA_CERT).content
    assert _error(content, CredType.CA_CERT).code == "bad-base64"


# --- characters ---------------------------------------------------------------------------


def test_double_quote_anywhere() -> None:
    error = _error(CERT_PEM.replace(b"MIID", b'MI"D', 1), CredType.CA_CERT)
    assert error.code == "double-quote"
    assert "line 2, column 3" in str(error)
    assert _error(b'my"id', CredType.PSK_ID).code == "double-quote"


@pytest.mark.parametrize("quote", ["\u201c", "\u201d", "\u2018", "\u2019", "\u00ab"])
def test_typographic_quotes(quote: str) -> None:
    content = ("my" + quote + "id").encode("utf-8")
    error = _error(content, CredType.PSK_ID)
    assert error.code == "typographic-quote"
    assert f"U+{ord(quote):04X}" in str(error)
    assert "position 3" in str(error)


def test_other_non_ascii() -> None:
    error = _error("caf\u00e9".encode(), CredType.PSK_ID)
    assert error.code == "non-ascii"
    assert "U+00E9" in str(error)
    error = _error(b"ab\xff", CredType.PSK_ID)
    assert error.code == "non-ascii"
    assert "0xFF" in str(error)


def test_empty() -> None:
    for cred_type in (CredType.CA_CERT, CredType.PSK, CredType.PSK_ID):
        assert _error(b"", cred_type).code == "empty"


def test_modem_side_type_is_not_writable() -> None:
    assert _error(CERT_PEM, CredType.NORDIC_IDENTITY_ROOT_CA).code == "not-writable"


# --- client key ---------------------------------------------------------------------------


def test_client_key_forms() -> None:
    key = p256_key()
    assert validate(key_pem(key), CredType.CLIENT_KEY) == ()
    sec1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert b"EC PRIVATE KEY" in sec1
    assert validate(sec1, CredType.CLIENT_KEY) == ()


def test_client_key_matches_certificate() -> None:
    key = p256_key()
    cert = make_cert(key)
    assert validate(key_pem(key), CredType.CLIENT_KEY, client_cert=cert) == ()
    # The certificate may come in any damaged form; it is normalised for the check.
    assert (
        validate(key_pem(key), CredType.CLIENT_KEY, client_cert=cert.replace(b"\n", b"\r\n")) == ()
    )


def test_client_key_mismatch() -> None:
    key = p256_key()
    other_cert = make_cert(p256_key(), cn="someone-else")
    error = _error(key_pem(key), CredType.CLIENT_KEY, client_cert=other_cert)
    assert error.code == "key-mismatch"
    assert "CN=someone-else" in str(error)


def test_client_key_needs_a_private_key() -> None:
    assert _error(CERT_PEM, CredType.CLIENT_KEY).code == "wrong-label"
    assert _error(key_pem(p256_key()) * 2, CredType.CLIENT_KEY).code == "block-count"


def test_encrypted_pkcs8_from_openssl(tmp_path: Path) -> None:
    pass_file = tmp_path / "pass"
    pass_file.write_text("correct horse\n")
    pem = subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-aes-256-cbc",
            "-pass",
            f"file:{pass_file}",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert b"ENCRYPTED PRIVATE KEY" in pem
    error = _error(pem, CredType.CLIENT_KEY)
    assert error.code == "needs-password"
    assert "<passwd>" in str(error)
    assert validate(pem, CredType.CLIENT_KEY, password="correct horse") == ()
    wrong = _error(pem, CredType.CLIENT_KEY, password="wrong")
    assert wrong.code == "wrong-password"
    assert "wrong" not in str(wrong).replace("does not open", "")


def test_encrypted_key_matched_against_its_certificate() -> None:
    key = p256_key()
    pem = key_pem(key, b"pw123")
    assert validate(pem, CredType.CLIENT_KEY, password="pw123", client_cert=make_cert(key)) == ()
    error = _error(pem, CredType.CLIENT_KEY, password="pw123", client_cert=make_cert(p256_key()))
    assert error.code == "key-mismatch"


def test_legacy_openssl_encryption_is_refused() -> None:
    key = p256_key()
    legacy = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert b"Proc-Type" in legacy
    error = _error(legacy, CredType.CLIENT_KEY, password="pw")
    assert error.code == "legacy-encryption"
    assert "openssl pkcs8 -topk8" in str(error)


def test_password_for_unencrypted_key() -> None:
    error = _error(key_pem(p256_key()), CredType.CLIENT_KEY, password="pw")
    assert error.code == "unexpected-password"
    assert _error(CERT_PEM, CredType.CA_CERT, password="pw").code == "unexpected-password"


@pytest.mark.parametrize("password", ["", "x" * 33, "caf\u00e9", 'a"b', "tab\there"])
def test_bad_passwords_never_echoed(password: str) -> None:
    with pytest.raises(ContentError) as caught:
        check_password(password)
    assert caught.value.code == "bad-password"
    if len(password) > 3:
        assert password not in str(caught.value)


def test_private_key_content_never_in_messages() -> None:
    pem = key_pem(p256_key())
    body = pem.split(b"\n")[1]
    damaged = pem.replace(body, body[:10] + b"!" + body[11:])
    error = _error(damaged, CredType.CLIENT_KEY)
    assert body[:10].decode() not in str(error)


# --- public key ---------------------------------------------------------------------------


def test_public_key_p256() -> None:
    assert validate(public_pem(p256_key()), CredType.PUBLIC_KEY) == ()


def test_public_key_p384_refused_naming_the_curve() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    error = _error(public_pem(key), CredType.PUBLIC_KEY)
    assert error.code == "wrong-curve"
    assert "secp384r1" in str(error)


def test_public_key_rsa_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    error = _error(pem, CredType.PUBLIC_KEY)
    assert error.code == "wrong-curve"
    assert "RSA" in str(error)


def test_public_key_wrong_forms() -> None:
    assert _error(key_pem(p256_key()), CredType.PUBLIC_KEY).code == "wrong-label"
    assert _error(CERT_PEM, CredType.PUBLIC_KEY).code == "wrong-label"


# --- PSK and PSK identity -----------------------------------------------------------------


@pytest.mark.parametrize("psk", [b"00", b"0a1B2c3D", b"DEADBEEF" * 8])
def test_psk_good(psk: bytes) -> None:
    assert validate(psk, CredType.PSK) == ()


def test_psk_case_is_kept() -> None:
    assert normalise(b"  DeadBeef\n", CredType.PSK).content == b"DeadBeef"


@pytest.mark.parametrize(
    ("psk", "code"),
    [
        (b"abc", "odd-length"),
        (b"0123456789abcdeg", "not-hex"),
        (b"0x1234", "not-hex"),
        (b"12 34", "not-hex"),
        (b"12\n34", "control-character"),
    ],
)
def test_psk_bad_and_never_echoed(psk: bytes, code: str) -> None:
    error = _error(psk, CredType.PSK)
    assert error.code == code
    assert psk.decode() not in str(error)
    assert psk[:3].decode() not in str(error)


@pytest.mark.parametrize(
    "identity", [b"device-42", b"with space", b"~!#$%&'()*+,-./:;<=>?@[]^_`{|}"]
)
def test_psk_id_good(identity: bytes) -> None:
    assert validate(identity, CredType.PSK_ID) == ()


@pytest.mark.parametrize("identity", [b"id\x01x", b"id\tx", b"id\nx", b"id\x7fx", b"id\rx"])
def test_psk_id_control_characters(identity: bytes) -> None:
    error = _error(identity, CredType.PSK_ID)
    assert error.code == "control-character"
    assert "position 3" in str(error)


def test_psk_id_normalised_then_valid() -> None:
    result = preflight(b"\xef\xbb\xbf  device-42 \r\n", CredType.PSK_ID, 5)
    assert result.content == b"device-42"


def test_stray_byte_before_a_quote_is_named_as_the_byte() -> None:
    error = _error(b"ab\xff" + "\u201c".encode(), CredType.PSK_ID)
    assert error.code == "non-ascii"
    assert "0xFF at position 3" in str(error)
