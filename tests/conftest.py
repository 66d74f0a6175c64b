"""Test isolation: no test touches the real home directory, keychain or passphrase env.

Every test runs with HOME and XSUDO_HOME in a fresh temp dir, the in-memory keyring backend
from ``tests/support/memory_keyring.py`` (emptied per test), and no XSUDO_* variables
inherited from the developer's shell.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


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
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.memory_keyring.MemoryKeyring")
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
