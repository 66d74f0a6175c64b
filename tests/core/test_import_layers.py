"""Every import goes down the layer order of docs/design/architecture.md (#layers).

The table below is that picture as data. Each module's layer is the longest prefix that
matches; an import of a module in a higher layer fails the test (imports inside functions
count too: a lazy import is still a dependency). Sideways imports within one layer are
allowed, as the design page says.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "xsudo"

LAYERS: dict[str, int] = {
    "xsudo.cli": 7,
    "xsudo.station": 7,  # beside the CLI: drives plans/ledger, prints through cli.output
    "xsudo.__main__": 7,
    "xsudo.api": 6,
    "xsudo.device": 6,
    "xsudo": 6,  # xsudo/__init__.py re-exports the public API (lazily)
    "xsudo.provision": 5,
    "xsudo.plans": 5,
    "xsudo.keys": 4,
    "xsudo.audit": 4,
    "xsudo.ledger": 4,
    "xsudo.diagnose": 4,
    "xsudo.at": 4,
    "xsudo.signing": 3,
    "xsudo.content": 3,
    "xsudo.tokens": 3,
    "xsudo.ca": 3,
    "xsudo.labpki": 3,
    "xsudo.crypto": 2,
    "xsudo.command": 2,
    "xsudo.at.commands": 2,
    "xsudo.errors": 1,
    "xsudo.limits": 1,
    "xsudo.encoding": 1,
    "xsudo.fileio": 1,
    "xsudo.atomic": 1,
    "xsudo.paths": 1,
    "xsudo.hardening": 1,
    "xsudo.lazyexports": 1,
    "xsudo.ports": 1,
}
SIMULATOR = "xsudo.sim"
SIMULATOR_MAY_USE = ("xsudo.sim", "xsudo.crypto", "xsudo.encoding", "xsudo.errors",
                     "xsudo.fileio", "xsudo.atomic", "xsudo.limits")  # fmt: skip


def module_name(path: Path) -> str:
    parts = ["xsudo", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(name: str) -> int | None:
    matches = [p for p in LAYERS if name == p or name.startswith(p + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def imports(path: Path) -> list[str]:
    """Every ``xsudo...`` module ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    )
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:  # `from pkg import submodule` depends on the submodule
                sub = f"{base}.{alias.name}"
                found.append(sub if _existing(sub) else base)
    # the root package itself only re-exports lazily: importing a submodule through it is
    # a dependency on that submodule, not on the public API
    return [name for name in found if name.startswith("xsudo.")]


def _existing(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (ROOT / relative).with_suffix(".py").exists() or (ROOT / relative).is_dir()


SOURCES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=[module_name(p) for p in SOURCES])
def test_imports_go_down(path: Path) -> None:
    name = module_name(path)
    targets = [t for t in imports(path) if _existing(t)]
    if name.startswith(SIMULATOR):
        bad = [t for t in targets if not t.startswith(SIMULATOR_MAY_USE)]
        assert not bad, f"the simulator {name} uses product code: {bad}"
        return
    own = layer(name)
    assert own is not None, f"{name} has no layer: add it to the table and the design page"
    bad = [t for t in targets if t.startswith(SIMULATOR) and own < 6]
    bad += [t for t in targets if not t.startswith(SIMULATOR) and (layer(t) or 0) > own]
    assert not bad, f"{name} (layer {own}) imports upward: {bad}"
