"""The SHA-256 a modem lists for stored content, and the conventions other writers use.

The modem's ``AT%CMNG=1`` SHA is SHA-256 over exactly the bytes between the quotes of the
write, in upper-case hex (docs/design/modem.md, M4; simulator rule S29). Other tools store
the same file differently, so :func:`convention_shas` computes what each one would leave
on a device:

* ``canonical`` - our normalised form (:func:`xsudo.content.normalise.normalise`);
* ``stripped`` - trailing newline removed (nrfcredstore: text mode read, ``rstrip()``);
* ``crlf`` - CRLF line endings with a trailing CRLF (nRFCloud/utils ``format_cred``);
* ``crlf-stripped`` - CRLF with no trailing line break (nrfcredstore through the ``at``
  shell with ``CONFIG_AT_SHELL_UNESCAPE_LF``);
* ``as-is`` - the raw file bytes.

The tool conventions are applied to the canonical form, so a file that differs from what the
other tool was given only in line endings, a BOM, or surrounding whitespace still matches.
"""

from __future__ import annotations

import hashlib
import string

from xsudo.content.normalise import normalise
from xsudo.content.types import ContentError, CredType

CONVENTIONS: tuple[str, ...] = ("canonical", "stripped", "crlf", "crlf-stripped", "as-is")
"""Convention names, in the order :func:`match_convention` prefers them."""


def expected_sha(content: bytes) -> str:
    """SHA-256 of exactly ``content`` (the bytes sent), 64 upper-case hex digits."""
    return hashlib.sha256(content).hexdigest().upper()


def convention_contents(raw: bytes, cred_type: CredType) -> dict[str, bytes]:
    """The bytes each convention would store for the file ``raw`` (keys: :data:`CONVENTIONS`)."""
    canonical = normalise(raw, cred_type).content
    stripped = canonical.rstrip(b"\n")
    crlf = canonical.replace(b"\n", b"\r\n")
    return {
        "canonical": canonical,
        "stripped": stripped,
        "crlf": crlf,
        "crlf-stripped": stripped.replace(b"\n", b"\r\n"),
        "as-is": raw,
    }


def convention_shas(raw: bytes, cred_type: CredType) -> dict[str, str]:
    """:func:`expected_sha` of each convention's bytes for the file ``raw``."""
    return {name: expected_sha(data) for name, data in convention_contents(raw, cred_type).items()}


def normalise_sha(text: str) -> str:
    """A SHA-256 hex string from a listing, upper-cased and checked (any case: rule S28)."""
    value = text.strip().strip('"').upper()
    if len(value) != 64 or any(char not in string.hexdigits for char in value):
        raise ContentError(
            "bad-sha",
            f"{text!r} is not a SHA-256 (64 hex digits)",
            "copy the value from the %CMNG list line",
        )
    return value


def match_convention(raw: bytes, cred_type: CredType, device_sha: str) -> str | None:
    """The first convention (in :data:`CONVENTIONS` order) whose SHA is ``device_sha``.

    ``device_sha`` is compared case-insensitively. ``None`` when no convention matches, i.e.
    the device holds different content.
    """
    wanted = normalise_sha(device_sha)
    shas = convention_shas(raw, cred_type)
    return next((name for name in CONVENTIONS if shas[name] == wanted), None)
