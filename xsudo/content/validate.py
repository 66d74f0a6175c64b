"""Per-type validation of canonical credential content, before anything reaches a device.

:func:`validate` raises :class:`ContentError` for content the modem cannot take or that is
not what its type says, and returns warnings (expired or not-yet-valid certificates) that do
not stop a write. Every message names a position or a count, never key or PSK content.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.exceptions import UnsupportedAlgorithm

from xsudo.content.normalise import normalise_pem
from xsudo.content.pem import PRIVATE_KEY_LABELS, PemBlock, parse_pem_blocks
from xsudo.content.types import ContentError, ContentWarning, CredType
from xsudo.errors import Remedy

if TYPE_CHECKING:  # the X.509 and key parsers load when content is validated, not on import
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

MAX_PASSWORD_CHARS = 32
"""Longest ``<passwd>`` the modem takes for an encrypted PKCS#8 key."""

_TYPOGRAPHIC_QUOTES = "\u201c\u201d\u201e\u201f\u2018\u2019\u201a\u201b\u00ab\u00bb\u2039\u203a"
_HEX = frozenset(b"0123456789abcdefABCDEF")
_KEY_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm)


def validate(
    content: bytes,
    cred_type: CredType,
    *,
    client_cert: bytes | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> tuple[ContentWarning, ...]:
    """Check canonical ``content`` for ``cred_type``; return warnings, raise on errors.

    ``client_cert`` (PEM, for ``client-key``) is checked to hold the key's public half.
    ``password`` opens an encrypted PKCS#8 ``client-key`` (the modem's ``<passwd>``).
    ``now`` (UTC; default the current time) dates certificate validity warnings.
    """
    what = cred_type.label
    if not cred_type.writable:
        raise ContentError(
            "not-writable",
            f"type {cred_type.value} ({what}) is managed by the modem and cannot be written",
        )
    if not content:
        raise ContentError("empty", f"{what} content is empty", "give a non-empty file")
    if cred_type.is_pem:
        _refuse_der(content, cred_type)
    check_characters(content, what, allow_lf=cred_type.is_pem)
    if password is not None and cred_type is not CredType.CLIENT_KEY:
        raise ContentError(
            "unexpected-password",
            f"a password was given for {what} content",
            "the modem takes <passwd> only for an encrypted client-key; drop it",
        )
    when = now or datetime.now(UTC)
    if cred_type in (CredType.CA_CERT, CredType.CLIENT_CERT):
        return _validate_certificates(content, cred_type, when)
    if cred_type is CredType.CLIENT_KEY:
        return _validate_client_key(content, client_cert, password)
    if cred_type is CredType.PUBLIC_KEY:
        _validate_public_key(content)
    elif cred_type is CredType.PSK:
        _validate_psk(content)
    return ()


_AT_LINE = re.compile(rb"(?:\xef\xbb\xbf)?\s*AT[%+#][A-Z]+", re.IGNORECASE)
_AT_CREDENTIAL_LINE = re.compile(rb"(?:\xef\xbb\xbf)?\s*AT%(?:CMNG|XSUDO|XPMNG)=", re.IGNORECASE)


def refuse_at_line(raw: bytes, cred_type: CredType) -> None:
    """Refuse a file that holds an AT command line (``AT%CMNG=0,...,"<PEM>"``) instead of
    the credential itself: :class:`ContentError` ``"at-line"``.

    PEM types refuse any ``AT%``/``AT+`` start; PSK and PSK identity (free text) only a
    ``%CMNG``, ``%XSUDO`` or ``%XPMNG`` line."""
    pattern = _AT_LINE if cred_type.is_pem else _AT_CREDENTIAL_LINE
    if pattern.match(raw) is None:
        return
    thing = "certificate file (PEM)" if cred_type.is_pem else f"{cred_type.label} file"
    if cred_type in (CredType.CLIENT_KEY, CredType.PUBLIC_KEY):
        thing = "key file (PEM)"
    raise ContentError(
        "at-line",
        f"this is an AT line, not {cred_type.label} content",
        f"give the {thing} itself; xsudo builds the AT%CMNG line",
    )


def check_characters(content: bytes, what: str, *, allow_lf: bool) -> None:
    """Refuse ``"``, typographic quotes, other non-ASCII, and control bytes (DEL included).

    LF is allowed only when ``allow_lf``. Messages give the position and the offending
    character's code point, never the surrounding content (which may be a secret).
    """
    for index, byte in enumerate(content):
        if byte == 0x0A and allow_lf:
            continue
        if 0x20 <= byte <= 0x7E and byte != 0x22:
            continue
        where = _position(content, index, multiline=allow_lf)
        if byte == 0x22:
            raise ContentError(
                "double-quote",
                f'{what} has a double quote (") at {where}',
                "AT%CMNG content is sent inside double quotes, so it can never contain one; "
                "remove it",
            )
        if byte > 0x7F:
            raise _non_ascii_error(content, index, what, where)
        raise ContentError(
            "control-character",
            f"{what} has control character 0x{byte:02X} at {where}",
            "remove it; only printable ASCII"
            + (" and line feeds are" if allow_lf else " is")
            + " allowed",
        )


def _non_ascii_error(content: bytes, index: int, what: str, where: str) -> ContentError:
    char = _utf8_char_at(content, index)
    if char and char in _TYPOGRAPHIC_QUOTES:
        return ContentError(
            "typographic-quote",
            f"{what} has a typographic quote {char} (U+{ord(char):04X}) at {where}",
            "it was probably pasted from a word processor or chat; take the content from "
            "the original file (and note a plain double quote cannot be sent either)",
        )
    if char:
        return ContentError(
            "non-ascii",
            f"{what} has non-ASCII character U+{ord(char):04X} at {where}",
            "the modem takes printable ASCII only; remove it or take the original file",
        )
    return ContentError(
        "non-ascii",
        f"{what} has non-ASCII byte 0x{content[index]:02X} at {where}",
        "the modem takes printable ASCII only; is this a binary or UTF-16 file?",
    )


def _utf8_char_at(content: bytes, index: int) -> str:
    """The UTF-8 character starting at ``index``, or ``""`` when none starts there."""
    for length in (2, 3, 4):
        try:
            return content[index : index + length].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return ""


def _position(content: bytes, index: int, *, multiline: bool) -> str:
    if not multiline:
        return f"position {index + 1}"
    line = content.count(b"\n", 0, index) + 1
    column = index - (content.rfind(b"\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _refuse_der(content: bytes, cred_type: CredType) -> None:
    if content[:1] != b"\x30" or b"-----BEGIN" in content:
        return
    tool = "x509" if cred_type in (CredType.CA_CERT, CredType.CLIENT_CERT) else "pkey"
    extra = " -pubin" if cred_type is CredType.PUBLIC_KEY else ""
    raise ContentError(
        "der-not-pem",
        f"{cred_type.label} content looks like binary DER; the modem takes PEM text",
        f"convert it: openssl {tool}{extra} -inform der -in FILE -out FILE.pem",
    )


def _blocks(content: bytes, what: str) -> tuple[PemBlock, ...]:
    blocks = parse_pem_blocks(content, what)
    if not blocks:
        raise ContentError("no-pem", f"{what} holds no PEM block", "give a PEM file")
    return blocks


def _validate_certificates(
    content: bytes, cred_type: CredType, now: datetime
) -> tuple[ContentWarning, ...]:
    what = cred_type.label
    blocks = _blocks(content, what)
    for block in blocks:
        if block.label != "CERTIFICATE":
            raise ContentError(
                "wrong-label",
                f"{what} holds a {block.label} block (line {block.line}); "
                "it takes CERTIFICATE blocks only",
                _where_it_belongs(block.label),
            )
    if cred_type is CredType.CLIENT_CERT and len(blocks) != 1:
        raise ContentError(
            "certificate-count",
            f"client-cert takes exactly one certificate, this content has {len(blocks)}",
            "write the device certificate alone; put CA certificates in a ca-cert entry",
        )
    warnings: list[ContentWarning] = []
    for number, block in enumerate(blocks, start=1):
        name = f"certificate {number} of {len(blocks)}" if len(blocks) > 1 else "certificate"
        certificate = _load_certificate(block, f"{what} {name}")
        warnings.extend(_validity_warnings(certificate, f"{what} {name}", now))
    return tuple(warnings)


def _where_it_belongs(label: str) -> str:
    if label in PRIVATE_KEY_LABELS:
        return "a private key goes in a client-key entry"
    if label == "PUBLIC KEY":
        return "a public key goes in a public-key entry"
    return "give the certificate PEM (-----BEGIN CERTIFICATE-----)"


def _load_certificate(block: PemBlock, name: str) -> x509.Certificate:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(block.der)
    except ValueError:
        raise ContentError(
            "bad-certificate",
            f"{name} (line {block.line}) is not a valid X.509 certificate",
            "the PEM decodes but does not parse; take the certificate from its source again",
        ) from None


def _subject(certificate: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names:
        return f"CN={names[0].value!s}"
    return certificate.subject.rfc4514_string() or "empty subject"


def _validity_warnings(
    certificate: x509.Certificate, name: str, now: datetime
) -> list[ContentWarning]:
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    label = f"{name} ({_subject(certificate)})"
    if now > not_after:
        return [ContentWarning("expired", f"{label} expired on {_date(not_after)}")]
    if now < not_before:
        return [ContentWarning("not-yet-valid", f"{label} is not valid until {_date(not_before)}")]
    return []


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _single_block(content: bytes, what: str) -> PemBlock:
    blocks = _blocks(content, what)
    if len(blocks) != 1:
        raise ContentError(
            "block-count",
            f"{what} takes exactly one PEM block, this content has {len(blocks)}",
            "write one key per entry",
        )
    return blocks[0]


def _validate_client_key(
    content: bytes, client_cert: bytes | None, password: str | None
) -> tuple[ContentWarning, ...]:
    block = _single_block(content, "client-key")
    if block.label not in PRIVATE_KEY_LABELS:
        raise ContentError(
            "wrong-label",
            f"client-key holds a {block.label} block; it takes a private key",
            "give the private key as PEM (a PKCS#8 or SEC1 'PRIVATE KEY' block)",
        )
    if block.headers:
        raise ContentError(
            "legacy-encryption",
            "client-key is encrypted in the legacy OpenSSL format (Proc-Type header), which "
            "the modem cannot open",
            "convert it to encrypted PKCS#8: openssl pkcs8 -topk8 -v2 aes-256-cbc "
            "-in key.pem -out key-pkcs8.pem",
        )
    encrypted = block.label == "ENCRYPTED PRIVATE KEY"
    if encrypted and password is None:
        raise ContentError(
            "needs-password",
            "client-key is an encrypted PKCS#8 key and no password was given",
            "give its password (the modem's <passwd>, at most 32 characters), or write an "
            "unencrypted key",
        )
    if not encrypted and password is not None:
        raise ContentError(
            "unexpected-password",
            "a password was given but the client-key is not encrypted",
            "drop the password, or write the encrypted PKCS#8 form of the key",
        )
    if password is not None:
        check_password(password)
    key = _load_private_key(block, password)
    if key is None:
        return (
            ContentWarning(
                "key-not-checked",
                "client-key uses an encryption this host cannot open; it was not checked "
                "against the client certificate",
            ),
        )
    if client_cert is not None:
        _check_key_matches(key.public_key(), client_cert)
    return ()


def _load_private_key(block: PemBlock, password: str | None) -> PrivateKeyTypes | None:
    """The key, or ``None`` when it is encrypted with a scheme this host cannot open."""
    from cryptography.hazmat.primitives import serialization

    secret = password.encode("ascii") if password is not None else None
    try:
        return serialization.load_der_private_key(block.der, secret)
    except UnsupportedAlgorithm:
        if secret is not None:
            return None
        raise _bad_key() from None
    except (ValueError, TypeError) as exc:
        if secret is not None and "password" in str(exc).lower():
            raise ContentError(
                "wrong-password",
                "the password does not open the encrypted client-key",
                "check the password",
            ) from None
        raise _bad_key() from None


def _bad_key() -> ContentError:
    return ContentError(
        "bad-key",
        "client-key is not a valid private key",
        "the PEM decodes but does not parse; take the key from its source again",
    )


def check_password(password: str) -> str:
    """Check a ``<passwd>`` for an encrypted PKCS#8 key: 1-32 printable ASCII, no ``"``."""
    if not password or len(password) > MAX_PASSWORD_CHARS:
        raise ContentError(
            "bad-password",
            f"the key password is {len(password)} characters; the modem takes 1-"
            f"{MAX_PASSWORD_CHARS}",
            "re-encrypt the key with a shorter password: openssl pkcs8 -topk8 -v2 aes-256-cbc",
        )
    if any(not (0x20 <= ord(char) <= 0x7E) or char == '"' for char in password):
        raise ContentError(
            "bad-password",
            'the key password has a character the modem cannot take (non-ASCII, control or ")',
            "re-encrypt the key with a printable-ASCII password without double quotes",
        )
    return password


def _check_key_matches(public_key: PublicKeyTypes, client_cert: bytes) -> None:
    from cryptography.hazmat.primitives import serialization

    certificate = _client_certificate(client_cert)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if public_key.public_bytes(der, spki) != certificate.public_key().public_bytes(der, spki):
        raise ContentError(
            "key-mismatch",
            f"client-key does not match the client certificate ({_subject(certificate)}): "
            "their public keys differ",
            "write the key the certificate was issued for (or the certificate for this key)",
        )


def _client_certificate(client_cert: bytes) -> x509.Certificate:
    canonical = normalise_pem(client_cert).content
    blocks = [b for b in parse_pem_blocks(canonical, "client-cert") if b.label == "CERTIFICATE"]
    if len(blocks) != 1:
        raise ContentError(
            "certificate-count",
            f"the client certificate to check the key against has {len(blocks)} certificates",
            "give the one device certificate",
        )
    return _load_certificate(blocks[0], "client-cert")


def _validate_public_key(content: bytes) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    block = _single_block(content, "public-key")
    if block.label != "PUBLIC KEY":
        raise ContentError(
            "wrong-label",
            f"public-key holds a {block.label} block; it takes a SubjectPublicKeyInfo PEM",
            "export it with -----BEGIN PUBLIC KEY----- armour (KeyStore.public_key, or "
            "openssl ec -pubout)",
            remedy=Remedy("export-key"),
        )
    try:
        key = serialization.load_der_public_key(block.der)
    except _KEY_ERRORS:
        raise ContentError(
            "bad-key",
            "public-key is not a valid SubjectPublicKeyInfo",
            "take the key from its source again",
            remedy=Remedy("export-key"),
        ) from None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return
    found = (
        f"an EC key on curve {key.curve.name}"
        if isinstance(key, ec.EllipticCurvePublicKey)
        else f"a {type(key).__name__.lstrip('_').replace('PublicKey', '')} key"
    )
    raise ContentError(
        "wrong-curve",
        f"public-key is {found}; the modem verifies EC P-256 (secp256r1/prime256v1) keys only",
        "use a P-256 key (KeyStore.generate makes one)",
        remedy=Remedy("generate-key", {"export": 1}),
    )


def _validate_psk(content: bytes) -> None:
    for index, byte in enumerate(content):
        if byte not in _HEX:
            raise ContentError(
                "not-hex",
                f"psk has a character that is not a hex digit at position {index + 1}",
                "a PSK is hex text, two digits (0-9, a-f) per byte",
            )
    if len(content) % 2:
        raise ContentError(
            "odd-length",
            f"psk has {len(content)} hex digits, an odd number",
            "a PSK is two hex digits per byte; a digit is missing or extra",
        )
