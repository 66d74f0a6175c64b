"""Offline verification and diagnosis of an ``AT%XSUDO`` line against a public key.

:func:`verify_line` is pure (no I/O) and never raises for a bad line: it returns a
:class:`Verdict`. The line is parsed leniently (optional ``AT``, trailing CR/LF ignored, a
Base64 signature wrapped over several lines joined so it can be checked), the signature
decoded as DER or raw 64-byte ``r||s``, and checked over ``body[:data_len]`` - the bytes the
modem hashes.

Once the line verifies as sent nothing else is tried. When it does not verify, the usual
mistakes are tried (see :mod:`xsudo.diagnose.variants`) and every code they imply is
reported, with the bytes that were actually signed.

Valid means the modem would accept the signature: the signature verifies over the as-sent
bytes, ``data_len`` does not exceed the command, and the Base64 is on one line (the modem
decodes the text between the quotes as it is, so a wrapped signature gets 520). A valid line
can still carry a content warning: ``content_cme`` names the error a content-checking modem
gives the command itself (527 for a certificate written with literal ``\\n``).

Exit codes (:attr:`Verdict.exit_code`): 0 valid (possibly with warnings), 1 invalid, 2 the
line or its signature cannot be parsed (``malformed-line``, ``malformed-signature``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from xsudo.at.commands import CMNG
from xsudo.command import (
    ParsedXsudoLine,
    command_name,
    has_literal_newline_escape,
    parse_xsudo_line,
)
from xsudo.crypto import (
    P256_ORDER,
    PublicKey,
    fingerprint,
    require_p256_public,
    verify_digest,
    verify_message,
)
from xsudo.diagnose.diagnosis import CONTENT_CHECK_CME, data_len_fix, fix_for, ordered
from xsudo.diagnose.variants import SPAN_BODY, SPAN_DATA_LEN, Variant, candidate_variants
from xsudo.encoding import (
    P256_SCALAR_BYTES,
    Encoding,
    SignatureFormatError,
    b64decode_strict,
    decode_der,
    decode_raw,
)
from xsudo.errors import LineParseError

_BASE64_WHITESPACE = re.compile(r"[ \t\r\n\v\f]+")

Decoding = tuple[Encoding, int, int]


@dataclass(frozen=True)
class Verdict:
    """The result of checking one line: validity, what was found, and how to fix it.

    ``diagnosis`` holds codes from :data:`xsudo.diagnose.diagnosis.CODES` in vocabulary order;
    on a valid line only warnings (``raw-signature``, ``data-len-mismatch``,
    ``literal-newline-content``) can appear. ``matched_variant`` is the byte string the
    signature covers, when one was found. ``fixes`` are human sentences, one per actionable
    code. ``content_cme`` is the ``+CME ERROR`` a modem that checks content gives the
    command the line runs (527 on nRF91x1 mfw >= 2.0.2 for a certificate written with
    literal ``\\n``), ``None`` when none is known; it does not change ``valid``.
    ``verifications`` counts the ECDSA verifications made (1 for a line valid as sent).
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
    content_cme: int | None = None
    verifications: int = field(default=0, compare=False)

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

    @property
    def headline(self) -> str:
        """The one-line verdict ``xsudo verify`` prints: ``valid``, ``valid (warnings: ...)``,
        ``valid signature, content will get 527 on mfw >= 2.0.2 (warnings: ...)``,
        ``invalid: <codes>`` or ``error: <message>`` (unparsable)."""
        if self.malformed:
            return f"error: {self.message}"
        if not self.valid:
            return f"invalid: {', '.join(self.diagnosis)}"
        head = "valid"
        if self.content_cme is not None:
            head = f"valid signature, content will get {self.content_cme} on mfw >= 2.0.2"
        return f"{head} (warnings: {', '.join(self.diagnosis)})" if self.diagnosis else head

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
            "content_cme": self.content_cme,
        }


