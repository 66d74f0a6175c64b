"""The error-code catalog (xsudo/explain.py) and ``xsudo explain``: one source of truth with
the decoder of live errors, every entry explained, signed lines, unknown codes, the docs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import assert_one_line_error, run_cli
from xsudo import errors
from xsudo.at.results import XSUDO_OWN_CODES as LIVE_XSUDO_OWN_CODES
from xsudo.at.results import SignedCommandError
from xsudo.errors import BadInputError, CmeCode, describe_code
from xsudo.explain import (
    ANY_COMMAND,
    CATALOG,
    COMMANDS,
    KNOWN_CODES,
    XSUDO_OWN_CODES,
    UnknownCodeError,
    commands_in,
    explain,
    meaning_of,
    parse_code,
)

REPO = Path(__file__).resolve().parents[2]
MODEM_ERRORS_PAGE = REPO / "docs" / "troubleshooting" / "modem-errors.md"
NORDIC = ("https://docs.nordicsemi.com/", "https://infocenter.nordicsemi.com/")
SIGNED_CMNG = 'AT%XSUDO=7,"c2lnbmF0dXJl";%CMNG=3,1,0'


# -- the catalog ------------------------------------------------------------------------------


def test_every_code_has_a_meaning_for_any_command() -> None:
    assert {code for command, code in CATALOG if command == ANY_COMMAND} == {
        int(code) for code in CmeCode
    }


def test_every_per_command_meaning_of_the_live_decoder_is_in_the_catalog() -> None:
    # errors.py decodes live errors; every command-specific meaning there has causes here.
    missing = [
        (command, code)
        for command, table in errors._PER_COMMAND.items()
        for code in table
        if (command, code) not in CATALOG
    ]
    assert missing == []


@pytest.mark.parametrize(("command", "code"), sorted(CATALOG))
def test_entry_says_what_the_live_error_says(command: str, code: int) -> None:
    entry = CATALOG[(command, code)]
    meaning = meaning_of(command, code)
    described = describe_code("" if command == ANY_COMMAND else command, code)
    assert (meaning.meaning, meaning.hint, meaning.remedy) == (
        described.meaning,
        described.hint,
        described.remedy,
    )
    assert entry.causes and all(cause.strip() for cause in entry.causes)
    assert entry.docs and all(url.startswith(NORDIC) for url in entry.docs)


def test_signed_line_rule_matches_the_live_decoder() -> None:
    assert XSUDO_OWN_CODES == LIVE_XSUDO_OWN_CODES
    for code in (513, 518, 520, 527):
        live = SignedCommandError("%CMNG", code)
        assert explain(code, SIGNED_CMNG).meanings[0].command == live.command, code
    # 514: the session reports both meanings (DeviceSession._signed_failure), as here
    assert {m.command for m in explain(514, SIGNED_CMNG).meanings} == {"%XSUDO", "%CMNG"}


# -- explain() ---------------------------------------------------------------------------------


def test_meanings_are_per_command() -> None:
    assert "authentication failed" in explain(520, "%XSUDO").meanings[0].meaning
    assert "already exists" in explain(520, "XPMNG").meanings[0].meaning
    assert "certificate" in explain(527, "AT%CMNG=0,1,0").meanings[0].meaning


def test_without_a_command_every_command_is_listed_then_the_generic() -> None:
    found = [m.command for m in explain(520).meanings]
    assert found == ["%XPMNG", "%XSUDO", ANY_COMMAND]
    found = [m.command for m in explain(514).meanings]
    assert found == ["%CMNG", "%KEYGEN", "%XPMNG", "%XSUDO", ANY_COMMAND]


def test_a_command_without_its_own_meaning_gets_the_generic_flagged() -> None:
    (meaning,) = explain(520, "+CGMR").meanings
    assert meaning.command == "+CGMR" and not meaning.documented
    assert meaning.meaning == describe_code("", 520).meaning


def test_signed_line_own_code_is_xsudos() -> None:
    explanation = explain(520, SIGNED_CMNG)
    assert (explanation.command, explanation.inner, explanation.whose) == (
        "%XSUDO",
        "%CMNG",
        "xsudo",
    )
    assert [m.command for m in explanation.meanings] == ["%XSUDO"]  # %CMNG has no 520
    explanation = explain(513, SIGNED_CMNG)
    assert [m.command for m in explanation.meanings] == ["%XSUDO", "%CMNG"]


def test_signed_line_514_gives_both_meanings() -> None:
    explanation = explain(514, SIGNED_CMNG)
    assert explanation.whose == "ambiguous"
    assert [m.command for m in explanation.meanings] == ["%XSUDO", "%CMNG"]
    assert "does not say which" in (explanation.whose_text or "")
    bare = explain(0, SIGNED_CMNG)
    assert bare.whose == "ambiguous" and len(bare.meanings) == 2


def test_signed_line_other_codes_are_the_wrapped_commands() -> None:
    explanation = explain(527, SIGNED_CMNG)
    assert explanation.whose == "wrapped"
    assert [m.command for m in explanation.meanings] == ["%CMNG"]
    explanation = explain(518, 'AT%XSUDO=10,"x",3;%XPMNG=0,"k"')
    assert explanation.inner == "%XPMNG"
    assert [m.command for m in explanation.meanings] == ["%XPMNG"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%CMNG", ("%CMNG", None)),
        ("AT%CMNG", ("%CMNG", None)),
        ("cmng", ("%CMNG", None)),
        ("XSUDO", ("%XSUDO", None)),
        ('at%xpmng=0,"k",1', ("%XPMNG", None)),
        ("CGMR", ("+CGMR", None)),
        ("AT+CFUN=4", ("+CFUN", None)),
        ('AT%XSUDO=4,"a;b";%KEYGEN=1,2,0', ("%XSUDO", "%KEYGEN")),
        ('AT%XSUDO=4,"x";', ("%XSUDO", None)),
    ],
)
def test_commands_in(text: str, expected: tuple[str, str | None]) -> None:
    assert commands_in(text) == expected


@pytest.mark.parametrize("text", ["", "AT!!", "%", "a b"])
def test_commands_in_refuses_non_commands(text: str) -> None:
    with pytest.raises(BadInputError):
        commands_in(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [("527", 527), (" 0513 ", 513), ("+CME ERROR: 520", 520), ("cme error 514", 514),
     ("ERROR", 0), ("error", 0), ("+CMS ERROR: 50", 50)],
)  # fmt: skip
def test_parse_code(text: str, code: int) -> None:
    assert parse_code(text) == code


@pytest.mark.parametrize("text", ["", "abc", "-1", "5.2", "123456", "+CME ERROR:"])
def test_parse_code_refuses_other_text(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_code(text)


@pytest.mark.parametrize("code", [1, 524, 526, 530, 99999])
def test_unknown_codes_are_bad_input(code: int) -> None:
    with pytest.raises(UnknownCodeError) as raised:
        explain(code)
    assert raised.value.exit_code == 2
    assert "known codes: 0, 23" in str(raised.value)


# -- xsudo explain ------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "code"), sorted(CATALOG))
def test_cli_explains_every_entry(
    capsys: pytest.CaptureFixture[str], command: str, code: int
) -> None:
    args = ["explain", str(code)] + ([] if command == ANY_COMMAND else ["--command", command])
    status, out, err = run_cli(capsys, *args)
    assert status == 0 and err == ""
    meaning = meaning_of(command, code)
    assert meaning.meaning in out
    for cause in meaning.causes:
        assert cause in out
    for url in meaning.docs:
        assert f"docs: {url}" in out
    assert "  fix: " in out


def test_cli_words_the_fix_as_a_command_line() -> None:
    from xsudo.cli.explain import explanation_lines

    text = "\n".join(explanation_lines(explain(527, "%CMNG")))
    assert "xsudo cred write --dry-run" in text  # the remedy in CLI words
    assert "xsudo.content.preflight" not in text  # not the library's wording


def test_cli_signed_line_says_whose(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "explain", "514", "--command", SIGNED_CMNG)
    assert status == 0
    assert out.startswith("signed line: 514 on a signed line is ambiguous")
    assert "%XSUDO, +CME ERROR: 514" in out and "%CMNG, +CME ERROR: 514" in out


def test_cli_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys, "explain", "+CME ERROR: 520", "--json", "--command", SIGNED_CMNG
    )
    assert status == 0
    data = json.loads(out)
    assert set(data) == {
        "code", "label", "command", "signed", "wrapped_command", "whose", "whose_text",
        "meanings",
    }  # fmt: skip
    assert (data["code"], data["label"], data["signed"], data["whose"]) == (
        520,
        "+CME ERROR: 520",
        True,
        "xsudo",
    )
    (meaning,) = data["meanings"]
    assert set(meaning) == {
        "command", "code", "meaning", "causes", "fix", "remedy", "docs", "assumed", "documented",
    }  # fmt: skip
    assert meaning["remedy"] == {"action": "diagnose-line", "params": {}}
    assert "xsudo verify" in meaning["fix"]


def test_cli_any_command_json_has_null_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(capsys, "explain", "ERROR", "--json")
    assert status == 0
    commands = [m["command"] for m in json.loads(out)["meanings"]]
    assert commands[-1] is None and "%XSUDO" in commands and "%CMNG" in commands


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["explain", "524"], "524 is not an error code xsudo knows"),
        (["explain", "banana"], "is not a modem error code"),
        (["explain", "527", "--command", "AT!!"], "is not an AT command name"),
    ],
)
def test_cli_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    assert_one_line_error(*run_cli(capsys, *args), fragment)


def test_cli_escapes_what_the_user_typed(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "explain", "527", "--command", "+X\x1b[2J")
    assert status == 2 and out == ""
    assert "\x1b" not in err and "\\x1b" in err


# -- the docs page and start-up -------------------------------------------------------------------


def test_modem_errors_page_points_to_explain_and_only_known_codes() -> None:
    text = MODEM_ERRORS_PAGE.read_text(encoding="utf-8")
    assert "xsudo explain" in text
    headed = {int(code) for code in re.findall(r"^### ([0-9]+)\b", text, re.MULTILINE)}
    assert headed and headed <= set(KNOWN_CODES)
    cited = {int(code) for code in re.findall(r"`([0-9]{2,3})`", text)}
    assert cited <= set(KNOWN_CODES), cited - set(KNOWN_CODES)
    for command in COMMANDS:
        assert f"`{command}`" in text, command


@pytest.mark.parametrize("command", ["at", "explain"])
def test_help_loads_nothing_heavy(command: str) -> None:
    heavy = ("keyring", "rich", "cryptography.x509", "xsudo.sim", "serial")
    script = (
        "import sys\n"
        "from xsudo.cli import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
