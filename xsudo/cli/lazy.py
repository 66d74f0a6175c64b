"""Command groups that import a command's module only when that command is used.

``xsudo --help`` lists every command, but it runs none of them: importing all thirteen
command modules (and, through them, the key store, keyring, the certificate code, rich and
the simulator) costs more than the rest of the program's start. A :class:`LazyGroup` is
given, for each command it does not hold yet, a :class:`LazyCommand`: where the command
lives (``"module:attribute"``) and the first paragraph of its help. Listing the group
(its ``--help``) uses that text; running the command, asking for the command's own
``--help`` or completing its options imports the module then.

The group keeps click's own API: ``list_commands``, ``get_command``, ``add_command`` and
``commands`` (a mapping whose values are the real commands, each imported on first
access) behave as on :class:`click.Group`, so whatever walks the click tree (the docs hook,
the tests) sees every command. ``tests/cli/test_startup_imports.py`` checks that each
:class:`LazyCommand` names a real command whose help starts with its text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from importlib import import_module
from typing import Any, NamedTuple

import click


class LazyCommand(NamedTuple):
    """A command known by where it lives and what it does, not yet imported."""

    target: str
    """``"package.module:attribute"``: the module to import and the command object in it."""
    summary: str
    """The first paragraph of the command's help, whitespace collapsed: what the group's
    ``--help`` shortens to one line, as click does with the real help."""

    def load(self) -> click.Command:
        """Import the module and return the command (a :class:`click.Command`)."""
        module_name, _, attribute = self.target.partition(":")
        command = getattr(import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name: real commands, and :class:`LazyCommand` entries that are
    imported (and then kept) the first time their value is read. Names, membership and
    length never import anything."""

    def __init__(self, entries: Mapping[str, click.Command | LazyCommand] | None = None) -> None:
        self._entries: dict[str, click.Command | LazyCommand] = dict(entries or {})
        self._declared = {n: e for n, e in self._entries.items() if isinstance(e, LazyCommand)}

    def __getitem__(self, name: str) -> click.Command:
        entry = self._entries[name]
        if isinstance(entry, LazyCommand):
            entry = self._entries[name] = entry.load()
        return entry

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._entries[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def declared(self, name: str) -> LazyCommand | None:
        """The :class:`LazyCommand` ``name`` was given as (kept after it is loaded), or
        ``None`` for a command given as a real one."""
        return self._declared.get(name)

    def peek(self, name: str) -> click.Command | LazyCommand | None:
        """The entry for ``name`` as it is now: the command if it is loaded, else its
        :class:`LazyCommand` (``None`` for an unknown name). Imports nothing."""
        return self._entries.get(name)


class LazyGroup(click.Group):
    """A :class:`click.Group` whose ``commands`` may hold :class:`LazyCommand` entries.

    ``commands`` maps each name to a real command or a :class:`LazyCommand`; a lazy one is
    imported when it runs, when its own help is shown, or when ``commands[name]``,
    ``get_command`` or a walk of the tree asks for it. The group's help lists them without
    importing them.
    """

    def __init__(
        self,
        name: str | None = None,
        commands: Mapping[str, click.Command | LazyCommand] | None = None,
        **attrs: Any,
    ) -> None:
        super().__init__(name, **attrs)
        # Set here, not passed up: click 8.1 replaces an empty mapping with a dict. Click
        # uses ``commands`` only through the mapping API (get, [], in, iteration).
        self.commands = LazyCommands(commands)

    @property
    def lazy_commands(self) -> LazyCommands:
        """:attr:`commands`, typed as what it is."""
        assert isinstance(self.commands, LazyCommands)
        return self.commands

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section of the help, exactly as :class:`click.Group` writes it
        (same widths, same shortening), from each lazy command's :attr:`LazyCommand.summary`
        instead of the imported command."""
        listing = click.Group(self.name, commands=self._listing(ctx))
        click.Group.format_commands(listing, ctx, formatter)

    def _listing(self, ctx: click.Context) -> dict[str, click.Command]:
        """Every command to list: the loaded ones, and a stand-in carrying the summary for
        each one not imported yet."""
        shown: dict[str, click.Command] = {}
        for name in self.list_commands(ctx):
            entry = self.lazy_commands.peek(name)
            if isinstance(entry, LazyCommand):
                shown[name] = click.Command(name, help=entry.summary)
            elif entry is not None:
                shown[name] = entry
        return shown
