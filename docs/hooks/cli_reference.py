"""MkDocs hook: generate the command-line and simulator-option reference at build time.

The pages are rendered from the live click commands (``xsudo.cli.app:cli``) and from the
simulator's option table (``xsudo.sim.options.OPTION_FIELDS``), so they cannot drift from
``xsudo ... --help`` or from what a ``sim://`` URL accepts. Nothing is written to disk: the
pages exist only in the build (``mkdocs build``, ``mkdocs serve``).

Pages: ``reference/cli.md`` and ``reference/simulator-options.md``.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

CLI_PAGE = "reference/cli.md"
SIM_OPTIONS_PAGE = "reference/simulator-options.md"
PROG = "xsudo"

_MARKDOWN_SPECIALS = frozenset("\\`*_[]|#")

_CLI_INTRO = """\
# Command-line reference

This page is generated from the `click` commands (`xsudo.cli.app:cli`) every time the site
is built, so it says exactly what `xsudo COMMAND --help` says. Defaults are shown as
`[default: ...]`, allowed ranges as `[0<=x<=9]`, and options that can also be set from the
environment name the variable.

Every command prints results on stdout and messages on stderr; with `--json` a command
prints its result as JSON ([JSON output](json.md)). Exit codes are in
[Exit codes](exit-codes.md).
"""

_SIM_INTRO = """\
# Simulator options

Generated at build time from `xsudo.sim.options.OPTION_FIELDS`, the one table that parses
both a `sim://` URL query and the `xsudo sim` flags, so the two always take the same
options. In a URL, names may use `-` or `_`, and a repeatable option is given once per
value (`&fault=drop:3&fault=reset:5`). Booleans take `1/0`, `true/false`, `yes/no` or
`on/off`. A default of `unset` means the profile decides, where the description says so.
See [Test with the simulator](../how-to/simulator.md).

| `sim://` query | `xsudo sim` flag | Default | Meaning |
|---|---|---|---|
"""


def escape(text: str) -> str:
    """``text`` as literal Markdown prose: HTML-escaped, Markdown punctuation backslashed."""
    escaped = html.escape(text, quote=False)
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in escaped)


def code(text: str) -> str:
    """``text`` as one inline code span, whatever backticks it holds."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def help_markdown(text: str | None) -> str:
    """A click help text as Markdown: paragraphs re-flowed, ``\\b`` paragraphs verbatim."""
    if not text:
        return ""
    blocks: list[str] = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.split("\n")
        if lines[0].strip() == "\b":
            verbatim = inspect.cleandoc("\n".join(lines[1:]))
            blocks.append(f"```text\n{verbatim}\n```")
        else:
            blocks.append(escape(" ".join(line.strip() for line in lines)))
    return "\n\n".join(blocks)


@dataclass(frozen=True)
class Entry:
    """One command in the tree: its full path (``("xsudo", "cred", "write")``) and context."""

    path: tuple[str, ...]
    command: click.Command
    ctx: click.Context

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def anchor(self) -> str:
        return "-".join(self.path)


def subcommands(command: click.Command, ctx: click.Context) -> list[tuple[str, click.Command]]:
    """The visible sub-commands of a group, sorted by name (none for a plain command)."""
    if not isinstance(command, click.Group):
        return []
    found = ((name, command.get_command(ctx, name)) for name in command.list_commands(ctx))
    return [(name, sub) for name, sub in found if sub is not None and not sub.hidden]


def walk(
    command: click.Command, path: tuple[str, ...] = (PROG,), parent: click.Context | None = None
) -> Iterator[Entry]:
    """Every command under ``command`` (itself first), depth first, sorted by name."""
    ctx = click.Context(command, info_name=path[-1], parent=parent, show_default=True)
    yield Entry(path, command, ctx)
    for name, sub in subcommands(command, ctx):
        yield from walk(sub, (*path, name), ctx)


