"""State shared by every command: where the home is, and how to reach the key store."""

from __future__ import annotations

from pathlib import Path

import click


class AppContext:
    """What the root group was given: the xsudo home directory, resolved on first use
    (``--home``, else ``$XSUDO_HOME``, else the platform's user data directory; see
    :func:`xsudo.paths.resolve_home`)."""

    def __init__(self, home: Path | None = None) -> None:
        self._given = home
        self._home: Path | None = None

    @property
    def home(self) -> Path:
        if self._home is None:
            from xsudo.paths import resolve_home

            self._home = resolve_home(self._given)
        return self._home

    def ensure_home(self) -> Path:
        from xsudo.paths import ensure_home

        return ensure_home(self.home)


def app_context() -> AppContext:
    """The :class:`AppContext` of the running command."""
    obj = click.get_current_context().find_object(AppContext)
    if obj is None:  # pragma: no cover - the root group always sets it
        raise RuntimeError("xsudo command run outside the root group")
    return obj
