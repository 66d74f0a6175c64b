"""Everything checked before a credential write, in one call.

:func:`preflight` is the order the writer needs: sec_tag, normalisation, validation, line
length, expected SHA. It touches no device; the result carries what to send and what to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from xsudo.content.digest import expected_sha
from xsudo.content.fit import check_fits
from xsudo.content.normalise import Repair, normalise
from xsudo.content.types import ContentWarning, CredType, check_tag, decrypt_tag_warning
from xsudo.content.validate import refuse_at_line, validate


@dataclass(frozen=True)
class Preflight:
    """A credential ready to write: canonical ``content`` and its expected modem ``sha``.

    ``repairs`` and ``warnings`` are for stderr; ``line_bytes`` is the write line's length
    including any ``extra_overhead`` that was asked for.
    """

    tag: int
    cred_type: CredType
    content: bytes
    repairs: tuple[Repair, ...]
    warnings: tuple[ContentWarning, ...]
    sha: str
    line_bytes: int


def preflight(
    raw: bytes,
    cred_type: CredType,
    tag: int,
    *,
    password: str | None = None,
    client_cert: bytes | None = None,
    extra_overhead: int = 0,
    now: datetime | None = None,
) -> Preflight:
    """Check and normalise ``raw`` for writing to ``(tag, cred_type)``.

    Raises :class:`xsudo.content.types.ContentError` (exit 2) for anything that cannot be
    written (a file holding a whole ``AT%CMNG=...`` line included). An nRF91x1 TLS decrypt
    tag is accepted with a ``"tls-decrypt-tag"`` warning (:func:`decrypt_tag_warning`).
    See :func:`xsudo.content.validate.validate` for ``password``, ``client_cert``
    and ``now``, and :func:`xsudo.content.fit.check_fits` for ``extra_overhead``.
    """
    check_tag(tag, decrypt_ok=True)
    refuse_at_line(raw, cred_type)
    normalised = normalise(raw, cred_type)
    warnings = validate(
        normalised.content, cred_type, client_cert=client_cert, password=password, now=now
    )
    decrypt = decrypt_tag_warning(tag)
    if decrypt is not None:
        warnings = (decrypt, *warnings)
    line_bytes = check_fits(
        normalised.content, tag, cred_type, password=password, extra_overhead=extra_overhead
    )
    return Preflight(
        tag=tag,
        cred_type=cred_type,
        content=normalised.content,
        repairs=normalised.repairs,
        warnings=warnings,
        sha=expected_sha(normalised.content),
        line_bytes=line_bytes,
    )
