"""``xsudo verify``: check an ``AT%XSUDO`` line offline and say what went wrong.

Output: the verdict on stdout (``valid``, ``valid (warnings: ...)`` or ``invalid: <codes>``),
the explanation and fixes on stderr; ``--json`` prints one object on stdout instead. Exit 0
valid, 1 invalid, 2 when the line, its signature or the key cannot be parsed. An unparsable
line gives one ``error:`` line on stderr (or the JSON object with ``valid: false``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xsudo.cli.context import app_context
from xsudo.cli.inputs import read_file
from xsudo.cli.output import emit, emit_json, note, warn
from xsudo.crypto import PublicKey, load_public_key
from xsudo.diagnose import Verdict, verify_line
from xsudo.errors import BadInputError
from xsudo.fileio import LINE_FILE_LIMIT, read_stream


def read_line(line: str | None, line_file: Path | None) -> bytes:
    """The line's exact bytes: argv as UTF-8 (surrogateescape), a file or ``-`` (stdin) as is.

    A file must be a regular file; a file or stdin holds at most
    :data:`~xsudo.fileio.LINE_FILE_LIMIT` bytes.
    """
    if (line is None) == (line_file is None):
        raise BadInputError(
            "give the line either as an argument or with --file, not both",
            "for example: xsudo verify --public-key pub.pem --file line.txt",
        )
    if line is not None:
        return line.encode("utf-8", "surrogateescape")
    assert line_file is not None
    if str(line_file) == "-":
        return read_stream(sys.stdin.buffer, "the line on stdin", limit=LINE_FILE_LIMIT)
    return read_file(line_file, "line file", limit=LINE_FILE_LIMIT)


def resolve_public_key(key_name: str | None, public_key_file: Path | None) -> PublicKey:
    """The public key from ``--public-key FILE`` or from the key store (``--key NAME``)."""
    if (key_name is None) == (public_key_file is None):
        raise BadInputError(
            "give exactly one of --key NAME or --public-key FILE",
            "the key decides which signature is valid",
        )
    if public_key_file is not None:
        return load_public_key(read_file(public_key_file, "public key file"))
    assert key_name is not None
    from xsudo.keys import KeyStore  # only --key needs the key store (no passphrase asked)

    return KeyStore(app_context().home).public_key(key_name)


def show_verdict(verdict: Verdict) -> None:
    """Human output: the verdict on stdout, explanation and fixes on stderr."""
    if verdict.malformed:
        fixes = "; ".join(verdict.fixes)
        note(f"error: {verdict.message}" + (f"; {fixes}" if fixes else ""))
        return
    if verdict.valid:
        warnings = verdict.warnings
        emit(f"valid (warnings: {', '.join(warnings)})" if warnings else "valid")
        for fix in verdict.fixes:
            warn(fix)
        return
    emit(f"invalid: {', '.join(verdict.diagnosis)}")
    note(verdict.message)
    for fix in verdict.fixes:
        note(f"fix: {fix}")


@click.command()
@click.option("--key", "key_name", default=None, help="Name of the key in the key store.")
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(path_type=Path),
    default=None,
    help="PEM or DER public key file (a private key file is taken for its public half).",
)
@click.option(
    "--file",
    "line_file",
    type=click.Path(allow_dash=True, path_type=Path),
    default=None,
    help="Read the line's exact bytes from FILE ('-' for stdin).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead.")
@click.argument("line", required=False)
def verify(
    key_name: str | None,
    public_key_file: Path | None,
    line_file: Path | None,
    as_json: bool,
    line: str | None,
) -> None:
    """Verify an AT%XSUDO LINE offline and diagnose why it fails.

    The signature must verify over the first data_len bytes after ';'. When it does not,
    the usual mistakes are tried (trailing newline signed, CRLF/LF, literal \\n, AT prefix,
    data_len) and each one found is reported with its fix. Exit 0 valid, 1 invalid,
    2 unparsable line or key.
    """
    public_key = resolve_public_key(key_name, public_key_file)
    raw = read_line(line, line_file)
    verdict = verify_line(raw, public_key)
    if as_json:
        emit_json(verdict.to_json())
    else:
        show_verdict(verdict)
    if verdict.exit_code:
        sys.exit(verdict.exit_code)
