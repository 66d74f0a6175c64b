"""Package attributes that load their module on first use (PEP 562), so importing a light
part of a package does not load its heavy parts."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps each public name to the
    submodule defining it (``""``: the name is itself a submodule). A name is imported once,
    then kept in the package's namespace; an unknown name raises :class:`AttributeError`."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = import_module(f"{package}.{module or name}")
        if module:
            value = getattr(value, name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
