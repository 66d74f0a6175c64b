"""``xsudo explain``: what a modem error code means for a command, offline.

The catalog is :mod:`xsudo.explain`; this module words it for the command line (the fix is
the remedy in CLI words, :mod:`xsudo.cli.hints`) and prints it. ``xsudo at`` prints the
same lines for an error the modem answered (:func:`explanation_lines`). Module level imports
click only: the catalog loads when the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from xsudo.explain import Explanation, Meaning


def fix_words(meaning: Meaning) -> str:
    """The next step for a CLI user: the remedy in CLI words, else the library's hint."""
    from xsudo.cli.hints import cli_words

    return cli_words(meaning.remedy) or meaning.hint


def _heading(meaning: Meaning) -> str:
    from xsudo.explain import ANY_COMMAND

    if meaning.command == ANY_COMMAND:
        return f"any command, {meaning.label}: {meaning.meaning}"
    own = "" if meaning.documented else f" (no meaning of its own for {meaning.command}; generic)"
    return f"{meaning.command}, {meaning.label}{own}: {meaning.meaning}"


def explanation_lines(explanation: Explanation) -> list[str]:
    """The explanation as text lines (one meaning after another, a blank line between)."""
    lines: list[str] = []
    if explanation.whose_text:
        lines.append(f"signed line: {explanation.whose_text}")
    for number, meaning in enumerate(explanation.meanings):
        if number or lines:
            lines.append("")
        lines.append(_heading(meaning))
        if meaning.causes:
            lines.append("  likely causes:")
            lines += [f"    - {cause}" for cause in meaning.causes]
        lines.append(f"  fix: {fix_words(meaning)}")
        if meaning.assumed:
            lines.append("  (the project's reading: Nordic does not document this case)")
        lines += [f"  docs: {url}" for url in meaning.docs]
    return lines


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """The ``--json`` object of an explanation (docs/how-to/at-console.md#json)."""
    return {
        "code": explanation.code,
        "label": "ERROR" if explanation.code == 0 else f"+CME ERROR: {explanation.code}",
        "command": explanation.command,
        "signed": explanation.signed,
        "wrapped_command": explanation.inner,
        "whose": explanation.whose,
        "whose_text": explanation.whose_text,
        "meanings": [m.to_json(fix_words(m)) for m in explanation.meanings],
    }


@click.command()
@click.option(
    "--command",
    "command",
    default=None,
    metavar="CMD",
    help="The command that got the error: a name (%CMNG, AT%XSUDO, XPMNG) or a whole AT "
    "line; for an AT%XSUDO line both %XSUDO's and the wrapped command's meanings. "
    "Default: every command's meaning.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.argument("code")
def explain(code: str, command: str | None, as_json: bool) -> None:
    """Explain modem error CODE: its meaning, likely causes and fix for each command (offline).

    CODE is a number (527), a final result line (+CME ERROR: 527) or ERROR (a bare ERROR).
    Exit 2 for a code xsudo does not know.
    """
    from xsudo.cli.output import emit, emit_json
    from xsudo.explain import explain as explain_code
    from xsudo.explain import parse_code

    explanation = explain_code(parse_code(code), command)
    if as_json:
        emit_json(explanation_json(explanation))
        return
    for line in explanation_lines(explanation):
        emit(line)
