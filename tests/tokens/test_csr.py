"""CSR checks: strict DER, the one NULL-parameter quirk, self-signature; cross-checked with
``openssl req -verify``."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tests.tokens import forge
from xsudo.tokens import NULL_QUIRK, TokenError, load_csr, normalise_null_quirk

REAL = json.loads((Path(__file__).parent / "real_modem_tokens.json").read_text())


def openssl_verifies(der: bytes, tmp_path: Path) -> bool:
    """``openssl req -verify``; OpenSSL 3.0 exits 0 even on a bad signature, so its verdict
    line decides."""
    path = tmp_path / "csr.der"
    path.write_bytes(der)
    done = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(path), "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
    )
    verdict = done.stdout + done.stderr
    return done.returncode == 0 and "verify OK" in verdict and "failure" not in verdict


def real_csr() -> bytes:
    pem = REAL["keygen"]["csr_pem"]
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def test_a_plain_csr_verifies_here_and_in_openssl(tmp_path: Path) -> None:
    der = forge.csr_der(forge.new_key())
    info = load_csr(der)
    assert info.quirk is None and info.der == der == info.received
    assert openssl_verifies(der, tmp_path)


def test_the_real_modem_csr_has_the_quirk_and_is_accepted(tmp_path: Path) -> None:
    der = real_csr()
    assert forge.ALGID_SHA256_NULL in der
    info = load_csr(der)
    assert info.quirk == NULL_QUIRK
    assert forge.ALGID_SHA256_NULL not in info.der
    assert info.pem().decode() == REAL["keygen"]["csr_pem"]  # saved as received
    assert openssl_verifies(der, tmp_path)
    assert openssl_verifies(info.der, tmp_path)
    assert info.subject.rfc4514_string() == "CN=" + REAL["keygen"]["device_uuid"]


def test_a_hand_made_quirk_csr_is_normalised_to_the_original(tmp_path: Path) -> None:
    original = forge.csr_der(forge.new_key())
    quirky = forge.null_quirk(original)
    assert openssl_verifies(quirky, tmp_path)
    assert normalise_null_quirk(quirky) == original
    assert load_csr(quirky).der == original


def test_long_csrs_with_two_byte_lengths_are_normalised() -> None:
    original = forge.csr_der(forge.new_key(), cn="x" * 64, org="y" * 64)
    assert original[1] == 0x82
    assert load_csr(forge.null_quirk(original)).der == original


def deviations(der: bytes) -> dict[str, bytes]:
    content = forge.outer_content(der)
    quirky = forge.null_quirk(der)
    return {
        "trailing byte": der + b"\x00",
        "quirk plus trailing byte": quirky + b"\x00",
        "long-form length that fits short form": b"\x30\x82\x00" + bytes([len(content)]) + content
        if len(content) < 0x80
        else b"\x30\x83\x00" + len(content).to_bytes(2, "big") + content,
        "indefinite length": b"\x30\x80" + content + b"\x00\x00",
        "NULL with content": forge.with_algid(der, bytes.fromhex("300d06082a8648ce3d040302050100")),
        "two NULLs": forge.with_algid(der, bytes.fromhex("300e06082a8648ce3d04030205000500")),
        "NULL on ecdsa-with-SHA384": forge.with_algid(
            der, bytes.fromhex("300c06082a8648ce3d0403030500")
        ),
        "truncated": der[:-1],
    }


@pytest.mark.parametrize(
    "case",
    [
        "trailing byte",
        "quirk plus trailing byte",
        "long-form length that fits short form",
        "indefinite length",
        "NULL with content",
        "two NULLs",
        "NULL on ecdsa-with-SHA384",
        "truncated",
    ],
)
def test_other_der_deviations_are_rejected(case: str) -> None:
    bad = deviations(forge.csr_der(forge.new_key()))[case]
    assert normalise_null_quirk(bad) is None
    with pytest.raises(TokenError):
        load_csr(bad)


def test_a_tampered_csr_fails_here_and_in_openssl(tmp_path: Path) -> None:
    der = forge.csr_der(forge.new_key(), cn="device-1")
    tampered = der.replace(b"device-1", b"device-2")
    assert not openssl_verifies(tampered, tmp_path)
    with pytest.raises(TokenError, match="self-signature does not verify"):
        load_csr(tampered)
    quirky = forge.null_quirk(der).replace(b"device-1", b"device-2")
    with pytest.raises(TokenError, match="self-signature"):
        load_csr(quirky)


def test_a_csr_on_another_curve_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(TokenError, match="P-256"):
        load_csr(forge.csr_der(key))  # type: ignore[arg-type]
