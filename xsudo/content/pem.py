"""PEM text as blocks: a strict parser for validation and a DER check per label.

:func:`parse_pem_blocks` takes LF-only text (what :mod:`xsudo.content.normalise` produces)
and returns every ``-----BEGIN X-----`` ... ``-----END X-----`` block with its decoded DER,
refusing anything else (text outside blocks, unclosed blocks, non-Base64 lines) with a
:class:`ContentError` that gives a line number but never the line's text.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from xsudo.content.types import ContentError

_B64_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_BEGIN = re.compile(rb"-----BEGIN ([^\-\n]+)-----")
_END = re.compile(rb"-----END ([^\-\n]+)-----")
_HEADER = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:.*")

PRIVATE_KEY_LABELS = frozenset(
    {"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"}
)


@dataclass(frozen=True)
class PemBlock:
    """One PEM block: its label, the 1-based line of its BEGIN line, RFC 1421 headers, DER."""

    label: str
    line: int
    headers: tuple[str, ...]
    der: bytes


def is_base64_text(data: bytes) -> bool:
    """True when ``data`` is non-empty, standard-alphabet, padded Base64 with no whitespace."""
    return bool(data) and len(data) % 4 == 0 and _B64_LINE.fullmatch(data) is not None


def der_parses(label: str, der: bytes) -> bool:
    """True when ``der`` parses as what a PEM block labelled ``label`` should hold.

    Certificates and keys go through ``cryptography``; an encrypted PKCS#8 key is checked
    structurally (no password is needed); any other label only needs to be valid DER. The
    parsers load on the first call (reading a SHA or a listing never needs them).
    """
    from asn1crypto import core as asn1_core
    from asn1crypto import keys as asn1_keys
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        if label == "CERTIFICATE":
            x509.load_der_x509_certificate(der)
        elif label == "PUBLIC KEY":
            serialization.load_der_public_key(der)
        elif label == "ENCRYPTED PRIVATE KEY":
            _ = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True).native
        elif label in PRIVATE_KEY_LABELS:
            serialization.load_der_private_key(der, None)
        else:
            _ = asn1_core.Asn1Value.load(der, strict=True).native
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnsupportedAlgorithm):
        return False
    return True


def parse_pem_blocks(text: bytes, what: str) -> tuple[PemBlock, ...]:
    """Split LF-only PEM ``text`` into blocks; ``what`` names the content in messages.

    Blank lines between blocks are tolerated. Raises :class:`ContentError` for text outside
    a block, a BEGIN without its END, a body line that is not Base64, or a body that does
    not decode. Returns an empty tuple only for blank text.
    """
    blocks: list[PemBlock] = []
    lines = text.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the final line feed ends the last line; it does not start another
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line:
            index += 1
            continue
        begin = _BEGIN.fullmatch(line)
        if begin is None:
            raise ContentError(
                "text-outside-pem",
                f"{what}: line {index + 1} is not inside a -----BEGIN/-----END block",
                "remove text around the PEM blocks (such as openssl's 'Bag Attributes' or "
                "'subject=' lines, or comments)",
            )
        block, index = _read_block(lines, index, begin.group(1).decode("ascii"), what)
        blocks.append(block)
    return tuple(blocks)


def _read_block(lines: list[bytes], start: int, label: str, what: str) -> tuple[PemBlock, int]:
    headers: list[str] = []
    body: list[bytes] = []
    index = start + 1
    while index < len(lines):
        line = lines[index]
        end = _END.fullmatch(line)
        if end is not None:
            if end.group(1).decode("ascii") != label:
                raise ContentError(
                    "pem-mismatch",
                    f"{what}: the {label} block from line {start + 1} ends with a different "
                    f"label on line {index + 1}",
                    "make every -----BEGIN X----- end with -----END X-----",
                )
            der = _decode_body(body, label, start, what)
            return PemBlock(label, start + 1, tuple(headers), der), index + 1
        if not body and _HEADER.fullmatch(line):
            headers.append(line.split(b":", 1)[0].decode("ascii"))
        elif not line and headers and not body:
            pass  # the blank line that ends RFC 1421 headers
        elif not line or _BEGIN.fullmatch(line) or not _B64_LINE.fullmatch(line):
            raise _bad_body_line(what, label, start, index, blank=not line)
        else:
            body.append(line)
        index += 1
    raise ContentError(
        "pem-unterminated",
        f"{what}: the {label} block from line {start + 1} has no -----END {label}----- line",
        "the PEM is cut short; copy the whole file",
    )


def _bad_body_line(what: str, label: str, start: int, index: int, *, blank: bool) -> ContentError:
    problem = "is blank" if blank else "is not Base64"
    return ContentError(
        "bad-base64",
        f"{what}: line {index + 1} of the {label} block from line {start + 1} {problem}",
        "a PEM body holds only A-Z a-z 0-9 + / = (spaces inside a line, or a pasted "
        "character, break it); copy the PEM again from its source",
    )


def _decode_body(body: list[bytes], label: str, start: int, what: str) -> bytes:
    joined = b"".join(body)
    try:
        if not is_base64_text(joined):
            raise ValueError("not Base64")
        return base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError):
        raise ContentError(
            "bad-base64",
            f"{what}: the {label} block from line {start + 1} does not decode as Base64",
            "the body is truncated or altered; copy the PEM again from its source",
        ) from None