def verify_line(raw: bytes, public_key: PublicKey) -> Verdict:
    """Verify and diagnose one ``AT%XSUDO`` line (exact bytes) against ``public_key``.

    Never raises for bad line content; an unparsable line or signature gives a verdict with
    ``malformed-line`` or ``malformed-signature`` (exit code 2). A key that is not P-256
    raises :class:`~xsudo.errors.UnsupportedKeyError`.

    Cost: when the line verifies as sent, exactly one ECDSA verification per reading of the
    signature that is tried (DER first), and no usual mistake is tried
    (:attr:`Verdict.verifications` says how many were made). Only a line that does not
    verify is searched for the mistake that explains it.
    """
    return check_line(raw, public_key, fingerprint(require_p256_public(public_key)))


def check_line(raw: bytes, public_key: PublicKey, key_fingerprint: str) -> Verdict:
    """:func:`verify_line` for a key already checked to be P-256, whose fingerprint the
    caller computed once (a scan checks many lines against one key)."""
    try:
        parsed = parse_xsudo_line(raw)
    except LineParseError as exc:
        return _malformed("malformed-line", exc.message, exc.hint, key_fingerprint)
    except ValueError:  # a data_len too long for int()
        return _malformed(
            "malformed-line", "data_len is not a usable number", None, key_fingerprint
        )
    return _check_parsed(parsed, public_key, key_fingerprint)


