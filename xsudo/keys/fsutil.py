"""Private files written atomically: all of the new content or nothing, never a partial file.

Contract: :func:`create_private_file` creates ``path`` with mode 0600 from a temp file in the
same directory (created exclusively, written, fsynced, then ``os.replace``d into place, then
the directory fsynced): :func:`xsudo.atomic.write_atomic` with ``replace=False``. It refuses
to replace an existing file. On any failure the temp file is removed and ``path`` does not
exist.
"""

from __future__ import annotations

from pathlib import Path

from xsudo.atomic import PRIVATE_FILE_MODE, write_atomic

PRIVATE_DIR_MODE = 0o700
__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "create_private_file", "ensure_private_dir"]


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
    write_atomic(path, data, mode=PRIVATE_FILE_MODE, replace=False)
