"""``xsudo verify``: check an ``AT%XSUDO`` line offline and say what went wrong.

Output: the verdict on stdout (``valid``, ``valid (warnings: ...)``, ``valid signature,
content will get 527 on mfw >= 2.0.2 (...)`` or ``invalid: <codes>``), the explanation and
fixes on stderr; ``--json`` prints one object on stdout instead. Exit 0 valid, 1 invalid, 2
when the line, its signature or the key cannot be parsed. An unparsable line gives one
``error:`` line on stderr (or the JSON object with ``valid: false``).

``--scan FILE`` checks every ``AT%XSUDO`` line of a capture instead
(:func:`xsudo.diagnose.scan_capture`): one result per line found, on stdout as it is
found (``line <n>: <verdict>``, or one JSON object per line with ``--json``), explanations,
a count and the fixes on stderr. Exit 0 when every line is valid, 1 when any is not
(unparsable lines included: the capture was usable, a line in it is not), 2 when the
capture, the key or the options are unusable or no ``AT%XSUDO`` line is found.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xsudo.cli.context import app_context
from xsudo.cli.inputs import read_file
from xsudo.cli.output import emit, emit_json, note, warn

if TYPE_CHECKING:  # the library loads when the command runs, not for its --help
    from xsudo.crypto import PublicKey
    from xsudo.diagnose import ScanResult, Verdict


def read_line(line: str | None, line_file: Path | None) -> bytes:
    """The line's exact bytes: argv as UTF-8 (surrogateescape), a file or ``-`` (stdin) as is.

    A file must be a regular file; a file or stdin holds at most
    :data:`~xsudo.fileio.LINE_FILE_LIMIT` bytes.
    """
    from xsudo.errors import BadInputError
    from xsudo.fileio import LINE_FILE_LIMIT, read_stream

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
    from xsudo.crypto import load_public_key
    from xsudo.errors import BadInputError

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
    emit(verdict.headline)
    if verdict.valid:
        if verdict.content_cme is not None:
            warn(verdict.message)
        for fix in verdict.fixes:
            warn(fix)
        return
    note(verdict.message)
    for fix in verdict.fixes:
        note(f"fix: {fix}")


def read_capture(scan_file: Path) -> bytes:
    """The capture's bytes: a regular file or ``-`` (stdin), at most
    :data:`~xsudo.fileio.LINE_FILE_LIMIT` bytes."""
    from xsudo.fileio import LINE_FILE_LIMIT, read_stream

    if str(scan_file) == "-":
        return read_stream(sys.stdin.buffer, "the capture on stdin", limit=LINE_FILE_LIMIT)
    return read_file(scan_file, "capture file", limit=LINE_FILE_LIMIT)


def scan_headline(result: ScanResult) -> str:
    """``line <n>: <verdict>``; an unparsable line reads ``invalid: malformed-line`` (its
    message goes to stderr)."""
    verdict = result.verdict
    text = f"invalid: {', '.join(verdict.diagnosis)}" if verdict.malformed else verdict.headline
    return f"line {result.line_number}: {text}"


def run_scan(capture: bytes, public_key: PublicKey, as_json: bool, source: str) -> int:
    """Print one result per ``AT%XSUDO`` line of ``capture`` as it is checked; return the
    exit code (0 all valid, 1 any invalid). Raises
    :class:`~xsudo.errors.BadInputError` (exit 2) when no line is found."""
    from xsudo.diagnose import scan_capture
    from xsudo.errors import BadInputError

    counts = {"valid": 0, "invalid": 0}
    fixes: dict[str, None] = {}
    for result in scan_capture(capture, public_key):
        verdict = result.verdict
        counts["valid" if verdict.valid else "invalid"] += 1
        if as_json:
            emit_json(result.to_json())
            continue
        emit(scan_headline(result))
        if not verdict.valid or verdict.content_cme is not None:
            note(f"line {result.line_number}: {verdict.message}")
        fixes.update(dict.fromkeys(verdict.fixes))
    found = counts["valid"] + counts["invalid"]
    if not found:
        raise BadInputError(
            f"no AT%XSUDO line found in {source}",
            'the scan looks for AT%XSUDO=<data_len>,"<signature>"[,<slot>];<command>',
        )
    if not as_json:
        plural = "" if found == 1 else "s"
        note(f"{found} AT%XSUDO line{plural}: {counts['valid']} valid, {counts['invalid']} invalid")
        for fix in fixes:
            note(f"fix: {fix}")
    return 1 if counts["invalid"] else 0


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
@click.option(
    "--scan",
    "scan_file",
    type=click.Path(allow_dash=True, path_type=Path),
    default=None,
    help="Check every AT%XSUDO line in a capture FILE (terminal log, modem trace; '-' for "
    "stdin): one result per line found.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON object (one per line with --scan)."
)
@click.argument("line", required=False)
def verify(
    key_name: str | None,
    public_key_file: Path | None,
    line_file: Path | None,
    scan_file: Path | None,
    as_json: bool,
    line: str | None,
) -> None:
    """Verify an AT%XSUDO LINE offline and diagnose why it fails.

    The signature must verify over the first data_len bytes after ';', with the Base64 on
    one line. When it does not, the usual mistakes are tried (trailing newline signed,
    CRLF/LF, literal \\n, AT prefix, data_len, wrapped Base64) and each one found is
    reported with its fix. Exit 0 valid, 1 invalid, 2 unparsable line or key.

    With --scan FILE, every AT%XSUDO line of a capture is checked (a PEM spanning lines
    inside quotes is one line): exit 0 all valid, 1 any invalid, 2 none found or unusable
    input.
    """
    from xsudo.diagnose import verify_line

    public_key = resolve_public_key(key_name, public_key_file)
    if scan_file is not None:
        scan(scan_file, public_key, as_json, given_line=line is not None or line_file is not None)
        return
    raw = read_line(line, line_file)
    verdict = verify_line(raw, public_key)
    if as_json:
        emit_json(verdict.to_json())
    else:
        show_verdict(verdict)
    if verdict.exit_code:
        sys.exit(verdict.exit_code)


def scan(scan_file: Path, public_key: PublicKey, as_json: bool, *, given_line: bool) -> None:
    """``--scan``: refuse a line given too, read the capture, check it, exit 1 on failure."""
    from xsudo.errors import BadInputError
    from xsudo.fileio import show_path

    if given_line:
        raise BadInputError(
            "--scan checks a capture: give no LINE and no --file with it",
            "for example: xsudo verify --public-key pub.pem --scan capture.log",
        )
    shown = "the capture on stdin" if str(scan_file) == "-" else show_path(scan_file)
    code = run_scan(read_capture(scan_file), public_key, as_json, shown)
    if code:
        sys.exit(code)
