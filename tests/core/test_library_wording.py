"""Library first (contracts C3, C7): library text carries facts, and the CLI words remedies.

* No module outside ``xsudo/cli/`` says ``xsudo <subcommand>`` or ``--option`` in a string
  it shows to a user (docstrings and bytes aside): the next step is a neutral hint plus a
  :class:`~xsudo.errors.Remedy`, and ``xsudo/cli/hints.py`` words the remedy for the CLI.
  The allowlist below is short and every entry says why.
* Every remedy action has CLI wording and every wording is an action.
* End to end through the real entry point: the CLI prints the CLI wording of the remedy.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import xsudo
from tests.support.cli import assert_one_line_error, run_cli
from xsudo.audit.log import AuditLog, AuditLogError
from xsudo.ca import cert_pem
from xsudo.cli.app import cli
from xsudo.cli.hints import WORDING, cli_hint, cli_text, cli_words
from xsudo.crypto import generate_private_key
from xsudo.errors import REMEDY_ACTIONS, CmeError, OperationFailed, Remedy, XsudoError
from xsudo.labpki import make_ca
from xsudo.provision.policy import SlotKeyMismatch

PACKAGE = Path(__file__).resolve().parents[2] / "xsudo"


def _command_pattern() -> str:
    """``xsudo <command>`` for every command of the click tree (a group with one of its
    subcommands: ``xsudo key delete``, not the prose ``an xsudo key``)."""
    alternatives = []
    for name, command in sorted(cli.commands.items()):
        if isinstance(command, click.Group):
            alternatives.append(f"{name} (?:{'|'.join(sorted(command.commands))})")
        else:
            alternatives.append(name)
    return rf"\bxsudo (?:{'|'.join(alternatives)})\b"


CLI_WORDING = re.compile(
    _command_pattern()  # an xsudo subcommand
    + r"|(?<![\w-])--[a-z][a-z0-9-]*"  # a long option
)

ALLOWED: dict[tuple[str, str], str] = {
    ("keys/pkcs11_store.py", "--list-objects"): "pkcs11-tool's own option, not xsudo's",
    ("keys/pkcs11_store.py", "--login"): "pkcs11-tool's own option, not xsudo's",
    ("keys/pkcs11_link.py", "--show-slots"): "softhsm2-util's own option, not xsudo's",
    ("diagnose/diagnosis.py", "xsudo sign"): (
        "verify's fix sentences (Verdict.fixes): diagnosis vocabulary documented verbatim "
        "in docs/troubleshooting/verify-diagnoses.md; not errors, worded separately"
    ),
    ("diagnose/diagnosis.py", "--body-file"): "as above (verify's fix sentences)",
    ("diagnose/diagnosis.py", "--encoding"): "as above (verify's fix sentences)",
    ("diagnose/line.py", "xsudo sign"): "as above (the malformed-signature fix sentence)",
}
"""(module under xsudo/, matched text) -> why it may stay."""


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (module, class, function, attribute)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for index, statement in enumerate(body):
            if not (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                continue
            # the first statement, or a string right after an assignment (attribute docs)
            if index == 0 or isinstance(body[index - 1], (ast.Assign, ast.AnnAssign)):
                found.add(id(statement.value))
    return found


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every user-facing string of ``tree``: str constants and f-strings (placeholders as
    ``{}``), not docstrings, not the constant parts of an f-string on their own."""
    skip = _docstrings(tree)
    parts: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts.update(id(value) for value in node.values)
            text = "".join(
                v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                for v in node.values
            )
            yield node.lineno, text
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skip
            and id(node) not in parts
        ):
            yield node.lineno, node.value


