"""The diagrams in ``docs/img`` are plain, self-contained SVG that the pages use.

Hand-written SVG: no script, no external reference (fonts, images, stylesheets), a title
for screen readers, and each one shown on at least one page.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES = sorted((REPO / "docs" / "img").glob("*.svg"))
SVG = "{http://www.w3.org/2000/svg}"
EXTERNAL = re.compile(r"(?:https?:)?//|@import|url\(\s*['\"]?(?!#)", re.I)
PAGES = [*(REPO / "docs").rglob("*.md"), REPO / "README.md"]


def test_there_are_diagrams() -> None:
    names = {path.name for path in IMAGES}
    assert {"data-flow.svg", "auth-auto.svg", "fleet-run.svg"} <= names


@pytest.mark.parametrize("path", IMAGES, ids=[p.name for p in IMAGES])
def test_diagram_is_self_contained(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    title = root.find(f"{SVG}title")
    assert title is not None and (title.text or "").strip()
    for element in root.iter():
        tag = element.tag.removeprefix(SVG)
        assert tag not in ("script", "foreignObject", "image", "iframe"), tag
        assert not any(name.startswith("on") for name in element.attrib), element.attrib
        for name, value in element.attrib.items():
            if name.endswith("href") or name == "src":
                assert value.startswith("#"), f"{path.name}: {name}={value}"
        if tag == "style":
            assert not EXTERNAL.search(element.text or ""), f"{path.name}: external in <style>"


@pytest.mark.parametrize("path", IMAGES, ids=[p.name for p in IMAGES])
def test_diagram_is_shown_on_a_page(path: Path) -> None:
    link = re.compile(rf"\]\((?:\.\./)*img/{re.escape(path.name)}\)")
    assert any(link.search(page.read_text(encoding="utf-8")) for page in PAGES), path.name
