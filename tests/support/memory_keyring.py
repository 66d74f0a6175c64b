"""An in-memory keyring backend for tests (selected with PYTHON_KEYRING_BACKEND in conftest).

It behaves like a real OS keychain as far as xsudo can tell: priority 1, values read back
exactly, ``PasswordDeleteError`` for a missing entry. :func:`reset` empties it.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

_entries: dict[tuple[str, str], str] = {}


def reset() -> None:
    """Forget every stored entry."""
    _entries.clear()


def entries() -> dict[tuple[str, str], str]:
    """The live store (tests inspect and tamper with it)."""
    return _entries


class MemoryKeyring(KeyringBackend):
    """Secrets in a module-level dict."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return _entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        _entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del _entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError(f"no entry for {service}/{username}") from None
