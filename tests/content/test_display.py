"""Dry-run display never shows private keys or PSKs."""

from __future__ import annotations

from tests.content.support import CERT_PEM, key_pem, p256_key, public_pem
from xsudo.content import CredType, redacted


def test_private_key_redacted() -> None:
    pem = key_pem(p256_key())
    shown = redacted(pem, CredType.CLIENT_KEY)
    assert shown == f"<client-key: {len(pem)} bytes, redacted>"
    assert "PRIVATE" not in shown


def test_psk_redacted() -> None:
    assert redacted(b"0a1b2c", CredType.PSK) == "<psk: 6 bytes, redacted>"


def test_public_material_shown() -> None:
    assert redacted(CERT_PEM, CredType.CA_CERT) == CERT_PEM.decode()
    pub = public_pem(p256_key())
    assert redacted(pub, CredType.PUBLIC_KEY) == pub.decode()
    assert redacted(b"device-42", CredType.PSK_ID) == "device-42"
    assert redacted(b"caf\xc3\xa9", CredType.PSK_ID) == "caf\\xc3\\xa9"