def _option_row(param: click.Parameter, ctx: click.Context) -> str | None:
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, description = record
    text = escape(description or ("Print the result as JSON." if names == "--json" else ""))
    extras = []
    if isinstance(param, click.Option) and param.multiple:
        extras.append("repeatable")
    if isinstance(param.envvar, str):
        extras.append(f"environment: {param.envvar}")
    if extras:
        text = f"{text} {escape('[' + '; '.join(extras) + ']')}".strip()
    return f"| {code(names)} | {text} |"


def _arguments_table(entry: Entry) -> str:
    arguments = [p for p in entry.command.get_params(entry.ctx) if isinstance(p, click.Argument)]
    if not arguments:
        return ""
    rows = [
        f"| {code(_metavar(p, entry.ctx))} | {'required' if p.required else 'optional'} |"
        for p in arguments
    ]
    return "| Argument | |\n|---|---|\n" + "\n".join(rows)


def _options_table(entry: Entry) -> str:
    params = [p for p in entry.command.get_params(entry.ctx) if not isinstance(p, click.Argument)]
    rows = [row for row in (_option_row(p, entry.ctx) for p in params) if row is not None]
    if not rows:
        return ""
    return "| Option | Description |\n|---|---|\n" + "\n".join(rows)


def _subcommands_table(entry: Entry) -> str:
    rows = [
        f"| [{escape(f'{entry.name} {name}')}](#{entry.anchor}-{name}) "
        f"| {escape(sub.get_short_help_str(limit=120))} |"
        for name, sub in subcommands(entry.command, entry.ctx)
    ]
    if not rows:
        return ""
    return "| Command | What it does |\n|---|---|\n" + "\n".join(rows)


def render_command(entry: Entry) -> str:
    """One command's section: heading, help, usage, arguments, options, sub-commands."""
    level = "#" * min(len(entry.path) + 1, 4)
    parts = [
        f"{level} {entry.name} {{ #{entry.anchor} }}",
        help_markdown(entry.command.help),
        f"```text\n{entry.command.get_usage(entry.ctx)}\n```",
        _arguments_table(entry),
        _options_table(entry),
        _subcommands_table(entry),
    ]
    return "\n\n".join(part for part in parts if part)


def render_cli(root: click.Command) -> str:
    """The whole ``reference/cli.md`` page."""
    sections = "\n\n".join(render_command(entry) for entry in walk(root))
    return f"{_CLI_INTRO}\n{sections}\n"


def _render_default(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, frozenset):
        return ",".join(str(v) for v in sorted(value)) or "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


def render_sim_options() -> str:
    """The whole ``reference/simulator-options.md`` page."""
    from xsudo.sim.options import OPTION_FIELDS, SimOptions

    defaults = SimOptions()
    rows = []
    for field in OPTION_FIELDS:
        meta = field.metadata
        name = field.name.replace("_", "-")
        value = meta["metavar"] or "VALUE"
        query = f"{name}=1" if meta["flag"] else f"{name}={value}"
        flag = f"--{name} / --no-{name}" if meta["flag"] else f"--{name} {value}"
        default = _render_default(getattr(defaults, field.name))
        meaning = meta["help"] + (" (repeatable)" if meta["multiple"] else "")
        rows.append(f"| {code(query)} | {code(flag)} | {code(default)} | {escape(meaning)} |")
    return _SIM_INTRO + "\n".join(rows) + "\n"


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    """MkDocs event: add the generated pages to the build."""
    from xsudo.cli.app import cli

    files.append(File.generated(config, CLI_PAGE, content=render_cli(cli)))
    files.append(File.generated(config, SIM_OPTIONS_PAGE, content=render_sim_options()))
    return files


def _metavar(param: click.Parameter, ctx: click.Context) -> str:
    """``param.make_metavar``: it takes the context from click 8.2 on, nothing before."""
    try:
        return param.make_metavar(ctx)  # type: ignore[call-arg, unused-ignore]
    except TypeError:
        return param.make_metavar()  # type: ignore[call-arg, unused-ignore]
