"""Where xsudo keeps its metadata, key files and logs.

Order: an explicit ``--home``, then ``XSUDO_HOME``, then the platform's user data dir.
The directory is created with mode 0700 on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "XSUDO_HOME"


def resolve_home(explicit: Path | None = None) -> Path:
    """The xsudo home directory (not created)."""
    if explicit is not None:
        return explicit.expanduser()
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs  # only when $XSUDO_HOME does not name the home

    return Path(platformdirs.user_data_dir("xsudo", appauthor=False))


def ensure_home(home: Path) -> Path:
    """Create ``home`` (mode 0700) if missing and return it."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home
