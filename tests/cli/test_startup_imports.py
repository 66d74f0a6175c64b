"""Cold start: what ``xsudo ... --help`` may load, and the lazy command table.

The root group lists every command from its table (:mod:`xsudo.cli.app`) without importing a
command module, and each command module imports the library only when the command runs. These
tests run ``xsudo`` in a fresh interpreter (``sys.modules`` starts empty there) and name the
modules that must not be loaded; they time nothing (``benchmarks/startup.py`` measures the
start-up time). They also check the table against the real commands: every entry names a
command whose help it summarises, and every command of the ``xsudo.cli`` modules is listed.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import xsudo.cli
from xsudo.cli import params
from xsudo.cli.app import COMMANDS, cli
from xsudo.cli.lazy import LazyCommand, LazyGroup

HEAVY = (
    "keyring",
    "cryptography.x509",
    "cryptography.hazmat.primitives.serialization.pkcs12",
    "rich",
    "xsudo.sim",
    "serial",
)
"""Modules no ``--help`` below may load: the OS keychain, certificate and PKCS#12 code, the
terminal renderer, the simulator and pyserial."""

PROBE = """
import json, sys
from xsudo.cli import main
out, args = sys.argv[1], sys.argv[2:]
code = None
try:
    main(args)
except SystemExit as stop:
    code = stop.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""
"""Run ``xsudo`` with the given arguments and write the exit code and the loaded modules."""


def loaded_by(args: list[str], tmp_path: Path) -> set[str]:
    """The modules loaded by ``xsudo *args`` in a fresh interpreter (which must exit 0)."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["code"] in (0, None), (args, done.stdout, done.stderr)
    return set(report["modules"])


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``group`` (groups included), without importing anything."""
    assert isinstance(group, LazyGroup)
    found = []
    for name in group.lazy_commands:
        entry = group.lazy_commands.peek(name)
        found.append((*path, name))
        if isinstance(entry, click.Group):
            found += walk(entry, (*path, name))
    return found


ALL_PATHS = walk(cli)
GROUPS = [(name,) for name, entry in COMMANDS.items() if isinstance(entry, click.Group)]
LEAVES = [path for path in ALL_PATHS if path not in GROUPS]
SIMULATOR_COMMANDS = {("sim",), ("demo",)}
"""Their options come from the simulator (its flags, its profiles): their ``--help`` loads it."""


def test_root_help_loads_no_command_module(tmp_path: Path) -> None:
    modules = loaded_by(["--help"], tmp_path)
    assert heavy_in(modules) == []
    command_modules = {m for m in modules if m.startswith("xsudo.cli.")} - {
        "xsudo.cli.app",
        "xsudo.cli.lazy",
    }
    assert command_modules == set()
    assert "xsudo.errors" not in modules


@pytest.mark.parametrize("path", [("verify",), *GROUPS], ids=" ".join)
def test_group_and_verify_help_stay_light(path: tuple[str, ...], tmp_path: Path) -> None:
    modules = loaded_by([*path, "--help"], tmp_path)
    assert heavy_in(modules) == []
    assert "cryptography" not in modules or path == ("verify",)
    if path != ("verify",):  # a group's help imports none of its commands
        assert not {m for m in modules if m.startswith("xsudo.cli.")} - {
            "xsudo.cli.app",
            "xsudo.cli.lazy",
            "xsudo.cli.context",
        }


@pytest.mark.parametrize("path", [p for p in LEAVES if p not in SIMULATOR_COMMANDS], ids=" ".join)
def test_every_command_help_is_light(path: tuple[str, ...], tmp_path: Path) -> None:
    modules = loaded_by([*path, "--help"], tmp_path)
    assert heavy_in(modules) == [], f"xsudo {' '.join(path)} --help"
    assert "xsudo.api" not in modules and "xsudo.device" not in modules


def test_sim_port_opens_from_a_fresh_process(tmp_path: Path) -> None:
    """Nothing registers sim:// at import time any more: the library does it for the port."""
    done = subprocess.run(
        [sys.executable, "-m", "xsudo", "cred", "list", "--port", "sim://", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), list)


# -- the table against the real commands ------------------------------------------------------


