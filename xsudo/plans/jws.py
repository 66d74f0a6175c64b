"""The JWS JSON general serialization (RFC 7515, section 7.2.1) with ES256 only.

A plan file is::

    {"payload": B64URL(payload), "signatures": [{"protected": B64URL(header),
                                                 "signature": B64URL(r || s)}, ...]}

Each protected header is the canonical JSON ``{"alg":"ES256","kid":FINGERPRINT}``; the
signature is ECDSA P-256 over SHA-256 of ``ASCII(protected "." payload)``, encoded as the
64-byte ``r || s`` (RFC 7518, section 3.4). Signatures are made through any
:class:`~xsudo.signing.Signer` (so any key store, HSMs and external signers included) and
checked with ``cryptography`` before they are kept. Parsing is strict: unknown members, an
unprotected header, padding or foreign characters in Base64url, duplicate JSON keys are all
refused (:class:`~xsudo.plans.model.PlanError`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from xsudo.crypto import PublicKey, fingerprint, verify_digest
from xsudo.encoding import SignatureFormatError, decode_raw, encode_raw
from xsudo.plans.model import MAX_SIGNATURES, PlanError, canonical_json, is_hex64
from xsudo.signing import Signer

ALG = "ES256"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515, section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


CHANGED_AFTER_SIGNING = (
    "the plan file was changed after it was signed; take it again from where it was made"
)
"""The hint of a plan whose signed parts do not parse (a flipped byte, an edit)."""

NOT_A_PLAN = "xsudo plan MANIFEST makes one"
"""The hint of a file that is not a plan at all (a manifest, a text file)."""


def b64url_decode(text: object, what: str) -> bytes:
    """Strict Base64url: the alphabet only, no padding, and the one canonical encoding."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise PlanError(f"the plan's {what} is not Base64url", CHANGED_AFTER_SIGNING)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PlanError(f"the plan's {what} is not Base64url", CHANGED_AFTER_SIGNING) from None
    if b64url(data) != text:
        raise PlanError(f"the plan's {what} is not canonical Base64url", CHANGED_AFTER_SIGNING)
    return data


@dataclass(frozen=True)
class JwsSignature:
    """One signature of the plan: its protected header (as sent) and ``r``, ``s``."""

    protected: str
    kid: str
    r: int
    s: int

    def signing_input(self, payload_b64: str) -> bytes:
        return f"{self.protected}.{payload_b64}".encode("ascii")

    def verifies(self, payload_b64: str, key: PublicKey) -> bool:
        """Does this signature verify against ``key`` (``cryptography``'s ECDSA)?"""
        digest = hashlib.sha256(self.signing_input(payload_b64)).digest()
        return verify_digest(key, digest, self.r, self.s)

    def to_json(self) -> dict[str, str]:
        return {"protected": self.protected, "signature": b64url(encode_raw(self.r, self.s))}


@dataclass(frozen=True)
class JwsDocument:
    """A parsed plan file: the payload (Base64url and bytes) and its signatures."""

    payload_b64: str
    payload: bytes
    signatures: tuple[JwsSignature, ...]

    def to_bytes(self) -> bytes:
        """The file's bytes: canonical JSON and a final newline."""
        document = {
            "payload": self.payload_b64,
            "signatures": [signature.to_json() for signature in self.signatures],
        }
        return canonical_json(document) + b"\n"

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(signature.kid for signature in self.signatures)


def sign(payload_b64: str, signer: Signer) -> JwsSignature:
    """Sign the payload with ``signer`` (ES256), checked against its public key first."""
    key = signer.public_key()
    kid = fingerprint(key)
    protected = b64url(canonical_json({"alg": ALG, "kid": kid}))
    digest = hashlib.sha256(f"{protected}.{payload_b64}".encode("ascii")).digest()
    r, s = signer.sign_digest(digest)
    signature = JwsSignature(protected, kid, r, s)
    if not verify_digest(key, digest, r, s):
        raise PlanError(
            f"key {signer.name!r} produced a plan signature that does not verify against its "
            "public key",
            "the key store returned a different key than the one registered; check the key",
        )
    return signature


