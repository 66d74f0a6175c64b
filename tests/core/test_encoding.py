"""Signature encodings and strict Base64, checked against the OpenSSL-recipe vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from xsudo.encoding import (
    SignatureFormatError,
    b64decode_strict,
    b64encode,
    decode_any,
    decode_der,
    decode_raw,
    encode_der,
    encode_raw,
)

RECIPE = Path(__file__).resolve().parents[1] / "vectors" / "openssl-recipe.json"


def recipe_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(RECIPE.read_text())["cases"]
    return cases


@pytest.mark.parametrize("case", recipe_cases(), ids=lambda c: c["name"])
def test_der_and_raw_agree_with_openssl_made_signatures(case: dict[str, Any]) -> None:
    der = base64.b64decode(case["sig_der_b64"])
    raw = bytes.fromhex(case["sig_raw_rs_hex"])
    r, s = decode_der(der)
    assert (r, s) == decode_raw(raw)
    assert encode_der(r, s) == der
    assert encode_raw(r, s) == raw
    assert decode_any(der) == ("der", r, s)
    assert decode_any(raw) == ("raw", r, s)


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x30",
        bytes.fromhex("3006020101020101" + "00"),  # trailing byte
        bytes.fromhex("308106020101020101"),  # long-form length (BER)
        bytes.fromhex("30070202000102010102"[:-2]),  # integer with superfluous zero
        bytes.fromhex("3006020181020101"),  # negative r
        bytes.fromhex("3006020100020101"),  # r = 0
        bytes.fromhex("3106020101020101"),  # SET, not SEQUENCE
    ],
)
def test_decode_der_rejects_non_canonical(bad: bytes) -> None:
    with pytest.raises(SignatureFormatError):
        decode_der(bad)


def test_decode_raw_needs_exactly_64_bytes() -> None:
    with pytest.raises(SignatureFormatError):
        decode_raw(b"\x01" * 63)
    with pytest.raises(SignatureFormatError):
        decode_raw(b"\x00" * 32 + b"\x01" * 32)


def test_decode_any_names_both_encodings_when_neither_fits() -> None:
    with pytest.raises(SignatureFormatError, match="neither DER nor 64-byte raw"):
        decode_any(b"\x05" * 70)


@pytest.mark.parametrize("case", recipe_cases()[:3], ids=lambda c: c["name"])
def test_strict_base64_accepts_only_the_single_line_form(case: dict[str, Any]) -> None:
    one_line = case["sig_der_b64"]
    assert b64decode_strict(one_line) == base64.b64decode(one_line)
    assert b64encode(b64decode_strict(one_line)) == one_line
    wrapped = case["sig_der_b64_as_printed_by_base64"]
    for bad in (wrapped, wrapped.rstrip("\n"), one_line[:-1], " " + one_line):
        with pytest.raises(SignatureFormatError):
            b64decode_strict(bad)


@pytest.mark.parametrize("bad", ["", "QR==", "QQ", "-_-_", "QQ==\n", "Q\u00e9=="])
def test_strict_base64_rejects(bad: str) -> None:
    with pytest.raises(SignatureFormatError):
        b64decode_strict(bad)
