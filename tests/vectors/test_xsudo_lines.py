"""Whole-line vectors (keys/xsudo-lines.json): openssl re-verifies them, xsudo reproduces them.

The vectors were made by keys/make_vectors.py with cryptography and the openssl CLI, not with
xsudo. Signing is deterministic, so xsudo's sign_command must produce the same line byte for
byte, and verify_line must accept it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.verify.support import (
    KEYS_DIR,
    LocalSigner,
    load_test_key,
    openssl_der,
    openssl_verifies_message,
)
from xsudo.crypto import load_public_key
from xsudo.diagnose import verify_line
from xsudo.signing import sign_command

DOCUMENT: dict[str, Any] = json.loads((KEYS_DIR / "xsudo-lines.json").read_text())
CASES = [pytest.param(c, id=c["name"]) for c in DOCUMENT["cases"]]


def test_vectors_cover_what_they_claim() -> None:
    cases = DOCUMENT["cases"]
    assert {c["encoding"] for c in cases} == {"der", "raw"}
    assert any(c["slot"] is None for c in cases) and any(c["slot"] is not None for c in cases)
    pem_bodies = [c["body"] for c in cases if "-----BEGIN CERTIFICATE-----\n" in c["body"]]
    assert pem_bodies and all(b.count("\n") > 5 for b in pem_bodies)
    assert any("\r\n" in c["body"] for c in cases)


@pytest.mark.parametrize("case", CASES)
def test_openssl_verifies_the_vector(case: dict[str, Any], tmp_path: Path) -> None:
    line = case["line"].encode("ascii")
    head, _, body = line.partition(b";")
    assert body == case["body"].encode("ascii")
    assert head.startswith(b"AT%%XSUDO=%d," % len(body))
    signature = base64.b64decode(head.split(b'"')[1], validate=True)
    if case["encoding"] == "raw":
        assert len(signature) == 64
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        signature = openssl_der(r, s, tmp_path)
    pub = KEYS_DIR / case["public_key_file"]
    assert openssl_verifies_message(body, signature, pub, tmp_path)


@pytest.mark.parametrize("case", CASES)
def test_sign_command_reproduces_the_line(case: dict[str, Any]) -> None:
    signer = LocalSigner(load_test_key(case["key"]), case["key"])
    command = sign_command(
        case["body"].encode("ascii"), signer, encoding=case["encoding"], slot=case["slot"]
    )
    assert command.line == case["line"]
    assert command.sha256 == case["sha256"]
    assert (f"{command.r:064x}", f"{command.s:064x}") == (case["r"], case["s"])


@pytest.mark.parametrize("case", CASES)
def test_verify_line_accepts_the_vector(case: dict[str, Any]) -> None:
    public_key = load_public_key((KEYS_DIR / case["public_key_file"]).read_bytes())
    verdict = verify_line(case["line"].encode("ascii"), public_key)
    assert verdict.valid
    assert verdict.diagnosis == (("raw-signature",) if case["encoding"] == "raw" else ())
    assert verdict.slot == case["slot"]
    assert verdict.sha256 == case["sha256"]
    assert (verdict.data_len, verdict.body_len) == (case["data_len"], case["data_len"])


@pytest.mark.parametrize("case", CASES)
def test_other_test_key_rejects_the_vector(case: dict[str, Any]) -> None:
    other = "test-key-2" if case["key"] == "test-key-1" else "test-key-1"
    verdict = verify_line(case["line"].encode("ascii"), load_test_key(other).public_key())
    assert not verdict.valid
    assert "wrong-key" in verdict.diagnosis