def new_document(payload: bytes, signer: Signer) -> JwsDocument:
    """A plan file for ``payload`` with one signature by ``signer``."""
    payload_b64 = b64url(payload)
    return JwsDocument(payload_b64, payload, (sign(payload_b64, signer),))


def add_signature(document: JwsDocument, signer: Signer) -> JwsDocument:
    """``document`` with one more signature (same payload bytes); refuses a second
    signature by the same key."""
    kid = fingerprint(signer.public_key())
    if kid in document.kids:
        raise PlanError(
            f"key {signer.name!r} (fingerprint {kid}) has already signed this plan",
            "an approval must come from another key",
        )
    if len(document.signatures) >= MAX_SIGNATURES:
        raise PlanError(f"the plan already carries {MAX_SIGNATURES} signatures")
    added = sign(document.payload_b64, signer)
    return JwsDocument(document.payload_b64, document.payload, (*document.signatures, added))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PlanError(f"the plan has the JSON key {key!r} twice")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise PlanError(f"the plan holds {name}, which is not JSON")


def strict_json(data: bytes, what: str, hint: str | None = None) -> Any:
    """Parse UTF-8 JSON strictly: no duplicate keys, no NaN/Infinity, bounded nesting.
    :class:`PlanError` (with ``hint``) for anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"the {what} is not UTF-8 text", hint) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except PlanError:
        raise
    except (ValueError, RecursionError) as exc:
        reason = (
            f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else "nested too deeply"
        )
        raise PlanError(f"the {what} is not valid JSON ({reason})", hint) from None


def parse_document(data: bytes) -> JwsDocument:
    """Parse a plan file (module contract); :class:`PlanError` for anything else."""
    try:
        top = strict_json(data, "plan file")
    except PlanError as exc:
        reason = exc.message.replace("the plan file", "it", 1)
        raise PlanError(f"this is not a plan file: {reason}", NOT_A_PLAN) from None
    if not isinstance(top, dict) or set(top) != {"payload", "signatures"}:
        raise PlanError(
            "this is not a plan file: expected a JWS JSON object with exactly 'payload' and "
            "'signatures'",
            NOT_A_PLAN,
        )
    payload = b64url_decode(top["payload"], "payload")
    signatures = top["signatures"]
    if not isinstance(signatures, list) or not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise PlanError(f"the plan must carry 1 to {MAX_SIGNATURES} signatures")
    parsed = tuple(_signature(item, index) for index, item in enumerate(signatures, start=1))
    kids = [signature.kid for signature in parsed]
    if len(set(kids)) != len(kids):
        raise PlanError("the plan carries two signatures by the same key")
    return JwsDocument(top["payload"], payload, parsed)


def _signature(item: Any, index: int) -> JwsSignature:
    where = f"signature #{index}"
    if not isinstance(item, dict) or set(item) != {"protected", "signature"}:
        raise PlanError(
            f"the plan's {where} must have exactly 'protected' and 'signature' "
            "(no unprotected header)"
        )
    header = strict_json(
        b64url_decode(item["protected"], f"{where} header"),
        f"signature #{index} header",
        CHANGED_AFTER_SIGNING,
    )
    if not isinstance(header, dict) or set(header) != {"alg", "kid"}:
        raise PlanError(f"the plan's {where} header must hold exactly 'alg' and 'kid'")
    if header["alg"] != ALG:
        raise PlanError(f"the plan's {where} uses algorithm {header['alg']!r}, not {ALG}")
    kid = header["kid"]
    if not is_hex64(kid):
        raise PlanError(f"the plan's {where} kid is not a key fingerprint (64 hex digits)")
    raw = b64url_decode(item["signature"], f"{where} value")
    try:
        r, s = decode_raw(raw)
    except SignatureFormatError as exc:
        raise PlanError(f"the plan's {where}: {exc.message}") from None
    return JwsSignature(item["protected"], kid, r, s)
