"""State shared by every command: where the home is, and how to reach the key store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from xsudo.paths import ensure_home


@dataclass
class AppContext:
    """What the root group resolved: the xsudo home directory."""

    home: Path

    def ensure_home(self) -> Path:
        return ensure_home(self.home)


def app_context() -> AppContext:
    """The :class:`AppContext` of the running command."""
    obj = click.get_current_context().find_object(AppContext)
    if obj is None:  # pragma: no cover - the root group always sets it
        raise RuntimeError("xsudo command run outside the root group")
    return obj
