"""The simulator's import rules, read from the source (nothing is imported to check them).

* Command handlers (``cmd_*``) and :mod:`xsudo.sim.handlers` never import
  :mod:`xsudo.sim.modem`, not even under ``TYPE_CHECKING``: the modem imports them.
* The simulator is an independent implementation of the modem: no module under
  ``xsudo/sim`` imports the product's AT, provisioning, content or token code.
* The simulator's CME codes are named in :mod:`xsudo.sim.codes`, and each is a code the
  product's own table (:class:`xsudo.errors.CmeCode`, written independently) knows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import xsudo.sim
from xsudo.errors import CmeCode
from xsudo.sim.codes import XPMNG_EXISTS_CODES, Cme

SIM = Path(xsudo.sim.__file__).parent
PRODUCT_LOGIC = ("xsudo.at", "xsudo.provision", "xsudo.content", "xsudo.tokens")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (``from a import b`` gives both
    ``a`` and ``a.b``, since ``b`` may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


HANDLER_MODULES = [*sorted(SIM.glob("cmd_*.py")), SIM / "handlers.py"]


@pytest.mark.parametrize("path", HANDLER_MODULES, ids=lambda p: p.name)
def test_handlers_do_not_import_the_modem(path: Path) -> None:
    imported = imported_modules(path)
    assert "xsudo.sim.modem" not in imported
    assert "TYPE_CHECKING" not in path.read_text(encoding="utf-8")


def test_handlers_module_imports_no_command_module() -> None:
    imported = imported_modules(SIM / "handlers.py")
    assert not any(name.startswith("xsudo.sim.cmd_") for name in imported)


def test_modem_imports_every_command_module() -> None:
    imported = imported_modules(SIM / "modem.py")
    for path in SIM.glob("cmd_*.py"):
        assert f"xsudo.sim.{path.stem}" in imported


@pytest.mark.parametrize(
    "path", sorted(SIM.rglob("*.py")), ids=lambda p: str(p.relative_to(SIM.parent))
)
def test_simulator_does_not_import_product_logic(path: Path) -> None:
    bad = sorted(
        name
        for name in imported_modules(path)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in PRODUCT_LOGIC)
    )
    assert bad == []


def test_simulator_codes_are_codes_the_product_knows() -> None:
    product = {int(code) for code in CmeCode}
    assert {int(code) for code in Cme} <= product
    assert {int(code) for code in XPMNG_EXISTS_CODES} == {519, 520}
    assert Cme.XPMNG_ALREADY_EXISTS is Cme.AUTH_FAILED  # one number, two meanings


def test_named_codes_render_as_numbers() -> None:
    from xsudo.sim import Modem, SimOptions

    modem = Modem(SimOptions())
    modem.handle(b"AT+CMEE=1")
    assert modem.handle(b"AT%CMNG=2,4567,0") == b"+CME ERROR: 513\r\n"
    assert modem.handle(b"AT%CMNG=9") == b"+CME ERROR: 50\r\n"
