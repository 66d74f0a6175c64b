"""The documentation site loads nothing from a third party: no web fonts, scripts or
stylesheets from another host (a security tool's docs should make no such requests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REMOTE_ASSET = re.compile(rb'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//[^"]+"', re.I)
FONT_IMPORT = re.compile(rb"@import\s+url\([\"']?(?:https?:)?//|fonts\.(?:googleapis|gstatic)")


def test_no_page_loads_a_remote_asset(site: Path) -> None:
    offenders = []
    for page in site.rglob("*.html"):
        for match in REMOTE_ASSET.finditer(page.read_bytes()):
            tag = match.group(0)
            if b'rel="canonical"' not in tag and b"<a " not in tag[:3]:
                offenders.append(f"{page.relative_to(site)}: {tag[:120]!r}")
    assert not offenders, offenders[:5]


@pytest.mark.parametrize("suffix", ["*.css", "*.html", "*.js"])
def test_no_stylesheet_or_script_imports_web_fonts(site: Path, suffix: str) -> None:
    hits = [
        str(p.relative_to(site)) for p in site.rglob(suffix) if FONT_IMPORT.search(p.read_bytes())
    ]
    assert not hits, hits[:5]
