"""RFC 6979 A.2.5 known answers (keys/rfc6979-p256.json, transcribed from the RFC)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.verify.support import KEYS_DIR, LocalSigner, openssl_der, openssl_verifies_message
from xsudo.crypto import load_private_key, load_public_key, sign_digest_deterministic
from xsudo.diagnose import verify_line
from xsudo.signing import sign_command

DATA: dict[str, Any] = json.loads((KEYS_DIR / "rfc6979-p256.json").read_text())
CASES = [pytest.param(c, id=c["message"]) for c in DATA["cases"]]


def rfc_key() -> ec.EllipticCurvePrivateKey:
    return load_private_key((KEYS_DIR / DATA["private_key_pem_file"]).read_bytes())


def test_key_file_holds_the_published_key() -> None:
    key = rfc_key()
    assert key.private_numbers().private_value == int(DATA["private_key_x"], 16)
    public = load_public_key((KEYS_DIR / DATA["public_key_pem_file"]).read_bytes())
    numbers = public.public_numbers()
    assert (numbers.x, numbers.y) == (
        int(DATA["public_key_ux"], 16),
        int(DATA["public_key_uy"], 16),
    )


@pytest.mark.parametrize("case", CASES)
def test_openssl_accepts_the_published_signature(case: dict[str, Any], tmp_path: Path) -> None:
    """Checks the transcription itself, with a verifier nobody here wrote."""
    der = openssl_der(int(case["r"], 16), int(case["s"], 16), tmp_path)
    pub = KEYS_DIR / DATA["public_key_pem_file"]
    assert openssl_verifies_message(case["message"].encode(), der, pub, tmp_path)
    assert not openssl_verifies_message(case["message"].encode() + b"\n", der, pub, tmp_path)


@pytest.mark.parametrize("case", CASES)
def test_deterministic_signer_gives_the_published_r_and_s(case: dict[str, Any]) -> None:
    digest = hashlib.sha256(case["message"].encode()).digest()
    assert sign_digest_deterministic(rfc_key(), digest) == (int(case["r"], 16), int(case["s"], 16))


@pytest.mark.parametrize("case", CASES)
def test_sign_command_gives_the_published_signature(case: dict[str, Any]) -> None:
    """The messages are printable ASCII, so they are also valid bodies."""
    command = sign_command(case["message"].encode(), LocalSigner(rfc_key()), encoding="raw")
    assert command.signature_raw.hex().upper() == case["r"] + case["s"]
    expected_b64 = base64.b64encode(bytes.fromhex(case["r"] + case["s"])).decode()
    message = case["message"]
    assert command.line == f'AT%XSUDO={len(message)},"{expected_b64}";{message}'
    verdict = verify_line(command.line.encode(), rfc_key().public_key())
    assert verdict.valid and verdict.diagnosis == ("raw-signature",)
