"""Credential types, sec_tag ranges, and the errors and warnings of the content layer.

Type numbers are the modem's ``%CMNG`` ``<type>`` values (docs/design/modem.md, M3). Types 0-5 are
written by the host; 6 and 8-11 only appear in the modem's listings and have names for
display. sec_tags 0..2147483647 are writable; everything above is reserved for the modem
(4294967292-4294967294 hold Nordic's keys, 2147483648-2147483667 are nRF91x1 TLS decrypt
tags). The numbers themselves are in :mod:`xsudo.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from xsudo.errors import BadInputError, Remedy
from xsudo.limits import (
    DEVICE_IDENTITY_PUBLIC_KEY_TAG,
    MAX_SEC_TAG,
    MAX_USER_SEC_TAG,
    NORDIC_BASE_PUBLIC_KEY_TAG,
    NORDIC_IDENTITY_ROOT_CA_TAG,
    TLS_DECRYPT_TAGS,
)


class ContentError(BadInputError):
    """Credential content (or its type/tag) that cannot be written as given (exit 2).

    ``code`` is a stable machine-readable reason (``"double-quote"``, ``"odd-length"``, ...);
    tests and callers match on it, not on the message. Messages never carry key or PSK
    content, only positions and character codes.
    """

    def __init__(
        self, code: str, message: str, hint: str | None = None, *, remedy: Remedy | None = None
    ) -> None:
        super().__init__(message, hint, remedy=remedy)
        self.code = code


class ContentTooLargeError(ContentError):
    """The ``AT%CMNG`` write line would exceed what the modem's AT interface takes."""

    def __init__(self, message: str, hint: str, *, line_bytes: int, limit: int) -> None:
        super().__init__("too-large", message, hint)
        self.line_bytes = line_bytes
        self.limit = limit


class ReservedTagError(ContentError):
    """A sec_tag the host must not write (above 2147483647)."""

    def __init__(self, tag: int, message: str, hint: str) -> None:
        super().__init__("reserved-tag", message, hint)
        self.tag = tag


