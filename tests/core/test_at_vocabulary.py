"""One owner for the modem's commands: only ``xsudo/at/commands.py`` builds them.

The package is parsed (``ast``, not grep), so a command name in a docstring, an error
message, a help text, a response prefix (``"%CMNG:"``) or an error-code table key is not a
build site. A build site is any of:

* ``AtCommand.set/read/test/exec(...)`` or ``AtCommand(...)`` for a ``%`` command, or with a
  name that is not a literal (it cannot be checked);
* wire bytes in the shape of one of the commands (``b"AT%CMNG=1"``);
* command text assembled from values: an f-string with a value in it and a command in its
  text (``f"AT%CMNG=3,{tag},{t}"``, however it is labelled), a ``%``-format, ``.format()``
  or ``+`` involving a command name;
* a bare string in the shape of a command (``"%KEYGEN=1,2,0"``) that is not part of a
  sentence (words around it, outside any quoted content).

``xsudo/sim`` (the simulator implements the modem independently), ``xsudo/command.py``
(``AtCommand`` and the ``%XSUDO`` line) and ``xsudo/at/commands.py`` are not scanned. The
check finds the ways commands have been built in this code base; it does not try to defeat
deliberate obfuscation. The few sites that spell a command but do not send one are listed in
:data:`KNOWN`, each with its reason.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "xsudo"
OWNERS = {"xsudo/at/commands.py", "xsudo/command.py"}
NOT_SCANNED = ("xsudo/sim/",)

NAMES = (
    "CMNG",
    "XPMNG",
    "KEYGEN",
    "ATTESTTOKEN",
    "XSUDO",
    "DEVICEUUID",
    "XMODEMUUID",
    "HWVERSION",
)
"""The ``%`` commands :mod:`xsudo.at.commands` owns."""

_NAME = "|".join(NAMES)
_MENTION = re.compile(rf"%(?:{_NAME})\b", re.IGNORECASE)
_SHAPE = re.compile(rf"(?:\bAT)?%(?:{_NAME})(?:=|\?|$)", re.IGNORECASE)
"""A command as sent: the name followed by ``=``, ``?`` or the end (an exec form)."""
_WITH_PARAMS = re.compile(rf"%(?:{_NAME})(?:=|\?)", re.IGNORECASE)
"""A command with its parameters (or ``=?``) following."""
_EXACT = re.compile(rf"%(?:{_NAME})", re.IGNORECASE)
"""A bare name (``"%CMNG"``): a table key or a comparison, never a line by itself."""
_QUOTED = re.compile(r'"[^"]*"')
_WORD = re.compile(r"[A-Za-z]{2,}")
_BUILDERS = {"set", "read", "test", "exec"}

KNOWN: dict[tuple[str, str], str] = {
    ("xsudo/at/shell.py", "b'AT%CMNG=0'"): (
        "recognises a write line to decide how to escape it for the shell; sends nothing"
    ),
}
"""(file, offending literal) -> why it is not a build site."""


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    literal: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.literal}: {self.why}"


def _is_prose(text: str) -> bool:
    """Command text inside a sentence: at least two words outside quoted content and the
    command token itself."""
    unquoted = _QUOTED.sub(" ", text)
    rest = _SHAPE.sub(" ", _EXACT.sub(" ", unquoted))
    return len(_WORD.findall(rest)) >= 2


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of string constants that are whole expression statements (docstrings)."""
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found.add(id(node.value))
    return found


def _is_atcommand_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id == "AtCommand"
    return (
        isinstance(func, ast.Attribute)
        and func.attr in _BUILDERS
        and isinstance(func.value, ast.Name)
        and func.value.id == "AtCommand"
    )


def _show(node: ast.AST) -> str:
    return ast.unparse(node)[:60]