def library_wording() -> list[tuple[str, int, str, str]]:
    """(module, line, matched text, the string) for CLI wording outside xsudo/cli/."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module.startswith("cli/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, text in _texts(tree):
            for match in CLI_WORDING.finditer(text):
                found.append((module, line, match.group(0), text))
    return found


def test_library_text_names_no_cli_command_or_option() -> None:
    offending = [
        f"xsudo/{module}:{line}: {matched!r} in {text[:90]!r}"
        for module, line, matched, text in library_wording()
        if (module, matched) not in ALLOWED
    ]
    assert offending == [], "\n".join(offending)


def test_every_allowlist_entry_is_still_needed() -> None:
    used = {(module, matched) for module, _, matched, _ in library_wording()}
    assert set(ALLOWED) - used == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('raise BadInputError("x", "pass --replace to overwrite it")', ["--replace"]),
        ('hint = f"run xsudo audit verify {path} to see where"', ["xsudo audit verify"]),
        ('raise E("x", "list them with xsudo ports")', ["xsudo ports"]),
        ('raise E("the keychain entry is not an xsudo key", "delete it")', []),
        ('raise E("no key", "give --key NAME (or set XSUDO_KEY)")', ["--key"]),
        ('"""Docstrings may say ``xsudo key list --json``."""', []),
        ('X = b"xsudo audit checkpoint v1"', []),
        ('raise E("xsudo has no key of that name", "the xsudo command line does this")', []),
        ('raise E("bad", "export with -----BEGIN PUBLIC KEY----- armour, openssl -pubout")', []),
    ],
)
def test_the_scan_finds_cli_wording(source: str, expected: list[str]) -> None:
    tree = ast.parse(source)
    found = [m.group(0) for _, text in _texts(tree) for m in CLI_WORDING.finditer(text)]
    assert found == expected


# -- the remedy table ------------------------------------------------------------------------


def test_every_remedy_action_has_cli_wording_and_back() -> None:
    assert set(WORDING) == set(REMEDY_ACTIONS)


@pytest.mark.parametrize("action", REMEDY_ACTIONS)
def test_cli_wording_is_one_line_without_and_with_params(action: str) -> None:
    bare = cli_words(Remedy(action))  # type: ignore[arg-type]
    full = cli_words(
        Remedy(
            action,  # type: ignore[arg-type]
            {"key": "k1", "slot": 3, "tag": 42, "path": "/tmp/a.jsonl", "label": "L"},
        )
    )
    for words in (bare, full):
        assert words and "\n" not in words and words == words.strip()
        assert "None" not in words


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown remedy action"):
        Remedy("reboot-the-world")  # type: ignore[arg-type]


def test_remedies_compare_and_hash_by_value() -> None:
    one = Remedy("upload-key", {"key": "k", "slot": 0})
    assert one == Remedy("upload-key", {"slot": 0, "key": "k"})
    assert len({one, Remedy("upload-key", {"slot": 0, "key": "k"})}) == 1
    assert one.get("slot") == 0 and one.get("missing") is None
    assert one.to_json() == {"action": "upload-key", "params": {"key": "k", "slot": 0}}


def test_cli_hint_words_the_remedy_and_keeps_the_notes() -> None:
    error = OperationFailed(
        "slot 0 holds another key",
        "upload it with replace=True",
        remedy=Remedy("replace-key", {"key": "k", "slot": 0}),
    )
    error.amend("read back failed")
    error.amend("list tag 7 later", Remedy("list-credentials", {"tag": 7, "later": 1}))
    assert str(error) == (
        "slot 0 holds another key; upload it with replace=True; read back failed; list tag 7 later"
    )
    assert cli_text(error) == (
        "slot 0 holds another key; pass --replace to delete it and upload 'k', or choose "
        "another --slot; read back failed; check with: xsudo cred list --tag 7 once the "
        "modem answers"
    )
    note = error.notes[0]
    error.retract(note)
    assert "read back failed" not in str(error) and "read back failed" not in cli_text(error)


def test_without_a_remedy_the_cli_says_what_the_library_says() -> None:
    plain = XsudoError("something failed", "retry")
    assert cli_text(plain) == str(plain) == "something failed; retry"
    assert cli_hint(XsudoError("bare")) is None and cli_text(XsudoError("bare")) == "bare"


def test_modem_errors_carry_the_remedy_of_their_code() -> None:
    error = CmeError("%XPMNG", 520)
    assert error.remedy == Remedy("replace-key")
    assert "--replace" not in str(error) and "replace=True" in str(error)
    assert "xsudo device upload-key --replace" in cli_text(error)
    assert CmeError("%CMNG", 513).remedy == Remedy("list-credentials")
    assert CmeError("%CMNG", 515).remedy is None


# -- end to end: the CLI prints the CLI wording ----------------------------------------------


def _sim(tmp_path: Path) -> str:
    return f"sim://?profile=nrf91x1-2.0&state={tmp_path / 'board.json'}"


def _ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem(make_ca(generate_private_key(), "test CA")))
    return path


def test_a_slot_holding_another_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    port = _sim(tmp_path)
    for name in ("other", "mine"):
        assert run_cli(capsys, "key", "generate", name)[0] == 0
    assert run_cli(capsys, "device", "upload-key", "--port", port, "--key", "other")[0] == 0

    # upload-key without --replace: the CLI says --replace and --slot
    assert_one_line_error(
        *run_cli(capsys, "device", "upload-key", "--port", port, "--key", "mine"),
        "already holds a different public key",
        exit_code=1,
    )
    _, _, err = run_cli(capsys, "device", "upload-key", "--port", port, "--key", "mine")
    assert "pass --replace to delete it and upload 'mine', or choose another --slot" in err
    assert "replace=True" not in err

    # a signed write: the CLI names the command that fixes it
    code, out, err = run_cli(
        capsys, "cred", "write", "--port", port, "--key", "mine", "--tag", "7",
        "--type", "ca-cert", str(_ca_file(tmp_path)),
    )  # fmt: skip
    assert_one_line_error(code, out, err, "holds a different public key", exit_code=1)
    assert "xsudo device upload-key --key mine --slot 0 --replace" in err
    assert "--auth never" in err and "auth policy 'never'" not in err

    # the same through the library: facts, a neutral hint and the remedy
    with (
        xsudo.connect(port, key="mine", home=isolated_env) as device,
        pytest.raises(SlotKeyMismatch) as caught,
    ):
        device.write_credential(7, "ca-cert", _ca_file(tmp_path).read_bytes())
    error = caught.value
    assert error.remedy == Remedy("match-slot-key", {"key": "mine", "slot": 0})
    assert not CLI_WORDING.search(str(error)), str(error)
    assert "auth policy 'never'" in str(error)


def test_a_damaged_audit_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, isolated_env: Path
) -> None:
    assert run_cli(capsys, "key", "generate", "k")[0] == 0
    log = isolated_env / "audit.jsonl"
    log.write_bytes(b'{"seq": 1, "event": "sign", "hash": "ab')  # a cut last line
    code, out, err = run_cli(capsys, "sign", "--key", "k", "+CGSN")
    assert_one_line_error(code, out, err, f"run xsudo audit verify {log} to see where")
    assert "audit.jsonl.checkpoints" in err and "AuditLog.verify" not in err

    with pytest.raises(AuditLogError) as caught:
        AuditLog.in_home(isolated_env).check_appendable()
    error = caught.value
    assert error.remedy == Remedy("audit-verify", {"path": str(log)})
    assert "AuditLog.verify" in str(error) and not CLI_WORDING.search(str(error))


def test_a_refused_write_and_a_fleet_report_word_the_remedy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    port = _sim(tmp_path)
    first, second = _ca_file(tmp_path), tmp_path / "other.pem"
    second.write_bytes(cert_pem(make_ca(generate_private_key(), "other CA")))
    write = ("cred", "write", "--port", port, "--auth", "never", "--tag", "7", "--type", "ca-cert")
    assert run_cli(capsys, *write, str(first))[0] == 0
    code, out, err = run_cli(capsys, *write, str(second))
    assert_one_line_error(code, out, err, "already holds different content", exit_code=1)
    assert "pass --replace (replace = true in a manifest) to overwrite it" in err

    manifest = tmp_path / "fleet.toml"
    manifest.write_text(f'[[credential]]\ntag = 7\ntype = "ca-cert"\nfile = "{second.name}"\n')
    code, _, err = run_cli(capsys, "provision", str(manifest), "--port", port, "--auth", "never")
    assert code == 1
    assert "credential #1: tag 7 type ca-cert already holds different content" in err
    assert "pass --replace (replace = true in a manifest) to overwrite it" in err