def first_paragraph(command: click.Command) -> str:
    return " ".join((command.help or "").split("\n\n")[0].split())


def lazy_entries() -> list[tuple[tuple[str, ...], LazyCommand]]:
    entries = []
    for path in ALL_PATHS:
        group: click.Group = cli
        for name in path[:-1]:
            sub = group.commands[name]
            assert isinstance(sub, click.Group)
            group = sub
        assert isinstance(group, LazyGroup)
        entry = group.lazy_commands.declared(path[-1])
        if entry is not None:
            entries.append((path, entry))
    return entries


@pytest.mark.parametrize(
    ("path", "entry"), lazy_entries(), ids=[" ".join(p) for p, _ in lazy_entries()]
)
def test_table_entry_matches_its_command(path: tuple[str, ...], entry: LazyCommand) -> None:
    command = entry.load()
    assert command.name == path[-1], f"{entry.target} is called {command.name!r}"
    real = first_paragraph(command)
    assert real == entry.summary, f"xsudo {' '.join(path)}: the table's summary is out of date"
    shown = click.Command(path[-1], help=entry.summary)
    for width in (45, 80, 200):
        assert shown.get_short_help_str(width) == command.get_short_help_str(width)


def test_every_command_is_in_the_table() -> None:
    """Each click command defined in an ``xsudo.cli`` module is reachable from the table."""
    listed = {entry.target for _, entry in lazy_entries()}
    missing = []
    for info in pkgutil.iter_modules(xsudo.cli.__path__):
        module = importlib.import_module(f"xsudo.cli.{info.name}")
        for attribute, value in vars(module).items():
            defined_here = getattr(value, "callback", None) is not None and (
                value.callback.__module__ == module.__name__
            )
            if value is cli or not isinstance(value, click.Command):
                continue
            target = f"xsudo.cli.{info.name}:{attribute}"
            if defined_here and target not in listed:
                missing.append(target)
    assert missing == [], f"commands missing from the table in xsudo/cli/app.py: {missing}"


def test_lazy_listing_equals_the_loaded_listing() -> None:
    """The group help shows the same lines before and after its commands are imported."""
    for name, group in COMMANDS.items():
        if not isinstance(group, LazyGroup):
            continue
        fresh = LazyGroup(
            name, commands={n: group.lazy_commands.peek(n) for n in group.lazy_commands}
        )
        with click.Context(fresh, info_name=name) as ctx:
            lazy_help = fresh.get_help(ctx)
        loaded = click.Group(name, commands={n: group.commands[n] for n in group.lazy_commands})
        with click.Context(loaded, info_name=name) as ctx:
            assert loaded.get_help(ctx) == lazy_help


# -- the choices copied into xsudo.cli.params --------------------------------------------------


def test_copied_choices_equal_their_sources() -> None:
    from xsudo.at.cmdtype import CMD_TYPE_ENV, CMD_TYPES
    from xsudo.at.shell import DEFAULT_SHELL_BUFFER
    from xsudo.at.transport import FLOW_CONTROLS
    from xsudo.keys import IMPORT_PASSPHRASE_ENV, STORE_NAMES
    from xsudo.keys.command_store import DEFAULT_TIMEOUT
    from xsudo.provision.onboarding import DEFAULT_FW_TYPES
    from xsudo.provision.policy import AUTH_MODES
    from xsudo.provision.subject import CN_SOURCES

    assert params.CMD_TYPES == CMD_TYPES
    assert params.CMD_TYPE_ENV == CMD_TYPE_ENV
    assert params.FLOW_CONTROLS == FLOW_CONTROLS
    assert params.DEFAULT_SHELL_BUFFER == DEFAULT_SHELL_BUFFER
    assert params.AUTH_MODES == AUTH_MODES
    assert params.STORE_NAMES == STORE_NAMES
    assert params.IMPORT_PASSPHRASE_ENV == IMPORT_PASSPHRASE_ENV
    assert params.KEY_COMMAND_TIMEOUT == DEFAULT_TIMEOUT
    assert params.CN_SOURCES == CN_SOURCES
    assert params.DEFAULT_FW_TYPES == DEFAULT_FW_TYPES
