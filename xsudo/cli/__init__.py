"""The ``xsudo`` command line: thin click commands over the library.

:func:`main` turns every expected error into one line on stderr and the documented exit code
(0 ok, 1 operation failed, 2 bad input or usage, 3 device/transport failure). No tracebacks
for expected errors. Error text may quote the device, so it is printed through
:func:`~xsudo.cli.output.printable` (no control characters reach the terminal).
"""

from __future__ import annotations

import sys

import click

from xsudo.cli.hints import cli_text
from xsudo.cli.output import printable
from xsudo.errors import XsudoError


def print_error(exc: XsudoError) -> None:
    """``error: <message>; <hint>`` on stderr as one line, control characters escaped. The
    hint is the error's remedy in CLI words (:mod:`xsudo.cli.hints`), else the library's."""
    click.echo(f"error: {printable(cli_text(exc))}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from xsudo.cli.app import cli

    try:
        code = cli.main(args=argv, prog_name="xsudo", standalone_mode=False)
    except XsudoError as exc:
        print_error(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
