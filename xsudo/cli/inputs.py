"""Reading the files a command is given, with the one-line error every command uses."""

from __future__ import annotations

from pathlib import Path

from xsudo.errors import BadInputError


def read_file(path: Path, what: str) -> bytes:
    """The exact bytes of ``path``; a missing or unreadable file is a :class:`BadInputError`
    (exit 2) naming ``what`` it was for."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
