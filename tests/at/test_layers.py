"""The AT layer stands alone: it loads no simulator, CLI, terminal UI or provisioning code,
and ``sim://`` works only once the program has loaded the simulator.

The import checks run in fresh interpreters (``python -c``), since this pytest process has
long loaded everything; a static check also catches imports inside functions that a fresh
import would not run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import serial

import xsudo.at
from xsudo.at import open_port, port_error
from xsudo.errors import PortError

REPO = Path(__file__).resolve().parents[2]
AT_DIR = Path(xsudo.at.__file__).parent

UPPER_LAYERS = ("xsudo.sim", "xsudo.cli", "xsudo.provision", "click", "rich")
"""What the AT layer must never load: the simulator, the CLI and its UI, provisioning."""

UNREGISTERED = (
    "sim:// is a simulator URL, but the simulator is not loaded in this program; "
    "import xsudo.sim (or call xsudo.sim.register_url_handler()) before opening sim:// "
    "ports; the xsudo command line does this itself"
)


def run_python(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def loaded(names: tuple[str, ...]) -> str:
    """Python code for the list of ``names`` (or their submodules) in ``sys.modules``."""
    return f"sorted(m for m in sys.modules if m in {names!r} or m.startswith({_prefixes(names)!r}))"


def _prefixes(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name + "." for name in names)


def test_importing_the_at_layer_loads_no_upper_layer() -> None:
    code = f"""
import importlib, json, pkgutil, sys
import xsudo.at, xsudo.at.channel, xsudo.at.modem, xsudo.command, xsudo.errors
for info in pkgutil.iter_modules(xsudo.at.__path__, "xsudo.at."):
    importlib.import_module(info.name)
print(json.dumps({{"loaded": {loaded(UPPER_LAYERS)}}}))
"""
    assert run_python(code) == {"loaded": []}


def test_opening_ports_loads_no_upper_layer() -> None:
    """Opening a URL (and failing to open ``sim://``) imports nothing lazily either."""
    code = f"""
import json, sys
from xsudo.at import AtChannel, open_port
from xsudo.errors import PortError
open_port("loop://").close()
try:
    AtChannel.open("sim://")
except PortError:
    pass
print(json.dumps({{"loaded": {loaded(UPPER_LAYERS)}}}))
"""
    assert run_python(code) == {"loaded": []}


def test_the_at_layer_loads_no_cryptography() -> None:
    """The package's own promise: nothing in the AT layer knows about cryptography."""
    code = f"""
import json, sys
import xsudo.at
print(json.dumps({{"loaded": {loaded(("cryptography", "xsudo.keys", "xsudo.signing"))}}}))
"""
    assert run_python(code) == {"loaded": []}


def test_no_at_module_imports_an_upper_layer_even_lazily() -> None:
    found: list[str] = []
    for path in sorted(AT_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                if name in UPPER_LAYERS or name.startswith(_prefixes(UPPER_LAYERS)):
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert found == []


def test_sim_url_fails_clearly_before_the_simulator_is_loaded_and_works_after() -> None:
    code = """
import json, serial
from xsudo.at import AtChannel
from xsudo.errors import PortError
try:
    AtChannel.open("sim://")
    before = None
except PortError as exc:
    before = {"error": str(exc), "exit_code": exc.exit_code}
import xsudo.sim
xsudo.sim.register_url_handler()
with AtChannel.open("sim://layers", timeout=5) as channel:
    response = channel.command(b"AT+CFUN?")
print(json.dumps({
    "before": before,
    "registered": serial.protocol_handler_packages.count("xsudo.sim.urlhandler"),
    "after": [response.final, [line.decode() for line in response.lines]],
}))
"""
    result = run_python(code)
    assert result["before"] == {"error": UNREGISTERED, "exit_code": 3}
    assert "\n" not in UNREGISTERED
    assert result["registered"] == 1  # importing registered it; calling again changed nothing
    final, lines = result["after"]
    assert final == "OK"
    assert [line.split(":")[0] for line in lines] == ["+CFUN"]


def test_the_library_registers_the_simulator_for_a_sim_port_only() -> None:
    """The CLI root loads neither pyserial nor the simulator; ``connect`` registers the scheme
    when (and only when) its port is a ``sim://`` URL."""
    code = """
import json, sys
import xsudo.cli.app
loaded = [m for m in ("serial", "xsudo.sim") if m in sys.modules]
import xsudo
try:
    xsudo.connect("socket://127.0.0.1:9", audit=False, timeout=0.2)
except xsudo.XsudoError:
    pass
plain = "xsudo.sim" in sys.modules
with xsudo.connect("sim://", audit=False) as dev:
    listed = len(dev.list_credentials())
import serial
print(json.dumps({"loaded": loaded, "plain": plain, "listed": listed,
                  "packages": serial.protocol_handler_packages}))
"""
    result = run_python(code)
    assert result["loaded"] == []
    assert result["plain"] is False
    assert result["listed"] >= 0
    assert "xsudo.sim.urlhandler" in result["packages"]


def test_unregistered_sim_url_error_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process too: with the handler taken off pyserial's list, ``sim://`` says what to do."""
    packages = [p for p in serial.protocol_handler_packages if p != "xsudo.sim.urlhandler"]
    monkeypatch.setattr(serial, "protocol_handler_packages", packages)
    with pytest.raises(PortError) as caught:
        open_port("sim://")
    assert str(caught.value) == UNREGISTERED
    assert caught.value.exit_code == 3


def test_only_an_unknown_sim_scheme_gets_the_simulator_error() -> None:
    other = port_error("sim://?baud=x", ValueError("Not a valid baudrate: 'x'"))
    assert "not a port or URL pyserial can open" in str(other)
    unknown = port_error("nosuch://x", ValueError("invalid URL, protocol 'nosuch' not known"))
    assert "not a port or URL pyserial can open" in str(unknown)
