"""Simulator rule S12b: the certificate-content check behind ``+CME ERROR: 527``; and
rule S36: the first certificate of an entry, for ``%CERTEXPIRY``.

The modem's exact check is undocumented. This one is modelled on how mbed TLS reads PEM
(the armour line must be followed by an optional CR and a LF; body lines end in LF or
CRLF; the body is Base64). Consequences, each matching a field report:

* LF and CRLF line ends pass (nRFCloud/utils writes CRLF and works on 2.0.x);
* a literal two-character ``\\n``, CR-only line ends (what terminal programs paste) and
  lines joined by spaces fail;
* every ``BEGIN CERTIFICATE`` needs its ``END CERTIFICATE``, and at least one block must
  be present. Text outside the blocks is ignored.
"""

from __future__ import annotations

import base64
import binascii
import re

BEGIN = b"-----BEGIN CERTIFICATE-----"
END = b"-----END CERTIFICATE-----"
_LINE_BREAK = re.compile(rb"\r?\n")
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")


def valid_certificate_content(content: bytes) -> bool:
    """True when ``content`` holds at least one well-formed PEM CERTIFICATE block."""
    position = 0
    blocks = 0
    while (start := content.find(BEGIN, position)) >= 0:
        end = content.find(END, start)
        if end < 0 or not _valid_body(content[start + len(BEGIN) : end]):
            return False
        blocks += 1
        position = end + len(END)
    return blocks > 0


def first_certificate_der(content: bytes) -> bytes | None:
    """The DER bytes of the first ``BEGIN CERTIFICATE`` block of ``content``, when that
    block is well-formed by the rules above (else ``None``); later blocks are not looked at.
    Whether the bytes are an X.509 certificate is the caller's question."""
    start = content.find(BEGIN)
    end = content.find(END, start) if start >= 0 else -1
    if end < 0:
        return None
    return _decode_body(content[start + len(BEGIN) : end])


def _valid_body(body: bytes) -> bool:
    return _decode_body(body) is not None


def _decode_body(body: bytes) -> bytes | None:
    lines = _LINE_BREAK.split(body)
    if len(lines) < 3 or lines[0] != b"" or lines[-1] != b"":
        return None
    payload = lines[1:-1]
    if not all(_BASE64_LINE.fullmatch(line) for line in payload):
        return None
    try:
        decoded = base64.b64decode(b"".join(payload), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded or None
