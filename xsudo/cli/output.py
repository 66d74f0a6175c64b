"""Output conventions: results on stdout, human messages on stderr, ``--json`` for machines.

Everything printed for humans may quote device text, which is untrusted: :func:`emit`,
:func:`note`, :func:`warn` and the CLI's error printer pass their text through
:func:`printable`, so no control character, escape sequence or bidi override reaches the
terminal, and nothing is read as rich markup or emoji codes. Table cells built from data go
through :func:`cell` (rich parses markup in plain ``str`` cells).

rich is imported on first use (a note, a warning, a table), not with this module: a command's
``--help`` and the error printer do not need it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])


@cache
def _stderr() -> Console:
    """The console for notes and warnings on stderr (made once, on first use)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout."
)
"""The ``--json`` flag every command shares (results for machines, one object per line)."""


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every character that is not printable shown as a visible escape.

    Escaped: C0 controls (tab, CR and LF included), DEL, C1 controls, format characters
    (U+202E and other bidi overrides, zero-width characters), separators other than the
    ASCII space, surrogates and unassigned code points: that is, every character for which
    ``str.isprintable()`` is false. ESC becomes the four characters ``\\x1b``; code points
    above U+00FF become ``\\uXXXX`` or ``\\UXXXXXXXX``. With ``keep_newlines`` an LF stays a
    line break (for trusted multi-line output such as a PEM). Printable text, including a
    backslash, comes back unchanged; the result is never longer than needed.
    """
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() or (keep_newlines and char == "\n") else _escape(char)
        for char in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def cell(value: object) -> Text:
    """A rich table cell showing ``value`` (``str()`` of it, ``-`` for ``None``) literally:
    no markup (``[bold]x[/bold]`` stays as typed), no emoji codes, no control characters
    (see :func:`printable`)."""
    from rich.text import Text

    return Text(printable("-" if value is None else str(value)))


def file_option(*names: str, help: str) -> Callable[[F], F]:
    """An optional file path option (``None`` when not given); the file need not exist."""
    return click.option(
        *names, type=click.Path(dir_okay=False, path_type=Path), default=None, help=help
    )


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``"1 entry"``, ``"3 entries"``: the count and the noun in the right number
    (``plural`` defaults to ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


def share(ok: int, total: int, noun: str, plural: str | None = None) -> str:
    """``"1 device"``, ``"3 devices"`` when all ``total`` are ``ok``, else ``"2 of 3
    devices"``."""
    whole = counted(total, noun, plural)
    return whole if ok == total else f"{ok} of {whole}"


def note(message: str) -> None:
    """A human message on stderr, one line (see :func:`printable`; no markup)."""
    _say(printable(message))


def warn(message: str) -> None:
    """A warning on stderr, one line (see :func:`printable`; no markup)."""
    _say(f"warning: {printable(message)}", style="yellow")


def _say(line: str, style: str | None = None) -> None:
    """``line`` (already printable) on stderr: plainly to a file or pipe, else through
    rich (with ``style``)."""
    if _plain_stderr():
        click.echo(line, err=True)
    else:
        _stderr().print(line, markup=False, emoji=False, style=style)


def _plain_stderr() -> bool:
    """True when stderr is a file or pipe and nobody forces colour: rich would print the
    same characters, so it is not loaded for them (a script's ``cred write`` saves ~15 ms)."""
    return not sys.stderr.isatty() and not os.environ.get("FORCE_COLOR")


def stdout_console() -> Console:
    """A console for rich tables on stdout; wide when stdout is a file or pipe, so tables
    keep one row per line for grep and friends. Emoji codes are off; markup is on for
    styled text the caller writes, so data in tables must go through :func:`cell`."""
    from rich.console import Console

    wide = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=True, width=wide, emoji=False)


def emit(text: str) -> None:
    """One result line on stdout: ``text`` through :func:`printable`, so a newline, CR,
    tab or escape sequence inside shows as ``\\x0a``, ``\\x0d``, ``\\x09``, ``\\x1b`` and
    never starts a line of its own or moves the cursor."""
    click.echo(printable(text))


def emit_block(text: str) -> None:
    """Trusted multi-line output on stdout (a PEM xsudo made, a signed line with PEM
    content): each LF stays a line break, every other control character is escaped as in
    :func:`printable`. Never for device text: that goes through :func:`emit` one line at a
    time."""
    click.echo(printable(text, keep_newlines=True))


def emit_exact(text: str) -> None:
    """Output whose bytes are the contract, unchanged: a signed ``AT%XSUDO`` line, whose
    body was validated before it was signed (printable ASCII; CR and LF only inside
    quotes). Escaping a byte would print a line other than the one signed."""
    click.echo(text)


def emit_json(obj: Any) -> None:
    """A JSON result on stdout (one object, sorted keys, one line)."""
    click.echo(json.dumps(obj, sort_keys=True))
