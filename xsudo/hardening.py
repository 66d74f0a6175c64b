"""Process hardening: a process that may hold a key, passphrase, PIN or PSK dumps no core.

Contract (:func:`disable_core_dumps`):

* ``RLIMIT_CORE`` is set to ``(0, 0)``: no core file, and (without privileges) no way for
  this process or its children to raise the limit again.
* On Linux the process is also marked non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no core
  even through a ``core_pattern`` pipe, and other processes of the same user can neither
  ptrace it nor read its memory through ``/proc``. A consequence: other programs of the same
  (non-root) user can no longer see which ports this process holds.
* Idempotent, and it never raises: a platform without ``resource`` or ``prctl`` simply
  gets what it supports. The result says what is in effect afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


@dataclass(frozen=True)
class CoreDumpStatus:
    """What :func:`disable_core_dumps` left in effect; ``None`` where the platform has no
    such control."""

    core_limit_zero: bool | None
    """``RLIMIT_CORE`` is ``(0, 0)``."""
    not_dumpable: bool | None
    """Linux: ``PR_GET_DUMPABLE`` answers 0."""


def disable_core_dumps() -> CoreDumpStatus:
    """Forbid core dumps of this process (see the module contract); never raises."""
    return CoreDumpStatus(_zero_core_limit(), _clear_dumpable())


def _zero_core_limit() -> bool | None:
    try:
        import resource
    except ImportError:  # Windows: no core files to limit
        return None
    with contextlib.suppress(OSError, ValueError):  # what is in effect is checked below
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        return resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
    except (OSError, ValueError):
        return False


def _clear_dumpable() -> bool | None:
    prctl = _prctl()
    if prctl is None:
        return None
    try:
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        return bool(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, ctypes.ArgumentError):
        return False


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux only), declared with its real argument types. Looked up once,
    among the symbols the running interpreter already has (libc is always loaded), not with
    ``ctypes.util.find_library``, which runs ``ldconfig`` and costs a process start."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    prctl.restype = ctypes.c_int
    return prctl
