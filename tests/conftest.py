"""Test isolation: no test touches the real home directory, keychain or passphrase env.

Every test runs with HOME and XSUDO_HOME in a fresh temp dir, the in-memory keyring backend
from ``tests/support/memory_keyring.py`` (emptied per test, and opted in with
``XSUDO_KEYRING_ALLOW``, since it is no OS keychain), and no other XSUDO_* variables
inherited from the developer's shell.

The CLI and the key store disable core dumps of their process
(:func:`xsudo.hardening.disable_core_dumps`). In-process tests would do that to the pytest
process itself (irreversibly: a zero hard limit, not dumpable, so no debugger could attach
and every subprocess inherits the zero limit); ``core_dump_calls`` records the calls instead.
The real effect is tested in subprocesses (tests/core/test_hardening.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from xsudo import hardening

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
MEMORY_KEYRING = "tests.support.memory_keyring.MemoryKeyring"


@pytest.fixture(autouse=True)
def core_dump_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Calls of :func:`xsudo.hardening.disable_core_dumps` in this process during the test
    (recorded, not applied; see the module docstring)."""
    calls: list[str] = []

    def record() -> hardening.CoreDumpStatus:
        calls.append("disable_core_dumps")
        return hardening.CoreDumpStatus(core_limit_zero=None, not_dumpable=None)

    monkeypatch.setattr(hardening, "disable_core_dumps", record)
    return calls


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp HOME and XSUDO_HOME for every test; returns the XSUDO_HOME path."""
    for name in list(os.environ):
        if name.startswith("XSUDO_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    xsudo_home = tmp_path / "xsudo-home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XSUDO_HOME", str(xsudo_home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", MEMORY_KEYRING)
    monkeypatch.setenv("XSUDO_KEYRING_ALLOW", MEMORY_KEYRING)
    try:
        from tests.support import memory_keyring
    except ImportError:  # pragma: no cover - before the key store lands
        yield xsudo_home
        return
    memory_keyring.reset()
    yield xsudo_home
    memory_keyring.reset()


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` (read-only vectors and spec)."""
    return SHARED
