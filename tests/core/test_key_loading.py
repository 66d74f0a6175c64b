"""Loading a private key: a wrong passphrase is always reported as one, whatever the
cryptography release says about the undecodable plaintext."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from xsudo import crypto
from xsudo.crypto import generate_private_key, is_encrypted_private_key, load_private_key
from xsudo.errors import BadInputError, WrongPassphraseError

KEY = generate_private_key()
ENCRYPTED_DER = KEY.private_bytes(
    serialization.Encoding.DER,
    serialization.PrivateFormat.PKCS8,
    serialization.BestAvailableEncryption(b"right"),
)


def test_an_encrypted_key_is_recognised_without_its_passphrase() -> None:
    assert is_encrypted_private_key(ENCRYPTED_DER)
    assert not is_encrypted_private_key(b"garbage")


def test_a_wrong_passphrase_is_a_wrong_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """Older cryptography releases sometimes decrypt with a wrong passphrase, find valid
    padding, and then report the garbage as undecodable data (seen with 49.0: about one
    run in 25 of the key-store contract suite)."""
    real = serialization.load_der_private_key

    def older(data: bytes, password: bytes | None, *args: Any, **kwargs: Any) -> Any:
        if password is not None and password != b"right":
            raise ValueError(
                "Could not deserialize key data. The data may be in an incorrect format"
            )
        return real(data, password, *args, **kwargs)

    monkeypatch.setattr(crypto.serialization, "load_der_private_key", older)
    with pytest.raises(WrongPassphraseError):
        load_private_key(ENCRYPTED_DER, b"wrong")
    assert load_private_key(ENCRYPTED_DER, b"right").private_numbers() == KEY.private_numbers()


def test_garbage_with_a_passphrase_is_not_a_key() -> None:
    with pytest.raises(BadInputError) as caught:
        load_private_key(b"\x30\x03\x02\x01\x00", b"pw")
    assert not isinstance(caught.value, WrongPassphraseError)
