"""The simulator's configuration error (its own module so the profile-file loader and the
option table can both raise it without importing each other)."""

from __future__ import annotations

from xsudo.errors import BadInputError


class SimOptionError(BadInputError, ValueError):
    """An unknown or malformed simulator option or profile file (a ``ValueError`` too, for
    pyserial). Its message is one line."""
