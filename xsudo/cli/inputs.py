"""Reading the files a command is given, with the one-line error every command uses."""

from __future__ import annotations

from pathlib import Path


def read_file(path: Path, what: str, *, limit: int | None = None) -> bytes:
    """The exact bytes of the regular file ``path``, at most ``limit`` bytes (default
    :data:`~xsudo.fileio.CREDENTIAL_FILE_LIMIT`; :func:`xsudo.fileio.read_input`): a
    missing, unreadable, special (FIFO, device, directory) or larger file is a
    :class:`~xsudo.errors.BadInputError` (exit 2) naming ``what`` it was for."""
    from xsudo.fileio import CREDENTIAL_FILE_LIMIT, read_input

    return read_input(path, what, limit=CREDENTIAL_FILE_LIMIT if limit is None else limit)
