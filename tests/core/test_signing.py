"""sign_command against the OpenSSL-recipe vectors (RFC 6979 signatures made independently)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.signers import MemorySigner
from xsudo.crypto import (
    PublicKey,
    generate_private_key,
    load_private_key,
)
from xsudo.errors import CommandTextError, SignatureInvalid
from xsudo.signing import sign_command

RECIPE = Path(__file__).resolve().parents[1] / "vectors" / "openssl-recipe.json"


LocalSigner = MemorySigner


def good_cases() -> list[dict[str, Any]]:
    cases = json.loads(RECIPE.read_text())["cases"]
    return [c for c in cases if c["verifies_over_intended_command"]]


@pytest.mark.parametrize("case", good_cases(), ids=lambda c: c["name"])
def test_sign_command_reproduces_the_rfc6979_vectors(case: dict[str, Any]) -> None:
    signer = LocalSigner(load_private_key(case["private_key_pem"].encode()))
    body = base64.b64decode(case["signed_bytes_b64"])
    signed = sign_command(body, signer)
    expected_b64 = base64.b64encode(bytes.fromhex(case["rfc6979_sig_der_hex"])).decode()
    prefix = f'AT%XSUDO={case["signed_len"]},"{expected_b64}";'
    assert signed.line.encode("ascii") == prefix.encode("ascii") + body
    assert signed.sha256 == case["sha256_signed_hex"]
    raw = sign_command(body, signer, encoding="raw", slot=4)
    raw_b64 = base64.b64encode(bytes.fromhex(case["rfc6979_sig_raw_rs_hex"])).decode()
    assert raw.line.encode("ascii") == (
        f'AT%XSUDO={case["signed_len"]},"{raw_b64}",4;'.encode("ascii") + body
    )
    data = signed.to_json()
    assert data["signature_der_hex"] == case["rfc6979_sig_der_hex"]
    assert data["signature_raw_hex"] == case["rfc6979_sig_raw_rs_hex"]
    assert data["data_len"] == case["signed_len"]


def test_a_signer_returning_a_bad_signature_is_caught() -> None:
    class Lying(LocalSigner):
        def sign_digest(self, digest: bytes) -> tuple[int, int]:
            r, s = super().sign_digest(digest)
            return r, s ^ 1

    with pytest.raises(SignatureInvalid):
        sign_command(b"%CMNG=1", Lying(generate_private_key()))


def test_a_signer_with_a_different_key_is_caught() -> None:
    class Swapped(LocalSigner):
        def public_key(self) -> PublicKey:
            return generate_private_key().public_key()

    with pytest.raises(SignatureInvalid):
        sign_command(b"%CMNG=1", Swapped(generate_private_key()))


@pytest.mark.parametrize("body", [b"", b"%CMNG=1\n", b'%CMNG=0,1,0,"x', "caf\u00e9".encode()])
def test_bodies_the_modem_cannot_take_are_refused(body: bytes) -> None:
    with pytest.raises(CommandTextError):
        sign_command(body, LocalSigner(generate_private_key()))


def test_whole_line_limit_counts_the_xsudo_wrapper() -> None:
    signer = LocalSigner(generate_private_key())
    overhead = len('AT%XSUDO=9999,"";') + 96
    body = b'%CMNG=0,1,0,"' + b"A" * (4095 - overhead - 13) + b'"'
    with pytest.raises(CommandTextError, match="4095"):
        sign_command(body + b"A" * 200, signer)
    # DER signatures vary in length (70-72 bytes); stay clear of the boundary.
    assert len(sign_command(body[:-60] + b'"', signer).line) <= 4095
