"""ECDSA signature encodings and strict Base64, as small symmetric functions.

Two encodings of an ECDSA P-256 signature ``(r, s)``:

* ``der`` - ASN.1 DER ``ECDSA-Sig-Value`` (SEQUENCE { INTEGER r, INTEGER s }), what
  ``openssl pkeyutl -sign`` emits and what Nordic's documented recipe sends;
* ``raw`` - IEEE P1363 ``r || s``, each big-endian and exactly 32 bytes (64 bytes).

Decoders are strict: DER must re-encode to the identical bytes (no BER long forms, no
superfluous leading zeros, no trailing data) and both integers must be positive; raw must be
exactly 64 bytes. Range checks against the curve order belong to verification, not decoding.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Literal

from xsudo.errors import BadInputError

Encoding = Literal["der", "raw"]
ENCODING_NAMES: tuple[Encoding, ...] = ("der", "raw")
P256_SCALAR_BYTES = 32


class SignatureFormatError(BadInputError):
    """Bytes that are not a signature in the claimed encoding."""


def encode_der(r: int, s: int) -> bytes:
    """Encode ``(r, s)`` as a DER ``ECDSA-Sig-Value``."""
    if r <= 0 or s <= 0:
        raise SignatureFormatError("r and s must be positive")
    from asn1crypto.algos import DSASignature  # loads on first use, not with the module

    return bytes(DSASignature({"r": r, "s": s}).dump(force=True))


def decode_der(sig: bytes) -> tuple[int, int]:
    """Decode a strict DER ``ECDSA-Sig-Value`` into ``(r, s)``.

    Raises :class:`SignatureFormatError` for anything that is not the one canonical DER
    encoding of two positive integers.
    """
    from asn1crypto.algos import DSASignature

    if not sig or sig[0] != 0x30:
        raise SignatureFormatError("not a DER SEQUENCE")
    try:
        parsed = DSASignature.load(sig, strict=True)
        r = parsed["r"].native
        s = parsed["s"].native
        canonical = parsed.dump(force=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureFormatError(f"not a DER ECDSA signature ({exc})") from None
    if not isinstance(r, int) or not isinstance(s, int):
        raise SignatureFormatError("not a DER ECDSA signature")
    if canonical != sig:
        raise SignatureFormatError("signature is BER, not the canonical DER encoding")
    if r <= 0 or s <= 0:
        raise SignatureFormatError("r and s must be positive integers")
    return r, s


def encode_raw(r: int, s: int, width: int = P256_SCALAR_BYTES) -> bytes:
    """Encode ``(r, s)`` as fixed-width big-endian ``r || s`` (IEEE P1363)."""
    if r <= 0 or s <= 0:
        raise SignatureFormatError("r and s must be positive")
    try:
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")
    except OverflowError:
        raise SignatureFormatError(f"r or s does not fit in {width} bytes") from None


def decode_raw(sig: bytes, width: int = P256_SCALAR_BYTES) -> tuple[int, int]:
    """Decode fixed-width ``r || s``; the length must be exactly ``2 * width``."""
    if len(sig) != 2 * width:
        raise SignatureFormatError(
            f"a raw P-256 signature is {2 * width} bytes, this one is {len(sig)}"
        )
    r = int.from_bytes(sig[:width], "big")
    s = int.from_bytes(sig[width:], "big")
    if r == 0 or s == 0:
        raise SignatureFormatError("r and s must be non-zero")
    return r, s


ENCODERS: dict[Encoding, Callable[[int, int], bytes]] = {"der": encode_der, "raw": encode_raw}
DECODERS: dict[Encoding, Callable[[bytes], tuple[int, int]]] = {
    "der": decode_der,
    "raw": decode_raw,
}


def encode(encoding: Encoding, r: int, s: int) -> bytes:
    """Encode ``(r, s)`` in the named encoding."""
    return ENCODERS[encoding](r, s)


def decode_any(sig: bytes) -> tuple[Encoding, int, int]:
    """Decode a signature of unknown encoding: strict DER first, then 64-byte raw.

    A 64-byte string that happens to parse as strict DER is taken as DER. Raises
    :class:`SignatureFormatError` when neither encoding fits.
    """
    try:
        r, s = decode_der(sig)
        return "der", r, s
    except SignatureFormatError as der_error:
        if len(sig) != 2 * P256_SCALAR_BYTES:
            raise SignatureFormatError(
                f"{len(sig)}-byte signature is neither DER nor 64-byte raw r||s ({der_error})"
            ) from None
    r, s = decode_raw(sig)
    return "raw", r, s


def b64encode(data: bytes) -> str:
    """Standard-alphabet, padded Base64 on one line (what goes inside ``%XSUDO`` quotes)."""
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Decode canonical standard padded Base64: no whitespace or foreign characters."""
    if not text:
        raise SignatureFormatError("empty Base64 signature")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        data = None
    if data is None or base64.b64encode(data).decode("ascii") != text:
        raise SignatureFormatError(
            "signature is not standard padded Base64 (alphabet A-Z a-z 0-9 + /, '=' padding)"
        )
    return data
