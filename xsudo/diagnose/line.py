"""Offline verification and diagnosis of an ``AT%XSUDO`` line against a public key.

:func:`verify_line` is pure (no I/O) and never raises for a bad line: it returns a
:class:`Verdict`. The line is parsed leniently (optional ``AT``, trailing CR/LF ignored, a
Base64 signature wrapped over several lines joined and flagged), the signature decoded as DER
or raw 64-byte ``r||s``, and checked over ``body[:data_len]`` - the bytes the modem hashes.

When it does not verify, the usual mistakes are tried (see :mod:`xsudo.diagnose.variants`)
and every code they imply is reported, with the bytes that were actually signed.

Exit codes (:attr:`Verdict.exit_code`): 0 valid (possibly with warnings), 1 invalid, 2 the
line or its signature cannot be parsed (``malformed-line``, ``malformed-signature``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from xsudo.command import ParsedXsudoLine, parse_xsudo_line
from xsudo.crypto import (
    P256_ORDER,
    PublicKey,
    fingerprint,
    require_p256_public,
    verify_message,
)
from xsudo.diagnose.diagnosis import data_len_fix, fix_for, ordered
from xsudo.diagnose.variants import SPAN_BODY, Variant, candidate_variants
from xsudo.encoding import (
    P256_SCALAR_BYTES,
    Encoding,
    SignatureFormatError,
    b64decode_strict,
    decode_der,
    decode_raw,
)
from xsudo.errors import LineParseError

_BASE64_WHITESPACE = " \t\r\n\v\f"

Decoding = tuple[Encoding, int, int]


@dataclass(frozen=True)
class Verdict:
    """The result of checking one line: validity, what was found, and how to fix it.

    ``diagnosis`` holds codes from :data:`xsudo.diagnose.diagnosis.CODES` in vocabulary order;
    on a valid line only warnings (``raw-signature``, ``wrapped-base64``,
    ``data-len-mismatch``) can appear. ``matched_variant`` is the byte string the signature
    covers, when one was found. ``fixes`` are human sentences, one per actionable code.
    """

    valid: bool
    diagnosis: tuple[str, ...]
    message: str
    key_fingerprint: str
    fixes: tuple[str, ...] = ()
    data_len: int | None = None
    body_len: int | None = None
    slot: int | None = None
    encoding: Encoding | None = None
    sha256: str | None = None
    matched_variant: bytes | None = field(default=None, repr=False)

    @property
    def malformed(self) -> bool:
        """True when the line or its signature could not be parsed at all."""
        return "malformed-line" in self.diagnosis or "malformed-signature" in self.diagnosis

    @property
    def exit_code(self) -> int:
        """0 valid, 1 invalid, 2 unparsable."""
        if self.malformed:
            return 2
        return 0 if self.valid else 1

    @property
    def warnings(self) -> tuple[str, ...]:
        """The diagnosis codes of a valid line (empty for an invalid one)."""
        return self.diagnosis if self.valid else ()

    def to_json(self) -> dict[str, Any]:
        """The ``xsudo verify --json`` object.

        ``matched_variant`` is the signed bytes as UTF-8 text (bytes that are not UTF-8 appear
        as ``\\xNN``), or ``None``.
        """
        variant = self.matched_variant
        return {
            "valid": self.valid,
            "diagnosis": list(self.diagnosis),
            "message": self.message,
            "fixes": list(self.fixes),
            "data_len": self.data_len,
            "body_len": self.body_len,
            "slot": self.slot,
            "encoding": self.encoding,
            "sha256": self.sha256,
            "matched_variant": None
            if variant is None
            else variant.decode("utf-8", "backslashreplace"),
            "key_fingerprint": self.key_fingerprint,
        }


def verify_line(raw: bytes, public_key: PublicKey) -> Verdict:
    """Verify and diagnose one ``AT%XSUDO`` line (exact bytes) against ``public_key``.

    Never raises for bad line content; an unparsable line or signature gives a verdict with
    ``malformed-line`` or ``malformed-signature`` (exit code 2). A key that is not P-256
    raises :class:`~xsudo.errors.UnsupportedKeyError`.
    """
    key_id = fingerprint(require_p256_public(public_key))
    try:
        parsed = parse_xsudo_line(raw)
    except LineParseError as exc:
        return _malformed("malformed-line", exc.message, exc.hint, key_id)
    except ValueError:  # a data_len too long for int()
        return _malformed("malformed-line", "data_len is not a usable number", None, key_id)
    return _check_parsed(parsed, public_key, key_id)


def _check_parsed(parsed: ParsedXsudoLine, public_key: PublicKey, key_id: str) -> Verdict:
    body, data_len = parsed.body, parsed.data_len
    compact, wrapped = join_base64(parsed.signature_text)
    facts: list[str] = []
    if data_len != len(body):
        facts.append("data-len-mismatch")
    if wrapped:
        facts.append("wrapped-base64")
    line_facts = Verdict(
        valid=False,
        diagnosis=(),
        message="",
        key_fingerprint=key_id,
        data_len=data_len,
        body_len=len(body),
        slot=parsed.slot,
        sha256=hashlib.sha256(body[:data_len]).hexdigest(),
    )
    try:
        decodings = decode_signature(compact)
    except SignatureFormatError as exc:
        return replace(
            line_facts,
            diagnosis=ordered(["malformed-signature", *facts]),
            message=f"the signature cannot be decoded: {exc.message}",
            fixes=(_signature_fix(compact),),
        )
    encoding, matches = _search(public_key, body, data_len, decodings)
    if encoding == "raw":
        facts.append("raw-signature")
    valid = any(v.is_as_sent for v in matches) and data_len <= len(body)
    found = set(facts)
    if not valid:
        found.update(code for variant in matches for code in variant.codes)
        if not matches:
            found.add("wrong-key")
    diagnosis = ordered(found)
    return replace(
        line_facts,
        valid=valid,
        diagnosis=diagnosis,
        message=_message(valid, matches, data_len, len(body), encoding, diagnosis),
        fixes=_fixes(diagnosis, data_len, len(body), matches),
        encoding=encoding,
        matched_variant=matches[0].data if matches else None,
    )


def join_base64(text: str) -> tuple[str, bool]:
    """Remove whitespace from a Base64 signature; say whether there was any (wrapped)."""
    compact = "".join(ch for ch in text if ch not in _BASE64_WHITESPACE)
    return compact, compact != text


def decode_signature(b64_text: str) -> list[Decoding]:
    """Every reading of a Base64 signature as a P-256 ``(r, s)``: strict DER, then raw.

    A 64-byte signature may parse both ways; both readings are returned (DER first) so the
    caller can try each. Raises :class:`SignatureFormatError` when there is none, including
    when ``r`` or ``s`` is not in ``[1, n-1]``.
    """
    sig = b64decode_strict(b64_text)
    readings: list[Decoding] = []
    errors: list[str] = []
    try:
        readings.append(("der", *decode_der(sig)))
    except SignatureFormatError as exc:
        errors.append(exc.message)
    if len(sig) == 2 * P256_SCALAR_BYTES:
        try:
            readings.append(("raw", *decode_raw(sig)))
        except SignatureFormatError as exc:
            errors.append(exc.message)
    if not readings:
        raise SignatureFormatError(
            f"the {len(sig)}-byte signature is neither DER nor 64-byte raw r||s ({errors[0]})"
        )
    in_range = [d for d in readings if 0 < d[1] < P256_ORDER and 0 < d[2] < P256_ORDER]
    if not in_range:
        raise SignatureFormatError("r or s is not below the P-256 group order")
    return in_range


def _search(
    public_key: PublicKey, body: bytes, data_len: int, decodings: list[Decoding]
) -> tuple[Encoding, list[Variant]]:
    """The first reading for which any variant verifies, with every variant that does."""
    variants = list(candidate_variants(body, data_len))
    for encoding, r, s in decodings:
        matches = [v for v in variants if verify_message(public_key, v.data, r, s)]
        if matches:
            return encoding, matches
    return decodings[0][0], []


def _message(
    valid: bool,
    matches: list[Variant],
    data_len: int,
    body_len: int,
    encoding: Encoding,
    diagnosis: tuple[str, ...],
) -> str:
    hashed = min(data_len, body_len)
    label = "DER" if encoding == "der" else "raw r||s"
    if valid:
        if diagnosis:
            return (
                f"the {label} signature verifies over the {hashed} bytes the modem hashes, "
                f"with warnings: {', '.join(diagnosis)}"
            )
        return f"the {label} signature verifies over the {hashed} bytes the modem hashes"
    if matches and matches[0].is_as_sent:
        return (
            f"the signature verifies, but data_len {data_len} exceeds the {body_len}-byte "
            "command, so the modem would refuse the line (+CME ERROR: 50)"
        )
    if matches:
        return (
            f"the signature does not verify over the {hashed} bytes the modem hashes; it "
            f"covers {matches[0].describe(data_len, body_len)}"
        )
    return (
        f"the signature does not verify with this key over the {hashed} bytes the modem "
        "hashes, nor over any usual mistake"
    )


def _fixes(
    diagnosis: tuple[str, ...], data_len: int, body_len: int, matches: list[Variant]
) -> tuple[str, ...]:
    whole_body = any(v.span == SPAN_BODY for v in matches)
    fixes: list[str] = []
    for code in diagnosis:
        if code == "data-len-mismatch":
            fixes.append(data_len_fix(data_len, body_len, whole_body))
        else:
            text = fix_for(code)
            if text is not None:
                fixes.append(text)
    return tuple(fixes)


def _signature_fix(compact: str) -> str:
    if "-" in compact or "_" in compact:
        return (
            "the signature looks like base64url ('-', '_'): use standard Base64 "
            "(A-Z a-z 0-9 + /, '=' padding), as the base64 tool prints it"
        )
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    if compact and len(compact) % 4 and set(compact) <= alphabet:
        return "the Base64 signature lacks its '=' padding: put the padding back"
    return (
        "put the Base64 of a DER ECDSA P-256 signature between the quotes "
        "(openssl pkeyutl -sign output, base64 -w0), or sign with xsudo sign"
    )


def _malformed(code: str, message: str, hint: str | None, key_id: str) -> Verdict:
    return Verdict(
        valid=False,
        diagnosis=(code,),
        message=message,
        fixes=(hint,) if hint else (),
        key_fingerprint=key_id,
    )


__all__ = ["Verdict", "decode_signature", "join_base64", "verify_line"]
