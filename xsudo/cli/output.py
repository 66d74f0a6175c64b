"""Output conventions: results on stdout, human messages on stderr, ``--json`` for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout."
)
"""The ``--json`` flag every command shares (results for machines, one object per line)."""


def file_option(*names: str, help: str) -> Callable[[F], F]:
    """An optional file path option (``None`` when not given); the file need not exist."""
    return click.option(
        *names, type=click.Path(dir_okay=False, path_type=Path), default=None, help=help
    )


def note(message: str) -> None:
    """A human message on stderr."""
    _stderr.print(message, markup=False)


def warn(message: str) -> None:
    """A warning on stderr, one line."""
    _stderr.print(f"warning: {message}", markup=False, style="yellow")


def stdout_console() -> Console:
    """A console for rich tables on stdout; wide when stdout is a file or pipe, so tables
    keep one row per line for grep and friends."""
    wide = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=True, width=wide)


def emit(text: str) -> None:
    """One result line on stdout, exactly as given."""
    click.echo(text)


def emit_json(obj: Any) -> None:
    """A JSON result on stdout (one object, sorted keys, one line)."""
    click.echo(json.dumps(obj, sort_keys=True))
