"""verify_line on lines with one deliberate mistake each, built by hand and signed with
cryptography directly (tests/verify/support.py), so the expected code comes from how the line
was made, not from the code under test."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.verify.support import (
    KEYS_DIR,
    der_b64,
    line_for,
    load_test_key,
    mistaken_line,
    raw_b64,
    sign_raw_bytes,
)
from xsudo.crypto import P256_ORDER, PrivateKey
from xsudo.diagnose import CODES, Verdict, verify_line

KEY = load_test_key("test-key-1")
OTHER = load_test_key("test-key-2")
PUB = KEY.public_key()
SHORT = b'%CMNG=0,1,0,"TEST ROOT CERTIFICATE"'
PEM_LF = (KEYS_DIR / "test-ca.pem").read_bytes().replace(b"\r\n", b"\n")
PEM_CRLF = PEM_LF.replace(b"\n", b"\r\n")
CMNG_LF = b'%CMNG=0,16842753,0,"' + PEM_LF + b'"'
CMNG_CRLF = b'%CMNG=0,16842753,0,"' + PEM_CRLF + b'"'
CMNG_ESCAPED = b'%CMNG=0,16842753,0,"' + PEM_LF.replace(b"\n", b"\\n") + b'"'


def check(line: bytes, key: PrivateKey = KEY) -> Verdict:
    verdict = verify_line(line, key.public_key())
    assert set(verdict.diagnosis) <= set(CODES)
    json.dumps(verdict.to_json())
    return verdict


def test_correct_line_is_valid_without_warnings() -> None:
    verdict = check(mistaken_line(KEY, SHORT, SHORT))
    assert (verdict.valid, verdict.diagnosis, verdict.exit_code) == (True, (), 0)
    assert verdict.encoding == "der"
    assert verdict.sha256 == hashlib.sha256(SHORT).hexdigest()
    assert verdict.matched_variant == SHORT
    assert (verdict.data_len, verdict.body_len) == (35, 35)


@pytest.mark.parametrize(
    ("sent", "signed", "code"),
    [
        (SHORT, SHORT + b"\n", "trailing-lf-signed"),
        (SHORT, SHORT + b"\r\n", "trailing-crlf-signed"),
        (CMNG_LF, CMNG_CRLF, "crlf-signed"),
        (CMNG_CRLF, CMNG_LF, "lf-signed"),
        (CMNG_ESCAPED, CMNG_LF, "literal-backslash-n"),
        (CMNG_LF, CMNG_ESCAPED, "literal-backslash-n"),
        (SHORT, b"AT" + SHORT, "at-prefix-signed"),
    ],
    ids=["echo", "echo-crlf", "crlf", "lf", "escaped-sent", "escaped-signed", "at-prefix"],
)
def test_each_mistake_is_named(sent: bytes, signed: bytes, code: str) -> None:
    verdict = check(mistaken_line(KEY, sent, signed))
    assert not verdict.valid and verdict.exit_code == 1
    assert verdict.diagnosis == (code,)
    assert verdict.matched_variant == signed
    assert verdict.fixes and verdict.message


def test_windows_file_gives_both_crlf_codes() -> None:
    verdict = check(mistaken_line(KEY, CMNG_LF, CMNG_CRLF + b"\r\n"))
    assert verdict.diagnosis == ("trailing-crlf-signed", "crlf-signed")
    assert verdict.matched_variant == CMNG_CRLF + b"\r\n"


def test_echo_with_at_prefix_gives_both_codes() -> None:
    verdict = check(mistaken_line(KEY, b"%CMNG=1", b"AT%CMNG=1\n"))
    assert verdict.diagnosis == ("trailing-lf-signed", "at-prefix-signed")


def test_trailing_newline_fix_says_printf() -> None:
    verdict = check(mistaken_line(KEY, SHORT, SHORT + b"\n"))
    assert "printf '%s'" in verdict.fixes[0]
    assert "plus a trailing LF" in verdict.message


def test_short_data_len_over_signed_prefix_is_valid_with_warning() -> None:
    sent = SHORT + b",extra"
    verdict = check(mistaken_line(KEY, sent, SHORT, data_len=len(SHORT)))
    assert verdict.valid and verdict.exit_code == 0
    assert verdict.diagnosis == ("data-len-mismatch",)
    assert (verdict.data_len, verdict.body_len) == (35, 41)
    assert "the last 6 are not signed" in verdict.fixes[0]


def test_short_data_len_with_whole_body_signed_is_invalid() -> None:
    verdict = check(mistaken_line(KEY, SHORT, SHORT, data_len=30))
    assert not verdict.valid
    assert verdict.diagnosis == ("data-len-mismatch",)
    assert verdict.matched_variant == SHORT
    assert "5 more" in verdict.fixes[0] and "set data_len to 35" in verdict.fixes[0]


def test_data_len_beyond_the_body_is_invalid_even_if_the_signature_verifies() -> None:
    verdict = check(mistaken_line(KEY, SHORT, SHORT, data_len=38))
    assert not verdict.valid and verdict.exit_code == 1
    assert verdict.diagnosis == ("data-len-mismatch",)
    assert "3 too many" in verdict.fixes[0] and "+CME ERROR: 50" in verdict.fixes[0]
    assert verdict.matched_variant == SHORT


def test_other_key_gives_wrong_key() -> None:
    verdict = check(mistaken_line(OTHER, SHORT, SHORT))
    assert not verdict.valid and verdict.diagnosis == ("wrong-key",)
    assert verdict.matched_variant is None
    assert verify_line(mistaken_line(OTHER, SHORT, SHORT), OTHER.public_key()).valid


def test_changed_command_gives_wrong_key() -> None:
    verdict = check(mistaken_line(KEY, b"%CMNG=2,16842753,0", b"%CMNG=3,16842753,0"))
    assert verdict.diagnosis == ("wrong-key",)


def test_raw_signature_is_valid_with_warning() -> None:
    r, s = sign_raw_bytes(KEY, SHORT)
    verdict = check(line_for(len(SHORT), raw_b64(r, s), SHORT))
    assert verdict.valid and verdict.encoding == "raw"
    assert verdict.diagnosis == ("raw-signature",)


def test_wrapped_signature_is_invalid() -> None:
    r, s = sign_raw_bytes(KEY, SHORT)
    b64 = der_b64(r, s)
    for wrapped in (b64[:76] + "\n" + b64[76:] + "\n", b64[:40] + "\r\n" + b64[40:], " " + b64):
        verdict = check(line_for(len(SHORT), wrapped, SHORT))
        assert not verdict.valid and verdict.exit_code == 1
        assert verdict.diagnosis == ("wrapped-base64",)
        assert "520" in verdict.message and "openssl base64 -A" in verdict.fixes[0]


def test_line_forms_accepted() -> None:
    line = mistaken_line(KEY, SHORT, SHORT)
    for form in (line, line[2:], line + b"\r\n", line + b"\n", b"at" + line[2:], b"  " + line):
        assert check(form).diagnosis == ()


def test_slot_is_reported() -> None:
    r, s = sign_raw_bytes(KEY, SHORT)
    assert check(line_for(len(SHORT), der_b64(r, s), SHORT, slot=7)).slot == 7


def test_body_with_non_utf8_byte_is_reported_not_crashed() -> None:
    body = b'%CMNG=0,1,0,"caf\xe9"'
    verdict = check(mistaken_line(KEY, body, body + b"\n"))
    assert verdict.diagnosis == ("trailing-lf-signed",)
    assert verdict.to_json()["matched_variant"] == '%CMNG=0,1,0,"caf\\xe9"\n'


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"garbage",
        b"AT%CMNG=1",
        b'AT%XSUDO=7,"AAAA"',
        b"AT%XSUDO=7,AAAA;%CMNG=1",
        b'AT%XSUDO=x,"AAAA";%CMNG=1',
        b'AT%XSUDO=0,"AAAA";%CMNG=1',
        b'AT%XSUDO=7,"AAAA",10;%CMNG=1',
        b'AT%XSUDO=7,"AAAA",1,2;%CMNG=1',
        b"AT%XSUDO=" + b"9" * 5000 + b',"AAAA";%CMNG=1',
    ],
)
def test_unparsable_line_is_malformed_line(line: bytes) -> None:
    verdict = check(line)
    assert verdict.diagnosis == ("malformed-line",)
    assert not verdict.valid and verdict.exit_code == 2
    assert verdict.to_json()["data_len"] is None


def _signature_cases() -> list[tuple[str, str]]:
    r, s = sign_raw_bytes(KEY, SHORT)
    der = base64.b64decode(der_b64(r, s))
    over = (P256_ORDER + 1).to_bytes(32, "big") + s.to_bytes(32, "big")
    return [
        ("not base64", "not*base64!"),
        ("base64url", base64.urlsafe_b64encode(b"\xfb\xff" * 35).decode()),
        ("unpadded", raw_b64(r, s).rstrip("=")),
        ("short", base64.b64encode(b"0123456789").decode()),
        ("der plus a byte", base64.b64encode(der + b"\x00").decode()),
        ("r above the order", base64.b64encode(over).decode()),
        ("empty", ""),
    ]


@pytest.mark.parametrize(("label", "sig_text"), _signature_cases())
def test_undecodable_signature_is_malformed_signature(label: str, sig_text: str) -> None:
    verdict = check(line_for(len(SHORT), sig_text, SHORT))
    assert "malformed-signature" in verdict.diagnosis, label
    assert not verdict.valid and verdict.exit_code == 2
    assert verdict.data_len == 35 and verdict.fixes


def test_base64url_hint() -> None:
    verdict = check(line_for(7, base64.urlsafe_b64encode(b"\xfb\xff" * 35).decode(), b"%CMNG=1"))
    assert "base64url" in verdict.fixes[0]


def test_json_object_has_the_documented_fields() -> None:
    obj = check(mistaken_line(KEY, SHORT, SHORT + b"\n")).to_json()
    assert set(obj) == {
        "valid",
        "diagnosis",
        "message",
        "fixes",
        "data_len",
        "body_len",
        "slot",
        "encoding",
        "sha256",
        "matched_variant",
        "key_fingerprint",
        "content_cme",
    }
    assert obj["diagnosis"] == ["trailing-lf-signed"]
    assert obj["matched_variant"] == SHORT.decode() + "\n"
    assert obj["valid"] is False and obj["encoding"] == "der"
    assert obj["content_cme"] is None


def test_key_on_another_curve_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from xsudo.errors import UnsupportedKeyError

    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(UnsupportedKeyError):
        verify_line(mistaken_line(KEY, SHORT, SHORT), p384)