def scan(source: str, path: str = "<test>") -> list[Finding]:
    """The build sites in ``source`` (see the module docstring)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    findings: list[Finding] = []
    formatted: set[int] = set()  # constants already judged as part of a larger expression

    def add(node: ast.AST, literal: str, why: str) -> None:
        findings.append(Finding(path, getattr(node, "lineno", 0), literal, why))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_atcommand_call(node):
            name_arg = node.args[0] if node.args else None
            for keyword in node.keywords:
                if keyword.arg == "name":
                    name_arg = keyword.value
            if not (isinstance(name_arg, ast.Constant) and isinstance(name_arg.value, str)):
                add(node, _show(node), "AtCommand with a name that is not a literal")
            elif name_arg.value.startswith("%"):
                add(node, _show(node), "a % command built outside xsudo/at/commands.py")
        elif isinstance(node, ast.JoinedStr):
            pieces = [v.value for v in node.values if isinstance(v, ast.Constant)]
            formatted.update(id(v) for v in node.values)
            text = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values
            )
            interpolates = any(isinstance(v, ast.FormattedValue) for v in node.values)
            if interpolates and _WITH_PARAMS.search(text):
                shaped = next((str(p) for p in pieces if _MENTION.search(str(p))), text)
                add(node, shaped, "command text interpolated from values")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            for side in (node.left, node.right):
                if (
                    isinstance(side, ast.Constant)
                    and isinstance(side.value, (str, bytes))
                    and _MENTION.search(_text(side.value))
                    and (_SHAPE.search(_text(side.value)) or _EXACT.fullmatch(_text(side.value)))
                    and not _is_prose(_text(side.value))
                ):
                    formatted.add(id(side))
                    add(side, repr(side.value), "command text assembled with + or %")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "join")
            and isinstance(node.func.value, ast.Constant)
        ):
            receiver = node.func.value
            parts = [receiver, *node.args]
            for part in parts:
                if (
                    isinstance(part, ast.Constant)
                    and isinstance(part.value, (str, bytes))
                    and _MENTION.search(_text(part.value))
                    and not _is_prose(_text(part.value))
                ):
                    formatted.add(id(part))
                    add(part, repr(part.value), f"command text assembled with .{node.func.attr}()")

    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docstrings | formatted:
            continue
        value = node.value
        if isinstance(value, bytes):
            text = value.decode("latin-1")
            if _SHAPE.search(text) and not _is_prose(text):
                add(node, repr(value), "wire bytes of a command")
        elif (
            isinstance(value, str)
            and _SHAPE.search(value)
            and not _EXACT.fullmatch(value)
            and not _is_prose(value)
        ):
            add(node, repr(value), "a command spelled out as a string")
    return findings


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _package_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in OWNERS or rel.startswith(NOT_SCANNED):
            continue
        files.append(path)
    return files


def test_only_at_commands_builds_the_modems_commands() -> None:
    findings = []
    for path in _package_files():
        rel = path.relative_to(REPO).as_posix()
        for finding in scan(path.read_text(encoding="utf-8"), rel):
            if (finding.path, finding.literal) not in KNOWN:
                findings.append(finding)
    assert not findings, "build these with xsudo.at.commands:\n" + "\n".join(map(str, findings))


def test_the_scan_covers_the_package() -> None:
    scanned = {p.relative_to(REPO).as_posix() for p in _package_files()}
    assert {"xsudo/provision/writer.py", "xsudo/cli/cred.py", "xsudo/at/modem.py"} <= scanned
    assert not scanned & OWNERS


@pytest.mark.parametrize(
    "source",
    [
        'AtCommand.set("%CMNG", 0, tag, 0, text)',
        'AtCommand.exec("%ATTESTTOKEN")',
        'AtCommand.test("%XSUDO")',
        'AtCommand.read("%XPMNG")',
        'AtCommand("%KEYGEN", (1, 2, 0))',
        'AtCommand(name="%CMNG")',
        "AtCommand.set(NAME, 1)",
        'AtCommand.exec("%SOMETHINGNEW")',
        'channel.command(b"AT%CMNG=1")',
        'modem.send_line(b"at%xpmng=2,,3")',
        'line = f"AT%CMNG=3,{tag},{cred_type}"',
        "line = f'%KEYGEN={tag},2,0,\"{attributes}\"'",
        'line = "AT%%CMNG=3,%d,%d" % (tag, kind)',
        'line = "%CMNG" + "=3," + str(tag)',
        'line = "AT%XPMNG=2,,{}".format(slot)',
        'line = "AT%DEVICEUUID"',
        'probe = "%XSUDO=?"',
        'line = "AT%KEYGEN=1,2,0,\\"O=Acme Inc\\""',
        """emit(f'xsudo line:  AT%XSUDO={len(body)},"{signer}"{slot};{display}')""",
    ],
)
def test_the_scan_finds_build_sites(source: str) -> None:
    assert scan(source), source


@pytest.mark.parametrize(
    "source",
    [
        '"""Write with ``AT%CMNG=0,<tag>,<type>,"<content>"``."""',
        'lines = response.with_prefix("%CMNG:")',
        'value = parse_quoted_value(line, b"%XPMNG:")',
        'TABLE = {"%CMNG": 1, "%KEYGEN": 2}',
        'if command_name(line) != "%XSUDO": pass',
        'decoded_as = "%XSUDO" if code in OWN else inner',
        'hint = "delete it first (AT%CMNG=3,<slot>,5) or use xsudo device upload-key --replace"',
        'raise Error("the modem answered AT%CMNG=2 without content")',
        'raise Error(f"after %KEYGEN the modem lists no client key for tag {tag}")',
        "help_text = \"for example: xsudo sign --key NAME '%CMNG=1'\"",
        'raise Error(f"{what} is {n} bytes, so the AT%CMNG write line is {m} bytes")',
        'note(f"run AT%CMNG with the tag {tag} listed")',
        'reason = f"{where} cannot be read, but the firmware has %XSUDO"',
        'AtCommand.set("+CFUN", 4)',
        'AtCommand.read("+CMEE")',
        "command = commands.cmng_write(tag, kind, content)",
    ],
)
def test_the_scan_allows_names_that_build_nothing(source: str) -> None:
    assert scan(source) == [], source
