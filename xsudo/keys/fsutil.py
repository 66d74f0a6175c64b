"""Private files written atomically: all of the new content or nothing, never a partial file.

Contract: :func:`create_private_file` creates ``path`` with mode 0600 from a temp file in the
same directory (``O_CREAT|O_EXCL``, written, fsynced, then ``os.replace``d into place, then the
directory fsynced). It refuses to replace an existing file. On any failure the temp file is
removed and ``path`` does not exist.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(directory: Path) -> Path:
    """Create ``directory`` and its parent (the xsudo home) with mode 0700 if missing."""
    directory.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    directory.mkdir(exist_ok=True, mode=PRIVATE_DIR_MODE)
    return directory


def create_private_file(path: Path, data: bytes) -> None:
    """Atomically create ``path`` (mode 0600) holding exactly ``data``.

    Raises :class:`FileExistsError` if ``path`` exists and :class:`OSError` on I/O failure;
    in both cases nothing is left behind.
    """
    ensure_private_dir(path.parent)
    if path.exists() or path.is_symlink():
        raise FileExistsError(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, PRIVATE_FILE_MODE)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, PRIVATE_FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
