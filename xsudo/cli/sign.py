"""``xsudo sign``: print the ``AT%XSUDO`` line for a command body."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.context import app_context
from xsudo.cli.inputs import read_file
from xsudo.cli.keyopts import key_store, passphrase_file_option
from xsudo.cli.output import emit_exact, emit_json, file_option, note, warn
from xsudo.cli.params import SLOT
from xsudo.encoding import ENCODING_NAMES

if TYPE_CHECKING:
    from xsudo.encoding import Encoding


def read_body(body: str | None, body_file: Path | None) -> bytes:
    """The exact body bytes from argv or a file, with the documented adjustments reported.

    A file loses one trailing line terminator; a leading ``AT`` is removed from either. Each
    adjustment is said on stderr, because it changes what is signed.
    """
    from xsudo.command import strip_at_prefix, strip_one_terminator
    from xsudo.errors import BadInputError

    if (body is None) == (body_file is None):
        raise BadInputError(
            "give the command body either as an argument or with --body-file, not both",
            "for example: xsudo sign --key NAME '%CMNG=1'",
        )
    if body_file is not None:
        data, dropped = strip_one_terminator(read_file(body_file, "body file"))
        if dropped:
            note(f"dropped the trailing {dropped} at the end of {body_file}; it is not signed")
        text = data.decode("latin-1")
    else:
        assert body is not None
        text = body
    stripped, removed = strip_at_prefix(text)
    if removed:
        note(f"removed the leading {text[:2]!r}: XSUDO signs the command without it")
    if body_file is not None:
        return stripped.encode("latin-1")
    return stripped.encode("utf-8", "surrogateescape")


def literal_newline_warning(body_file: Path | None) -> str:
    """The warning for a body whose quoted content holds the two characters ``\\n``.

    It names where they came from (the argument or the body file) and a fix that fits: a
    body file with real line breaks, or ``xsudo cred write``, which repairs the content.
    """
    stored = (
        "the modem stores them as they are, so a PEM gets no line breaks (firmware that "
        "checks certificates answers +CME ERROR: 527)"
    )
    if body_file is None:
        return (
            f"the quoted content holds the two characters \\n; {stored}; put the command in a "
            "file with real line breaks and sign it with --body-file, or write the credential "
            "with xsudo cred write, which repairs it"
        )
    return (
        f"the quoted content in {body_file} holds the two characters \\n; {stored}; replace "
        "them with real line breaks in the file, or write the credential with xsudo cred "
        "write, which repairs it"
    )


@click.command()
@click.option("--key", "key_name", required=True, help="Name of the signing key in the key store.")
@click.option(
    "--encoding",
    type=click.Choice(ENCODING_NAMES),
    default="der",
    show_default=True,
    help="Signature encoding: DER (Nordic's recipe) or raw 64-byte r||s.",
)
@click.option("--slot", type=SLOT, default=None, help="XPMNG key slot (0-9).")
@file_option(
    "--body-file",
    help="Read the exact body bytes from FILE (one trailing line terminator is dropped).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of the line.")
@passphrase_file_option
@click.argument("body", required=False)
def sign(
    key_name: str,
    encoding: Encoding,
    slot: int | None,
    body_file: Path | None,
    as_json: bool,
    passphrase_file: Path | None,
    body: str | None,
) -> None:
    """Sign a command BODY (without AT) and print its AT%XSUDO line.

    The line is AT%XSUDO=<data_len>,"<base64 signature>"[,<slot>];<body>, where data_len is
    the body's length in bytes and the signature is deterministic ECDSA P-256 (RFC 6979) over
    exactly those bytes.
    """
    from xsudo.audit.log import AuditHead, AuditLog
    from xsudo.command import has_literal_newline_escape
    from xsudo.signing import sign_command

    payload = read_body(body, body_file)
    if has_literal_newline_escape(payload):
        warn(literal_newline_warning(body_file))
    log = AuditLog.in_home(app_context().ensure_home())
    log.check_appendable()  # no signature leaves the process without its record
    signer = key_store(passphrase_file).signer(key_name)
    signed = sign_command(payload, signer, encoding=encoding, slot=slot)
    record = log.append("sign", **signed.audit_fields(), result="signed")
    if as_json:
        emit_json({**signed.to_json(), "audit_head": AuditHead.of(record).to_json()})
    else:
        emit_exact(signed.line)
