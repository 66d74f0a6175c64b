"""Every shell block in the docs holds exactly one command and nothing else.

The site's copy button copies a whole block. So a ``console``/``sh`` block must hold one
command, without a ``$`` prompt and without output: what the command printed goes in a
separate ``text`` block after it. Checked on the Markdown sources (``docs/`` and the
README), so a new page is covered without a list to update.

A block may spread one command over several lines (a trailing ``\\``, ``|``, ``&&`` or
``||``, or a here-document). A block whose first line is ``#!`` is a script file to save,
not a command to type, and is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "docs").rglob("*.md"), REPO / "README.md"])
SHELL_LANGUAGES = frozenset({"console", "sh", "bash", "shell", "shell-session", "zsh"})
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
CONTINUATION = ("\\", "|", "&&", "||")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>[A-Za-z_][A-Za-z0-9_]*)\1")


@dataclass(frozen=True)
class Block:
    """A fenced block: where it starts (1-based line), its language and its lines."""

    line: int
    language: str
    lines: tuple[str, ...]


def fenced_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, indented ones (in lists, admonitions)
    included; the language is the first word of the info string, lower case."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, indent = match.group("fence"), match.group("indent")
        words = match.group("info").strip().split()
        language = words[0].lower().lstrip(".{") if words else ""
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = tuple(_dedent(line, indent) for line in lines[index + 1 : end])
        blocks.append(Block(index + 1, language, body))
        index = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line.lstrip()


def problems(block: Block) -> list[str]:
    """What makes a shell block more than one copyable command (empty when it is fine)."""
    if not block.lines or block.lines[0].startswith("#!"):
        return []
    found = [
        f"prompt {line.strip()!r}"
        for line in block.lines
        if line.startswith("$ ") or line.strip() == "$"
    ]
    commands = logical_commands(block.lines)
    if len(commands) > 1:
        found.append(
            f"{len(commands)} commands or output lines in one block "
            f"(the second: {commands[1][:60]!r}); give each command its own block and its "
            "output a text block"
        )
    if not commands:
        found.append("no command")
    return found


def logical_commands(lines: tuple[str, ...]) -> list[str]:
    """The block's lines joined into commands: continuation lines and here-document bodies
    belong to the line that opened them; blank and comment-only lines are skipped."""
    commands: list[str] = []
    current: list[str] = []
    heredoc_end: str | None = None
    for line in lines:
        if heredoc_end is not None:
            current.append(line)
            if line.strip() == heredoc_end:
                heredoc_end = None
                commands.append("\n".join(current))
                current = []
            continue
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        heredoc = HEREDOC.search(line)
        if heredoc is not None:
            heredoc_end = heredoc.group("word")
            continue
        if not line.rstrip().endswith(CONTINUATION):
            commands.append("\n".join(current))
            current = []
    if current:
        commands.append("\n".join(current))
    return commands


def _shell_blocks() -> list[tuple[str, Block]]:
    found = []
    for path in SOURCES:
        for block in fenced_blocks(path.read_text(encoding="utf-8")):
            if block.language in SHELL_LANGUAGES:
                found.append((f"{path.relative_to(REPO)}:{block.line}", block))
    return found


SHELL_BLOCKS = _shell_blocks()


def test_the_docs_have_shell_blocks() -> None:
    assert len(SHELL_BLOCKS) > 50  # the scan finds the blocks (a broken parser finds none)


@pytest.mark.parametrize(("where", "block"), SHELL_BLOCKS, ids=[w for w, _ in SHELL_BLOCKS])
def test_each_shell_block_is_one_copyable_command(where: str, block: Block) -> None:
    found = problems(block)
    assert not found, f"{where}: " + "; ".join(found)


# The checker itself: each case below must be told apart.


def _block(text: str) -> Block:
    (block,) = fenced_blocks(text)
    return block


@pytest.mark.parametrize(
    "text",
    [
        "```console\n$ xsudo ports\n/dev/ttyACM0\n```\n",  # prompt and output
        "```console\nxsudo ports\n/dev/ttyACM0  nRF9151 DK\n```\n",  # output, no prompt
        "```sh\nxsudo key list\nxsudo key show factory\n```\n",  # two commands
        "```console\n$ xsudo ports\n```\n",  # a prompt the copy button would copy
        "    ```console\n    xsudo a\n    out\n    ```\n",  # indented (admonition, list)
        "````console\nxsudo a\n```\nout\n````\n",  # a longer fence holding a short one
    ],
)
def test_checker_refuses_mixed_blocks(text: str) -> None:
    assert problems(_block(text))


@pytest.mark.parametrize(
    "text",
    [
        "```console\nxsudo ports\n```\n",
        "```sh\nxsudo cred issue --tag 1 \\\n    --key factory\n```\n",
        "```sh\nxsudo device info --json |\n  jq .imei\n```\n",
        "```sh\n# a comment first\nxsudo key list   # and one after\n```\n",
        "```sh\ncat > cmd.txt <<'EOF'\n%CMNG=1\nEOF\n```\n",
        "```sh\n#!/bin/sh\nxsudo a\nxsudo b\n```\n",
    ],
)
def test_checker_accepts_one_command(text: str) -> None:
    assert problems(_block(text)) == []
