"""The fixed vocabulary of diagnosis codes for a signed line, and the fix for each.

Codes are stable identifiers (scripts match on them); the sentences are for people and may
change. Order in :data:`CODES` is the order codes are reported in.
"""

from __future__ import annotations

CODES: tuple[str, ...] = (
    "malformed-line",
    "malformed-signature",
    "wrong-key",
    "trailing-lf-signed",
    "trailing-crlf-signed",
    "crlf-signed",
    "lf-signed",
    "literal-backslash-n",
    "at-prefix-signed",
    "data-len-mismatch",
    "wrapped-base64",
    "raw-signature",
    "literal-newline-content",
)
"""Every code ``xsudo verify`` can report."""

WARNING_CODES = frozenset({"raw-signature", "data-len-mismatch", "literal-newline-content"})
"""Codes that can accompany a valid signature. ``wrapped-base64`` is not one: the modem
decodes the text between the quotes as it is, so a wrapped signature gets ``+CME ERROR:
520`` however right the signature is."""

CONTENT_CHECK_CME = 527
"""What nRF91x1 firmware 2.0.2 and later answers to a type 0/1 ``%CMNG`` write whose PEM is
not well formed (docs/design/modem.md, M7)."""

_FIXES: dict[str, str] = {
    "trailing-lf-signed": (
        "the signed file ends with a newline the line does not send: write it with "
        "printf '%s' instead of echo (or use xsudo sign), then sign again"
    ),
    "trailing-crlf-signed": (
        "the signed file ends with a CRLF the line does not send: remove the line ending "
        "before hashing (printf '%s', or xsudo sign --body-file), then sign again"
    ),
    "crlf-signed": (
        "the signed text has CRLF line breaks but the line sends LF: sign exactly the bytes "
        "you send (convert the file with dos2unix first, or use xsudo sign)"
    ),
    "lf-signed": (
        "the signed text has LF line breaks but the line sends CRLF: send LF line breaks, "
        "as signed, or sign the CRLF text"
    ),
    "literal-backslash-n": (
        "one side has real line breaks and the other the two characters \\n: a PEM needs "
        "real line breaks; sign and send the same text (xsudo sign handles this)"
    ),
    "at-prefix-signed": (
        "the signature covers the leading AT: sign the command without AT, exactly as it "
        "follows ';' in the line"
    ),
    "wrapped-base64": (
        "the Base64 signature is split over several lines (or holds spaces), and the modem "
        "takes the text between the quotes as it is (+CME ERROR: 520): put the signature on "
        "one line (openssl base64 -A, base64 -w0, or tr -d '\\n'), or sign with xsudo sign"
    ),
    "raw-signature": (
        "the signature is raw 64-byte r||s, but Nordic's recipe sends DER: re-sign with "
        "xsudo sign --encoding der unless this modem is known to take raw"
    ),
    "literal-newline-content": (
        "the quoted content holds the two characters \\n (or \\r) where a PEM needs real "
        "line breaks; the modem stores them as they are: put real LF line breaks in the "
        "content and sign again"
    ),
    "wrong-key": (
        "no usual mistake explains it: the line was signed with another key or the command "
        "changed after signing; compare the key fingerprint and sign again"
    ),
}


def data_len_fix(data_len: int, body_len: int, signed_whole_body: bool) -> str:
    """The fix sentence for ``data-len-mismatch``, saying by how much the two differ."""
    if data_len > body_len:
        return (
            f"data_len is {data_len} but the command after ';' is {body_len} bytes "
            f"({data_len - body_len} too many), so the modem would answer +CME ERROR: 50: "
            f"set data_len to {body_len}"
        )
    if signed_whole_body:
        return (
            f"data_len is {data_len} but the signature covers all {body_len} bytes of the "
            f"command ({body_len - data_len} more): set data_len to {body_len}"
        )
    return (
        f"data_len is {data_len} but the command after ';' is {body_len} bytes: the last "
        f"{body_len - data_len} are not signed and the modem ignores them; sign the whole "
        f"command (data_len {body_len})"
    )


def fix_for(code: str) -> str | None:
    """The fix sentence for a code with fixed text (``None`` for the dynamic ones)."""
    return _FIXES.get(code)


def ordered(codes: set[str] | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``codes`` without duplicates, in vocabulary order."""
    present = set(codes)
    return tuple(code for code in CODES if code in present)