@dataclass(frozen=True)
class ContentWarning:
    """Something worth telling the user that does not stop the write (e.g. an expired cert)."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class CredType(IntEnum):
    """``%CMNG`` credential types. 0-5 are host-writable; the rest are modem-managed."""

    CA_CERT = 0
    CLIENT_CERT = 1
    CLIENT_KEY = 2
    PSK = 3
    PSK_ID = 4
    PUBLIC_KEY = 5
    DEVICE_IDENTITY_PUBLIC_KEY = 6
    ENDORSEMENT_KEY = 8
    OWNERSHIP_KEY = 9
    NORDIC_IDENTITY_ROOT_CA = 10
    NORDIC_BASE_PUBLIC_KEY = 11

    @property
    def label(self) -> str:
        """The CLI name: ``ca-cert``, ``client-key``, ``nordic-identity-root-ca``, ..."""
        return self.name.lower().replace("_", "-")

    @property
    def writable(self) -> bool:
        """True for the types a host writes with ``AT%CMNG=0`` (0-5)."""
        return self in WRITABLE_TYPES

    @property
    def is_pem(self) -> bool:
        """True for the writable types whose content is PEM text (0, 1, 2, 5)."""
        return self in _PEM_TYPES

    @property
    def is_secret(self) -> bool:
        """True when the content must never be displayed (private keys, PSKs)."""
        return self in _SECRET_TYPES


WRITABLE_TYPES: tuple[CredType, ...] = (
    CredType.CA_CERT,
    CredType.CLIENT_CERT,
    CredType.CLIENT_KEY,
    CredType.PSK,
    CredType.PSK_ID,
    CredType.PUBLIC_KEY,
)
_PEM_TYPES = frozenset(
    {CredType.CA_CERT, CredType.CLIENT_CERT, CredType.CLIENT_KEY, CredType.PUBLIC_KEY}
)
_SECRET_TYPES = frozenset({CredType.CLIENT_KEY, CredType.PSK, CredType.ENDORSEMENT_KEY})


def _writable_list() -> str:
    return ", ".join(f"{t.label} ({t.value})" for t in WRITABLE_TYPES)


def parse_cred_type(text: str | int, *, writable_only: bool = True) -> CredType:
    """Parse a type name (``"ca-cert"``, ``"client_key"``) or number (``"2"``, ``2``).

    With ``writable_only`` (the default) the modem-managed types 6-11 are refused, naming
    them. Raises :class:`ContentError` (``"unknown-type"`` / ``"not-writable"``).
    """
    token = str(text).strip().lower().replace("_", "-")
    found: CredType | None = None
    if token.isdigit():
        try:
            found = CredType(int(token))
        except ValueError:
            found = None
    else:
        found = next((t for t in CredType if t.label == token), None)
    if found is None:
        raise ContentError(
            "unknown-type",
            f"unknown credential type {str(text)!r}",
            f"use one of {_writable_list()}",
        )
    if writable_only and not found.writable:
        raise ContentError(
            "not-writable",
            f"type {found.value} ({found.label}) is managed by the modem and cannot be written",
            f"writable types are {_writable_list()}",
        )
    return found


def cred_type_label(value: int) -> str:
    """Display name of any type number, known or not (``13`` -> ``"type-13"``)."""
    try:
        return CredType(value).label
    except ValueError:
        return f"type-{value}"


MAX_WRITABLE_TAG = MAX_USER_SEC_TAG
"""Highest sec_tag a host may write (2^31 - 1): :data:`xsudo.limits.MAX_USER_SEC_TAG`."""
MAX_TAG = MAX_SEC_TAG
"""Highest sec_tag the modem lists (2^32 - 1): :data:`xsudo.limits.MAX_SEC_TAG`."""
_NORDIC_TAGS = {
    NORDIC_BASE_PUBLIC_KEY_TAG: "Nordic base public key",
    NORDIC_IDENTITY_ROOT_CA_TAG: "Nordic identity root CA",
    DEVICE_IDENTITY_PUBLIC_KEY_TAG: "device identity public key",
}


def is_reserved_tag(tag: int) -> bool:
    """True for sec_tags above 2147483647 (modem-reserved, never written by the host)."""
    return tag > MAX_WRITABLE_TAG


def reserved_tag_name(tag: int) -> str | None:
    """What a reserved sec_tag holds, for display; ``None`` for a writable tag."""
    if not is_reserved_tag(tag):
        return None
    if tag in TLS_DECRYPT_TAGS:
        return f"nRF91x1 TLS decrypt tag {tag - TLS_DECRYPT_TAGS.start}"
    return _NORDIC_TAGS.get(tag, "reserved for the modem")


def is_decrypt_tag(tag: int) -> bool:
    """True for the nRF91x1 TLS decrypt test tags 2147483648-2147483667."""
    return tag in TLS_DECRYPT_TAGS


def decrypt_tag_warning(tag: int) -> ContentWarning | None:
    """The warning for writing a TLS decrypt test tag (``None`` for any other tag)."""
    if not is_decrypt_tag(tag):
        return None
    return ContentWarning(
        "tls-decrypt-tag",
        f"sec_tag {tag} is {reserved_tag_name(tag)}: Nordic's tools can decrypt TLS traffic "
        "that uses it; for development and test credentials only (nRF91x1, mfw 2.0.0 and "
        "later)",
    )


def check_tag(tag: int, *, decrypt_ok: bool = False) -> int:
    """Return ``tag`` if the host may write it (0..2147483647), else raise :class:`ContentError`.

    Reserved tags raise :class:`ReservedTagError` naming what the tag is. With
    ``decrypt_ok`` the nRF91x1 TLS decrypt test tags (2147483648-2147483667) are accepted
    too: the AT reference documents them as writable test tags (warn with
    :func:`decrypt_tag_warning`).
    """
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise ContentError("bad-tag", f"sec_tag {tag!r} is not an integer", "use 0-2147483647")
    if tag < 0 or tag > MAX_TAG:
        raise ContentError("bad-tag", f"sec_tag {tag} is out of range", f"use 0-{MAX_WRITABLE_TAG}")
    if decrypt_ok and is_decrypt_tag(tag):
        return tag
    if is_reserved_tag(tag):
        raise ReservedTagError(
            tag,
            f"sec_tag {tag} is reserved for the modem ({reserved_tag_name(tag)})",
            f"write your credentials to a sec_tag in 0-{MAX_WRITABLE_TAG}",
        )
    return tag