def _check_parsed(parsed: ParsedXsudoLine, public_key: PublicKey, key_id: str) -> Verdict:
    body, data_len = parsed.body, parsed.data_len
    hashed = body[:data_len]
    compact, wrapped = join_base64(parsed.signature_text)
    facts: list[str] = []
    if data_len != len(body):
        facts.append("data-len-mismatch")
    if wrapped:
        facts.append("wrapped-base64")
    digest = hashlib.sha256(hashed).digest()
    line_facts = Verdict(
        valid=False,
        diagnosis=(),
        message="",
        key_fingerprint=key_id,
        data_len=data_len,
        body_len=len(body),
        slot=parsed.slot,
        sha256=digest.hex(),
        content_cme=content_cme(hashed),
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
    search = _search(public_key, body, data_len, digest, decodings)
    if search.encoding == "raw":
        facts.append("raw-signature")
    matches = search.matches
    as_sent = bool(matches) and matches[0].is_as_sent
    valid = as_sent and data_len <= len(body) and not wrapped
    found = set(facts)
    if valid and has_literal_newline_escape(hashed) and _is_cmng_write(hashed):
        found.add("literal-newline-content")
    if not valid:
        found.update(code for variant in matches for code in variant.codes)
        if not matches:
            found.add("wrong-key")
    diagnosis = ordered(found)
    return replace(
        line_facts,
        valid=valid,
        diagnosis=diagnosis,
        message=_message(valid, matches, data_len, len(body), search.encoding, diagnosis, wrapped)
        + _content_note(diagnosis, line_facts.content_cme),
        fixes=_fixes(diagnosis, data_len, len(body), matches),
        encoding=search.encoding,
        matched_variant=matches[0].data if matches else None,
        verifications=search.verifications,
    )


# The parameters of a %CMNG write after "=": 0,<sec_tag>,<type>,"<content>" (spaces
# tolerated around the numbers).
_WRITE_PARAMS = re.compile(rb'[ \t]*0[ \t]*,[ \t]*(\d{1,10})[ \t]*,[ \t]*(\d{1,3})[ \t]*,[ \t]*"')
_CONTENT_CHECKED_TYPES = frozenset({0, 1})


def _cmng_write_type(command: bytes) -> int | None:
    """The credential type of a ``%CMNG`` write (``command`` without ``AT``), else None."""
    if command_name(command) != CMNG or command[:1] != b"%":
        return None
    match = _WRITE_PARAMS.match(command, command.find(b"=") + 1)
    return None if match is None else int(match.group(2))


def _is_cmng_write(command: bytes) -> bool:
    return _cmng_write_type(command) is not None


def content_cme(command: bytes) -> int | None:
    """The error a content-checking modem gives ``command`` (the bytes it runs), if known.

    527 (:data:`~xsudo.diagnose.diagnosis.CONTENT_CHECK_CME`) for a ``%CMNG`` write of type
    0 or 1 (a CA or client certificate) whose quoted content holds the two characters
    ``\\n`` or ``\\r``: nRF91x1 firmware 2.0.2 and later checks that content is a PEM
    with real line breaks (docs/design/modem.md, M4 and M7). ``None`` otherwise, which does
    not promise that the modem accepts the content.
    """
    if _cmng_write_type(command) not in _CONTENT_CHECKED_TYPES:
        return None
    return CONTENT_CHECK_CME if has_literal_newline_escape(command) else None


def join_base64(text: str) -> tuple[str, bool]:
    """Remove whitespace from a Base64 signature; say whether there was any (wrapped)."""
    compact = _BASE64_WHITESPACE.sub("", text)
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


@dataclass(frozen=True)
class _Search:
    encoding: Encoding
    matches: list[Variant]
    verifications: int


def _search(
    public_key: PublicKey,
    body: bytes,
    data_len: int,
    digest: bytes,
    decodings: list[Decoding],
) -> _Search:
    """Which bytes the signature covers: the as-sent bytes first, under every reading.

    When a reading verifies over ``body[:data_len]`` (``digest``), that is the answer and
    nothing else is tried. Otherwise every usual mistake is tried under each reading in
    turn, and the first reading with any match is returned with all its matches.
    """
    count = 0
    for encoding, r, s in decodings:
        count += 1
        if verify_digest(public_key, digest, r, s):
            as_sent = Variant(body[:data_len], SPAN_DATA_LEN, ())
            return _Search(encoding, [as_sent], count)
    variants = [v for v in candidate_variants(body, data_len) if not v.is_as_sent]
    for encoding, r, s in decodings:
        matches = []
        for variant in variants:
            count += 1
            if verify_message(public_key, variant.data, r, s):
                matches.append(variant)
        if matches:
            return _Search(encoding, matches, count)
    return _Search(decodings[0][0], [], count)


def _message(
    valid: bool,
    matches: list[Variant],
    data_len: int,
    body_len: int,
    encoding: Encoding,
    diagnosis: tuple[str, ...],
    wrapped: bool,
) -> str:
    hashed = min(data_len, body_len)
    label = "DER" if encoding == "der" else "raw r||s"
    if valid:
        if diagnosis == ("literal-newline-content",):
            return f"the {label} signature verifies over the {hashed} bytes the modem hashes"
        if diagnosis:
            return (
                f"the {label} signature verifies over the {hashed} bytes the modem hashes, "
                f"with warnings: {', '.join(diagnosis)}"
            )
        return f"the {label} signature verifies over the {hashed} bytes the modem hashes"
    if matches and matches[0].is_as_sent and wrapped and data_len <= body_len:
        return (
            f"the {label} signature verifies over the {hashed} bytes the modem hashes once "
            "its line breaks are removed, but the modem decodes the text between the quotes "
            "as it is and would answer +CME ERROR: 520"
        )
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


def _content_note(diagnosis: tuple[str, ...], cme: int | None) -> str:
    """The sentence added to a valid line's message when the content is the problem."""
    if "literal-newline-content" not in diagnosis:
        return ""
    if cme is not None:
        return (
            ", but the certificate holds the two characters \\n where a PEM needs line "
            f"breaks, so firmware that checks content (nRF91x1 mfw >= 2.0.2) answers +CME "
            f"ERROR: {cme}, and older firmware stores it unusable"
        )
    return (
        ", but the content holds the two characters \\n where a PEM needs line breaks, and "
        "the modem stores them as they are, so the stored credential is not a usable PEM"
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


__all__ = ["Verdict", "check_line", "content_cme", "decode_signature", "join_base64", "verify_line"]
