"""What a credential write would send, without sending or signing anything (``--dry-run``).

Contract: nothing is signed. A dry run must not leave a sendable signed line behind (it
would be replayable, and no audit record would account for it), so the signature's place
is shown as a placeholder. Secrets in the content (private keys, PSKs) and the key password
are redacted in the lines shown; ``data_len`` and the SHA-256 of the signed bytes are those
of the real body.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from xsudo.at import commands
from xsudo.command import xsudo_prefix
from xsudo.content import Preflight, redacted


@dataclass(frozen=True)
class DryRun:
    """The lines a write of ``item`` would send (redacted) and what to expect back."""

    plain_line: str
    xsudo_line: str | None
    data_len: int
    signed_sha256: str
    content_bytes: int
    modem_sha: str


def dry_run(
    item: Preflight,
    *,
    password: str | None = None,
    key_name: str | None = None,
    slot: int | None = None,
) -> DryRun:
    """The :class:`DryRun` of writing ``item``; with ``key_name`` also the ``%XSUDO`` line
    (its signature shown as ``<signature by NAME>``)."""
    body = commands.cmng_write(item.tag, item.cred_type, item.content, password).body()
    display = body.decode("ascii").replace(
        item.content.decode("ascii"), redacted(item.content, item.cred_type)
    )
    if password:
        display = display.replace(f'"{password}"', '"<password redacted>"')
    signed = None
    if key_name is not None:
        signed = f"{xsudo_prefix(len(body), f'<signature by {key_name}>', slot)}{display}"
    return DryRun(
        plain_line=f"AT{display}",
        xsudo_line=signed,
        data_len=len(body),
        signed_sha256=hashlib.sha256(body).hexdigest(),
        content_bytes=len(item.content),
        modem_sha=item.sha,
    )
