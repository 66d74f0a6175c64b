"""Atomic file writes: a reader sees the old file or the new one, never a part of either.

:func:`write_atomic` is the one writer behind every file xsudo writes whole: key files and
key metadata (:mod:`xsudo.keys.fsutil`), the external signer's digest file
(:mod:`xsudo.keys.command_store`), the simulator's state file (:mod:`xsudo.sim.state`) and
the nRF Cloud onboarding CSV (:mod:`xsudo.provision.onboarding`). It depends on the
standard library only, so any layer may use it, the simulator included.

Contract:

* The data goes to a new temp file in the directory of ``path`` (so the rename never
  crosses file systems), named ``.<name>.<random>.tmp`` and created exclusively, without
  following a symlink (:func:`tempfile.mkstemp`). Its mode is set to ``mode`` exactly with
  ``fchmod``, whatever the umask (0600 unless asked otherwise).
* ``durable=True`` (the default): the temp file is fsynced before the rename, and the
  directory after it where the platform can open a directory (POSIX), so the new content
  survives a crash once the call returns. ``durable=False`` skips both, for scratch files.
* :func:`os.replace` puts it in place: atomic on POSIX, and on Windows within one volume.
* ``replace=False`` refuses an existing ``path`` (a dangling symlink too) with
  :class:`FileExistsError` before anything is written. The check and the rename are two
  steps: this stops mistakes, not another process creating the same path in between.
* Any failure raises :class:`OSError` (:class:`TempFileError` when the temp file could not
  be created, :class:`FileExistsError` for ``replace=False``), and then ``path`` is as it
  was and no temp file is left, also when the write is interrupted (``KeyboardInterrupt``).
  Callers turn the error into their own type and wording.
* The directory fsync comes after the rename, so its failure (some file systems cannot
  fsync a directory) is not raised: an error from this function always means "nothing
  changed".
* Windows: the file is written in binary mode (no newline translation); mode bits are not
  ACLs there, and no directory is fsynced. ``os.replace`` fails while another process
  holds ``path`` open: an :class:`OSError` like any other.

Text callers encode first (``text.encode("utf-8")``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

PRIVATE_FILE_MODE = 0o600


class TempFileError(OSError):
    """The temp file could not be created next to the target (the directory is missing or
    not writable, the disk is full, ...): nothing was written."""


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int = PRIVATE_FILE_MODE,
    replace: bool = True,
    durable: bool = True,
) -> None:
    """Write ``data`` to ``path`` atomically (see the module contract).

    Raises :class:`OSError`: :class:`FileExistsError` when ``replace`` is false and
    ``path`` exists, :class:`TempFileError` when no temp file could be created.
    """
    target = Path(path)
    directory = target.parent
    if not replace and (target.exists() or target.is_symlink()):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise TempFileError(exc.errno, exc.strerror, exc.filename) from exc
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if durable:
        fsync_directory(directory)


def fsync_directory(directory: str | os.PathLike[str]) -> bool:
    """Make a rename in ``directory`` durable, where the platform allows (POSIX).

    Returns whether the directory was fsynced; never raises.
    """
    if os.name != "posix":
        return False
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return False
    try:
        os.fsync(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
