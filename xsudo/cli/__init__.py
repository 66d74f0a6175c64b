"""The ``xsudo`` command line: thin click commands over the library.

:func:`main` turns every expected error into one line on stderr and the documented exit code
(0 ok, 1 operation failed, 2 bad input or usage, 3 device/transport failure). No tracebacks
for expected errors. Error text may quote the device, so it is printed through
:func:`~xsudo.cli.output.printable` (no control characters reach the terminal).

Start-up is kept light: this module and :mod:`xsudo.cli.app` import click and little else, and
each command's module is imported only when that command is used (:mod:`xsudo.cli.lazy`);
``tests/cli/test_startup_imports.py`` lists what ``xsudo --help`` must not load.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from xsudo.errors import XsudoError


def print_error(exc: XsudoError) -> None:
    """``error: <message>; <hint>`` on stderr as one line, control characters escaped. The
    hint is the error's remedy in CLI words (:mod:`xsudo.cli.hints`), else the library's."""
    from xsudo.cli.hints import cli_text
    from xsudo.cli.output import printable

    click.echo(f"error: {printable(cli_text(exc))}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from xsudo.cli.app import cli

    try:
        code = cli.main(args=argv, prog_name="xsudo", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("interrupted", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)  # a prompt declined
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Only a command that ran can raise an XsudoError, and it has loaded xsudo.errors.
        from xsudo.errors import XsudoError

        if not isinstance(exc, XsudoError):
            raise
        print_error(exc)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
