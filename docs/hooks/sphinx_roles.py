"""Griffe extension: show reStructuredText roles in docstrings as plain code.

xsudo's docstrings name other objects the Sphinx way (``:class:`~xsudo.errors.CmeError```,
``:func:`preflight```, ``:data:`CODES```). mkdocstrings renders docstrings as Markdown, where
such a role would show its markup. This turns each role into an inline code span holding the
name (the last component when the target starts with ``~``), which is what Sphinx shows.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|ref):`(~?)([^`]+)`")


def strip_roles(text: str) -> str:
    """``text`` with every Sphinx cross-reference role replaced by a code span."""

    def replace(match: re.Match[str]) -> str:
        target = match.group(2)
        if match.group(1):
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    return _ROLE.sub(replace, text)


class SphinxRoles(Extension):
    """Rewrite roles in every docstring once the object tree is built."""

    def on_object(self, *, obj: Object, **_: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
