"""Reading the files a user gives xsudo: only regular files, and never more than a cap.

Contract (:func:`read_input`):

* The path is ``stat``-ed first and anything that is not a regular file (a FIFO, a character
  device such as ``/dev/zero``, a block device, a directory, a socket) is refused before it
  is opened, so a FIFO never hangs and a tty or serial device is never opened by accident.
  Symlinks are followed: a symlink to a regular file is fine.
* The file is opened with ``O_RDONLY|O_NONBLOCK|O_NOCTTY`` and checked again with
  ``fstat`` (the check and the read see the same file), then at most ``limit + 1`` bytes
  are read; more than ``limit`` bytes is refused.
* ``private=True`` (passphrase, PIN and password files) also refuses a file that group or
  others may access, like a key file (POSIX only; Windows ACLs are not mode bits).
* Every failure is one line naming what the file was for and its path: a
  :class:`~xsudo.errors.BadInputError` (exit 2), :class:`InputFileMissing` when the file
  does not exist, :class:`~xsudo.errors.InsecureStoreError` for a private file others may
  read. File contents never appear in messages.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from xsudo.errors import BadInputError, InsecureStoreError

KIB = 1024
MIB = 1024 * KIB

CREDENTIAL_FILE_LIMIT = 256 * KIB
"""Credential, certificate, public-key and command-body files (the modem takes < 4 KiB)."""
KEY_FILE_LIMIT = 64 * KIB
"""A private key to import (PEM or DER; a P-256 key is well under 1 KiB)."""
SECRET_FILE_LIMIT = 4 * KIB
"""Passphrase, PIN and password files (the secret is on the first line)."""
MANIFEST_LIMIT = 1 * MIB
"""A fleet manifest (TOML)."""
LINE_FILE_LIMIT = 16 * MIB
"""``xsudo verify --file``: a line or a capture holding one."""
METADATA_LIMIT = 64 * KIB
"""One key's metadata record (JSON)."""
STATE_FILE_LIMIT = 16 * MIB
"""The simulator's state file (JSON)."""
ONBOARDING_CSV_LIMIT = 64 * MIB
"""The nRF Cloud bulk-onboarding CSV (one certificate per device, appended to)."""

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 64 * KIB
_PRIVATE_BITS = 0o077
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
)


class InputFileMissing(BadInputError):
    """The input file does not exist (exit 2, like any other unreadable input)."""


def read_input(
    path: str | os.PathLike[str],
    what: str,
    *,
    limit: int,
    private: bool = False,
    hint: str | None = None,
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (see the module
    contract). ``what`` names the file in messages (``"the passphrase file"``); ``hint``
    replaces the default next step of read errors.

    Raises :class:`InputFileMissing`, :class:`~xsudo.errors.BadInputError` or (``private``)
    :class:`~xsudo.errors.InsecureStoreError`.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    shown = show_path(path)
    _require_regular(_stat(path, what, shown, hint), what, shown)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _os_error(exc, what, shown, hint) from None
    try:
        info = os.fstat(fd)
        _require_regular(info, what, shown)
        if private:
            _require_private(info, what, path)
        if info.st_size > limit:
            raise _too_large(what, shown, limit)
        return _read_capped(fd, what, shown, limit, hint)
    finally:
        os.close(fd)


def read_optional_input(
    path: str | os.PathLike[str],
    what: str,
    *,
    limit: int,
    private: bool = False,
    hint: str | None = None,
) -> bytes | None:
    """:func:`read_input`, but ``None`` when ``path`` does not exist."""
    try:
        return read_input(path, what, limit=limit, private=private, hint=hint)
    except InputFileMissing:
        return None


def read_stream(stream: BinaryIO, what: str, *, limit: int) -> bytes:
    """At most ``limit`` bytes from ``stream`` (stdin), refusing more (one-line error)."""
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise BadInputError(f"cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise BadInputError(
            f"{what} is larger than {_size(limit)}", "check that the right data is piped in"
        )
    return data


def show_path(path: str | os.PathLike[str]) -> str:
    """``path`` for a one-line message: as is when printable, else its ``repr``."""
    text = os.fsdecode(path)
    return text if text.isprintable() else repr(text)


def _stat(path: str | os.PathLike[str], what: str, shown: str, hint: str | None) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise _os_error(exc, what, shown, hint) from None
    except ValueError:  # an embedded NUL byte
        raise BadInputError(
            f"cannot read {what} {shown}: the path contains a NUL byte", hint
        ) from None


def _os_error(exc: OSError, what: str, shown: str, hint: str | None) -> BadInputError:
    cls = InputFileMissing if isinstance(exc, FileNotFoundError) else BadInputError
    return cls(f"cannot read {what} {shown}: {exc.strerror or exc}", hint)


def _require_regular(info: os.stat_result, what: str, shown: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
    raise BadInputError(
        f"{what} {shown} is {kind}, not a regular file",
        "give the path of a regular file (devices, FIFOs and directories are refused)",
    )


def _require_private(info: os.stat_result, what: str, path: str | os.PathLike[str]) -> None:
    if os.name != "posix" or not info.st_mode & _PRIVATE_BITS:
        return
    shown = show_path(path)
    raise InsecureStoreError(
        f"{what} {shown} is accessible by group or others (mode {stat.S_IMODE(info.st_mode):04o})",
        f"restrict it with: chmod 600 {shown}",
    )


def _read_capped(fd: int, what: str, shown: str, limit: int, hint: str | None) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        except OSError as exc:
            raise _os_error(exc, what, shown, hint) from None
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise _too_large(what, shown, limit)
    return b"".join(chunks)


def _too_large(what: str, shown: str, limit: int) -> BadInputError:
    return BadInputError(
        f"{what} {shown} is larger than {_size(limit)}", "check that this is the right file"
    )


def _size(limit: int) -> str:
    if limit >= MIB and limit % MIB == 0:
        return f"{limit} bytes ({limit // MIB} MiB)"
    if limit >= KIB and limit % KIB == 0:
        return f"{limit} bytes ({limit // KIB} KiB)"
    return f"{limit} bytes"
