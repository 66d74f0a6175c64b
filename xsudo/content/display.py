"""Display forms of credential content that never show a secret."""

from __future__ import annotations

from xsudo.content.types import CredType


def redacted(content: bytes, cred_type: CredType) -> str:
    """Content for a dry-run display: secrets become ``<client-key: 241 bytes, redacted>``.

    Private keys and PSKs (:attr:`CredType.is_secret`) are replaced by a placeholder giving
    only the type and size; certificates, public keys and PSK identities are shown as text,
    with any byte outside ASCII shown as an escape.
    """
    if cred_type.is_secret:
        return f"<{cred_type.label}: {len(content)} bytes, redacted>"
    return content.decode("ascii", errors="backslashreplace")
