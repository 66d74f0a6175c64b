"""Facts about a private key file a user hands in, found without needing its passphrase."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization


def is_encrypted_private_key(data: bytes) -> bool:
    """True when ``data`` is a PEM or DER private key that needs a passphrase to open.

    Anything else (a plain key, garbage) gives ``False``; loading it then reports what is wrong.
    """
    loader = (
        serialization.load_pem_private_key
        if b"-----BEGIN" in data
        else serialization.load_der_private_key
    )
    try:
        loader(data, None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False
