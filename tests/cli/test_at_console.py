"""``xsudo at``: raw lines to simulated boards on real ptys, errors explained per command,
signed lines, the audit record, escaping of device text, stdin and the console."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.boards import Result, snapshot
from xsudo.audit.log import AuditLog
from xsudo.cli import at as at_module
from xsudo.explain import DOC_CMNG_91X1, DOC_XSUDO
from xsudo.sim import PtyServer
from xsudo.sim.profiles import PROFILES

Run = Callable[..., Result]
Board = Callable[..., PtyServer]

LITERAL_NEWLINE_CERT = (
    'AT%CMNG=0,12,0,"-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIU\\n'
    '-----END CERTIFICATE-----\\n"'
)


def records(home: Path) -> list[dict[str, Any]]:
    return list(AuditLog.in_home(home).records())


def upload(xsudo: Run, server: PtyServer, key: str = "alpha") -> None:
    assert xsudo("key", "generate", key).code == 0
    done = xsudo("device", "upload-key", "--port", server.path, "--key", key)
    assert done.code == 0, done.err


def test_sends_a_line_and_prints_the_answer(xsudo: Run, board: Board, isolated_env: Path) -> None:
    server = board("nrf91x1-2.0")
    result = xsudo("at", "AT+CGMR", "--port", server.path)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [PROFILES["nrf91x1-2.0"].mfw, "OK"]
    assert records(isolated_env) == []  # a read is not audited


def test_literal_newline_certificate_gets_527_explained_for_cmng(
    xsudo: Run, board: Board, isolated_env: Path
) -> None:
    server = board("nrf9151-2.0")
    before = snapshot(server)
    result = xsudo("at", LITERAL_NEWLINE_CERT, "--port", server.path)
    assert result.code == 1
    assert result.out.splitlines() == ["+CME ERROR: 527"]
    assert "%CMNG, +CME ERROR: 527: invalid certificate content" in result.err
    assert "the two characters \\n instead of line breaks" in result.err
    assert "xsudo cred write" in result.err  # the fix, in CLI words
    assert DOC_CMNG_91X1 in result.err
    assert snapshot(server) == before
    (record,) = records(isolated_env)
    assert record["event"] == "at" and record["command"] == "%CMNG"
    assert record["result"] == "+CME ERROR: 527"
    assert "MIIBszCCAVmgAwIBAgIU" not in json.dumps(record)  # metadata only, never content


def test_plain_write_on_locked_gets_514_for_cmng(xsudo: Run, board: Board) -> None:
    server = board("locked")
    result = xsudo("at", 'AT%CMNG=0,1000,4,"identity"', "--port", server.path)
    assert result.code == 1
    assert "%CMNG, +CME ERROR: 514" in result.err
    assert "requires authenticated access" in result.err
    assert "signed line" not in result.err
    assert "xsudo at --sign --key NAME" in result.err


def test_badly_signed_line_on_locked_gets_520_explained_for_xsudo(xsudo: Run, board: Board) -> None:
    server = board("locked")
    upload(xsudo, server, "alpha")
    assert xsudo("key", "generate", "beta").code == 0
    line = xsudo("sign", "--key", "beta", '%CMNG=0,1000,4,"identity"').out.strip()
    before = snapshot(server)
    result = xsudo("at", line, "--port", server.path)
    assert result.code == 1
    assert result.out.splitlines() == ["+CME ERROR: 520"]
    assert "signed line: 520 on a signed line is %XSUDO's own; %CMNG did not run" in result.err
    assert "%XSUDO, +CME ERROR: 520: authentication failed" in result.err
    assert "the key in the slot is not the key that signed the line" in result.err
    assert DOC_XSUDO in result.err
    assert snapshot(server) == before


def test_sign_sends_an_xsudo_line_that_the_locked_board_accepts(
    xsudo: Run, board: Board, isolated_env: Path
) -> None:
    server = board("locked")
    upload(xsudo, server, "alpha")
    result = xsudo(
        "at", "--sign", "--key", "alpha", '%CMNG=0,1000,4,"identity"', "--port", server.path
    )
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["OK"]
    assert snapshot(server)[(1000, 4)] == b"identity"
    events = [(r["event"], r.get("command")) for r in records(isolated_env)]
    assert events[-2:] == [("sign", "%CMNG"), ("at", "%XSUDO")]
    assert records(isolated_env)[-1]["wrapped_command"] == "%CMNG"


def test_sign_json_shape(xsudo: Run, board: Board) -> None:
    server = board("locked")
    upload(xsudo, server, "alpha")
    result = xsudo(
        "at", "--json", "--sign", "--key", "alpha", "--slot", "0", "AT%CMNG=1", "--port",
        server.path,
    )  # fmt: skip
    assert result.code == 0, result.err
    data = result.json()
    assert set(data) == {
        "command", "wrapped_command", "line_sha256", "signed", "signature", "lines", "urcs",
        "final", "ok", "error", "audit_head",
    }  # fmt: skip
    assert data["command"] == "%XSUDO" and data["wrapped_command"] == "%CMNG"
    assert data["signed"] is True and data["ok"] is True and data["error"] is None
    assert data["signature"]["data_len"] == len("%CMNG=1") and data["signature"]["slot"] == 0
    assert data["signature"]["key_name"] == "alpha"
    assert any(line.startswith("%CMNG: 0,5,") for line in data["lines"])
    assert data["audit_head"]["seq"] >= 1
    assert "removed the leading 'AT'" in result.err


def test_error_json_carries_the_explanation(xsudo: Run, board: Board) -> None:
    server = board("nrf9151-2.0")
    result = xsudo("at", "--json", LITERAL_NEWLINE_CERT, "--port", server.path)
    assert result.code == 1
    data = result.json()
    assert data["ok"] is False and data["final"] == "+CME ERROR: 527"
    assert data["error"]["kind"] == "CME" and data["error"]["code"] == 527
    (meaning,) = data["error"]["explanation"]["meanings"]
    assert meaning["command"] == "%CMNG" and meaning["causes"]
    assert data["audit_head"]["seq"] == 1
    assert "MIIBszCCAVmgAwIBAgIU" not in result.out  # the line itself is never echoed


def test_hostile_device_text_is_escaped(xsudo: Run, board: Board) -> None:
    server = board("nrf9160-1.3")
    hostile = b"\x1b[2J\x1b]0;pwned\x07\xe2\x80\xae evil \x9b"
    server.board.modem.nvm.credentials[(77, 0)] = hostile
    result = xsudo("at", "AT%CMNG=2,77,0", "--port", server.path)
    assert result.code == 0, result.err
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in result.out
    assert "\\x1b]0;pwned\\x07\\xe2\\x80\\xae evil \\x9b" in result.out
    as_json = xsudo("at", "--json", "AT%CMNG=2,77,0", "--port", server.path)
    assert "\x1b" not in as_json.out and "pwned" in as_json.json()["lines"][0]


def test_show_escapes_lines_urcs_and_finals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from xsudo.at.results import AtResponse

    console = at_module.AtConsole(device=None)  # type: ignore[arg-type]
    response = AtResponse(
        b"AT+CGMR",
        [b"mfw\x1b[31m\r\nnext"],
        "OK",
        urcs=[b"+CEREG: 1\x1b]0;x\x07"],
    )
    assert console.show(at_module.Prepared(b"AT+CGMR"), response) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["mfw\\x1b[31m\\x0d\\x0anext", "OK"]
    assert "\x1b" not in err and "urc: +CEREG: 1\\x1b]0;x\\x07" in err


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("hello", "is not an AT command"),
        ("+CGMR", "is not an AT command"),
        ("AT+CGMR\x1b", "control character"),
        ('AT%CMNG=0,1,0,"open', "unbalanced double quote"),
        ("AT%CMNG=0,1,4,\u201cx\u201d", "typographic quote"),
        ("AT" + "A" * 4100, "at most 4095"),
    ],
)
def test_bad_lines_are_refused_before_the_port_opens(
    xsudo: Run, tmp_path: Path, line: str, fragment: str
) -> None:
    result = xsudo("at", line, "--port", str(tmp_path / "no-such-port"))
    assert result.code == 2
    assert result.out == "" and result.err.startswith("error: ")
    assert fragment in result.err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--sign", "%CMNG=1"], "--sign needs a signing key"),
        (["--slot", "1", "AT+CGMR"], "--key and --slot are for --sign"),
        (["--key", "alpha", "AT+CGMR"], "--key and --slot are for --sign"),
    ],
)
def test_sign_options_are_checked(
    xsudo: Run, tmp_path: Path, args: list[str], fragment: str
) -> None:
    result = xsudo("at", *args, "--port", str(tmp_path / "no-such-port"))
    assert result.code == 2 and fragment in result.err


def test_missing_port_is_a_device_failure(xsudo: Run, tmp_path: Path) -> None:
    assert xsudo("at", "AT+CGMR", "--port", str(tmp_path / "no-such-port")).code == 3


class FakeStdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_stdin_lines_run_in_order_and_stop_at_the_first_failure(
    xsudo: Run, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = board("nrf91x1-2.0")
    script = "AT+CGMR\n# a comment\n\nAT%CMNG=3,5,0\r\nAT+CGSN\n"
    monkeypatch.setattr("sys.stdin", FakeStdin(script, tty=False))
    result = xsudo("at", "--port", server.path)
    assert result.code == 1
    assert result.out.splitlines() == [PROFILES["nrf91x1-2.0"].mfw, "OK", "+CME ERROR: 513"]
    assert "%CMNG, +CME ERROR: 513: no credential with that sec_tag and type" in result.err


def test_console_goes_on_after_errors_and_keeps_a_private_history(
    xsudo: Run, board: Board, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    readline = pytest.importorskip("readline")
    readline.clear_history()
    server = board("nrf91x1-2.0")
    typed = iter(["AT%CMNG=3,5,0", "not at", 'AT%CMNG=0,9,3,"00112233"', "AT+CGSN", "exit"])
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        text = next(typed)
        readline.add_history(text)  # what input() does with readline loaded
        return text

    monkeypatch.setattr("builtins.input", fake_input)
    monkeypatch.setattr("sys.stdin", FakeStdin("", tty=True))
    result = xsudo("at", "--port", server.path)
    assert result.code == 0, result.err
    assert prompts == ["AT> "] * 5
    assert result.out.splitlines() == ["+CME ERROR: 513", "OK", "352656100367872", "OK"]
    assert "is not an AT command" in result.err
    history = isolated_env / at_module.HISTORY_FILE
    assert stat.S_IMODE(os.stat(history).st_mode) == 0o600
    kept = history.read_text()
    assert "AT%CMNG=3,5,0" in kept and "AT+CGSN" in kept
    assert "00112233" not in kept  # a %CMNG write (a PSK here) never reaches the history
    readline.clear_history()


def test_run_lines_stops_on_ctrl_d_and_exit_words() -> None:
    seen: list[str] = []

    def handle(text: str) -> int:
        seen.append(text)
        return 1

    lines = iter(["AT", "  ", "# note", "AT+CGMR\r\n", "QUIT", "AT+never"])
    assert at_module.run_lines(lambda: next(lines), handle, stop_on_error=False) == 0
    assert seen == ["AT", "AT+CGMR"]
    done = iter(["AT", None])
    assert at_module.run_lines(lambda: next(done), handle, stop_on_error=True) == 1


def test_console_reader_ctrl_c_abandons_the_line_and_ctrl_d_ends() -> None:
    answers: list[BaseException | str] = [KeyboardInterrupt(), "AT", EOFError()]

    def ask(prompt: str) -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    read = at_module.console_reader("AT> ", None, ask)
    assert [read(), read(), read()] == ["", "AT", None]


@pytest.mark.parametrize(
    ("line", "changes"),
    [
        (b"AT", False),
        (b"AT+CGMR", False),
        (b"AT+CFUN?", False),
        (b"AT+CFUN=?", False),
        (b"AT%CMNG=1", False),
        (b"AT%CMNG=2,16842753,0", False),
        (b"AT%XPMNG=2,,3", False),
        (b"AT+CFUN=4", True),
        (b'AT%CMNG=0,1,4,"x"', True),
        (b"AT%CMNG=3,1,4", True),
        (b'AT%XPMNG=0,"k"', True),
        (b"AT+CGMR;+CFUN=0", True),
        (b'AT%XSUDO=7,"c2ln";%CMNG=1', True),
        (b"AT%KEYGEN=1,2,0", True),
        (b"AT%XFACTORYRESET=0", True),
    ],
)
def test_what_counts_as_a_change(line: bytes, changes: bool) -> None:
    assert at_module.changes_state(line) is changes


def test_a_bad_body_to_sign_is_refused_before_the_key_or_port(xsudo: Run, tmp_path: Path) -> None:
    result = xsudo(
        "at", "--sign", "--key", "nobody", "%CMNG=1\x07", "--port", str(tmp_path / "no-port")
    )
    assert result.code == 2 and "control character" in result.err


def test_a_psk_on_the_command_line_is_warned_about(xsudo: Run, board: Board) -> None:
    server = board("nrf91x1-2.0")
    result = xsudo("at", 'AT%CMNG=0,9,3,"00112233"', "--port", server.path)
    assert result.code == 0, result.err
    assert "puts a private key or PSK on the command line" in result.err
    quiet = xsudo("at", 'AT%CMNG=0,9,4,"identity"', "--port", server.path)
    assert quiet.code == 0 and "command line" not in quiet.err


@pytest.mark.parametrize(("kind", "code"), [("CME", 524), ("CMS", 500)])
def test_an_answer_outside_the_catalog_is_said_so(
    capsys: pytest.CaptureFixture[str], kind: str, code: int
) -> None:
    from xsudo.at.results import AtResponse, FinalResult

    final = f"+{kind} ERROR: {code}"
    response = AtResponse(b"AT+CGMR", [], final, result=FinalResult(kind, code, final))
    console = at_module.AtConsole(device=None)  # type: ignore[arg-type]
    assert console.show(at_module.Prepared(b"AT+CGMR"), response) == 1
    out, err = capsys.readouterr()
    assert out == f"{final}\n"
    assert "no meaning in xsudo's catalog" in err


def test_console_on_a_real_terminal(isolated_env: Path) -> None:
    """The console in a child process whose stdin and stdout are a pty."""
    import select
    import subprocess
    import sys
    import time

    master, slave = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "xsudo", "at", "--port", "sim://?profile=nrf9160-1.3"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "dumb"},
    )
    os.close(slave)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert marker in seen, seen

    try:
        read_until(b"AT> ")
        os.write(master, b"AT+CGMR\n")
        read_until(b"mfw_nrf9160_1.3.5")
        read_until(b"AT> ")
        os.write(master, b"AT%CMNG=2,1,0\n")
        read_until(b"no credential with that sec_tag and type")
        os.write(master, b"exit\n")
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        os.close(master)
    history = isolated_env / at_module.HISTORY_FILE
    assert stat.S_IMODE(os.stat(history).st_mode) == 0o600
    assert "AT+CGMR" in history.read_text()
