"""Output conventions: results on stdout, human messages on stderr, ``--json`` for machines."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)
_stdout = Console(highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """A human message on stderr."""
    _stderr.print(message, markup=False)


def warn(message: str) -> None:
    """A warning on stderr, one line."""
    _stderr.print(f"warning: {message}", markup=False, style="yellow")


def stdout_console() -> Console:
    """The console for rich tables on stdout."""
    return _stdout


def emit(text: str) -> None:
    """One result line on stdout, exactly as given."""
    click.echo(text)


def emit_json(obj: Any) -> None:
    """A JSON result on stdout (one object, sorted keys, one line)."""
    click.echo(json.dumps(obj, sort_keys=True))
