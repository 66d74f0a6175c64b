"""Shell-mode encoding: what xsudo types at the Zephyr shell reaches the modem byte-exact.

The decoder is the simulator's model of Zephyr's ``make_argv``; its known answers below
are worked out by hand from ``subsys/shell/shell_utils.c``, not from the encoder.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xsudo.at.cmdtype import AtEcho, probe_verdict, resolve_cmd_type
from xsudo.at.shell import (
    AnsiStripper,
    ShellEcho,
    is_prompt,
    shell_encode,
    shell_line,
    shell_quote,
    strip_prompt,
)
from xsudo.cli.hints import cli_text
from xsudo.errors import BadInputError, CommandTextError
from xsudo.sim.shell import ShellQuoteError, shell_decode

SENDABLE = st.binary(max_size=600).filter(lambda data: b"\0" not in data)
PEM_LIKE = st.lists(
    st.text(alphabet="ABCDEFabcdef0123456789+/=- \"'\\\r\n", max_size=70), max_size=12
).map(lambda lines: "\n".join(lines).encode("ascii"))


@given(SENDABLE)
def test_decode_of_encode_is_the_line(line: bytes) -> None:
    assert shell_decode(shell_encode(line)) == [b"at", line]


@given(PEM_LIKE)
def test_quoted_multiline_content_round_trips(content: bytes) -> None:
    line = b'AT%CMNG=0,16842753,0,"' + content + b'"'
    assert shell_decode(shell_encode(line)) == [b"at", line]


@given(SENDABLE)
def test_the_shell_line_is_printable_ascii_without_double_quotes(line: bytes) -> None:
    encoded = shell_encode(line)
    assert all(0x20 <= byte <= 0x7E for byte in encoded)
    assert b'"' not in encoded
    assert encoded.startswith(b"at '") and encoded.endswith(b"'")
    # Only the escaped bytes grow, each to four characters.
    assert len(encoded) <= len(b"at ''") + 4 * len(line)


@pytest.mark.parametrize(
    ("shell", "argv"),
    [
        (b"at AT+CGSN", [b"at", b"AT+CGSN"]),
        (b"  at   AT  ", [b"at", b"AT"]),
        (b"at 'a b'c", [b"at", b"a bc"]),
        (b"at a\\ b", [b"at", b"a b"]),
        (b"at \\'x", [b"at", b"'x"]),
        (b"at 'it\\'s'", [b"at", b"it's"]),
        (b'at "say \\"hi\\""', [b"at", b'say "hi"']),
        (b"at 'a\\\"b'", [b"at", b'a\\"b']),
        (b"at 'x\\x41y'", [b"at", b"xAy"]),
        (b"at 'x\\x4gy'", [b"at", b"x\x04gy"]),
        (b"at 'x\\x0A'", [b"at", b"x\n"]),
        (b"at 'x\\0101y'", [b"at", b"xAy"]),
        (b"at 'x\\0777'", [b"at", b"x\xff"]),
        (b"at 'x\\0z'", [b"at", b"x\\0z"]),
        (b"at 'x\\q'", [b"at", b"x\\q"]),
        (b"at 'x\\x27y'", [b"at", b"x'y"]),
        (b"at 'a\\x00b'", [b"at", b"a"]),
        (b"at 'AT%CMNG=0,1,0,\"\\n\"'", [b"at", b'AT%CMNG=0,1,0,"\\n"']),
    ],
)
def test_make_argv_known_answers(shell: bytes, argv: list[bytes]) -> None:
    assert shell_decode(shell) == argv


@pytest.mark.parametrize("shell", [b"at 'open", b'at "open', b"at 'a\\'"])
def test_unterminated_quote(shell: bytes) -> None:
    with pytest.raises(ShellQuoteError):
        shell_decode(shell)


def test_nul_cannot_be_sent() -> None:
    with pytest.raises(CommandTextError):
        shell_quote(b"a\0b")


def test_line_must_fit_the_shell_buffer() -> None:
    line = b"AT%CMNG=0,1,4,'" + b"x" * 50 + b"'"  # 2 quotes escaped: 6 extra characters
    encoded = shell_encode(line)
    assert shell_line(line, len(encoded) + 1) == encoded
    with pytest.raises(CommandTextError) as caught:
        shell_line(line, len(encoded))
    message = str(caught.value)
    assert f"{len(encoded)}-character shell line" in message
    assert "shell_buffer" in message and "--shell-buffer" in cli_text(caught.value)
    assert caught.value.exit_code == 2


def test_literal_backslash_n_in_a_cmng_write_is_refused() -> None:
    """Firmware with CONFIG_AT_SHELL_UNESCAPE_LF would turn it into CR LF."""
    with pytest.raises(CommandTextError) as caught:
        shell_line(b'AT%CMNG=0,1,0,"a\\nb"')
    assert "UNESCAPE_LF" in str(caught.value)
    # Not a CMNG write (or wrapped in %XSUDO): not rewritten by the firmware, so sendable.
    assert shell_line(b'AT%XSUDO=20,"c2ln";%CMNG=0,1,0,"a\\nb"')


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_ansi_stripping_does_not_depend_on_chunking(data: bytes, cuts: list[int]) -> None:
    data = b"\x1b[1;32muart:~$ \x1b[0m" + data + b"\x1b[1;31merr\x1b[0m"
    whole = AnsiStripper().feed(data)
    stripper = AnsiStripper()
    pieces, start = [], 0
    for cut in [*sorted(cuts), len(data)]:
        pieces.append(stripper.feed(data[start:cut]))
        start = max(start, cut)
    assert b"".join(pieces) == whole


def test_ansi_codes_and_prompt_are_removed() -> None:
    text = AnsiStripper().feed(b"\x1b[1;32muart:~$ \x1b[0mat 'AT'\x1b[K\x1b7x")
    assert text == b"uart:~$ at 'AT'x"
    assert strip_prompt(b"uart:~$ at 'AT'") == b"at 'AT'"
    assert strip_prompt(b"mosh:~$ OK") == b"OK"
    assert strip_prompt(b"%CMNG: 1,0") == b"%CMNG: 1,0"
    assert is_prompt(b"uart:~$ ") and is_prompt(b"uart:~$")
    assert not is_prompt(b"uart:~$ at") and not is_prompt(b"")


def test_shell_echo_is_recognised_in_wrapped_fragments() -> None:
    wire = b"at 'AT%CMNG=0,1,0,\\x22-----BEGIN X-----\\x0AAAAA\\x22'"
    echo = ShellEcho(wire)
    assert not echo.take(b"[00:00:01.000,000] <inf> app: log between")
    assert echo.take(wire[:30].rstrip())
    assert not echo.done
    assert echo.take(wire[30:])
    assert echo.done
    assert not echo.take(b"OK")


def test_at_echo_is_one_whole_line() -> None:
    echo = AtEcho(b'AT%CMNG=0,1,0,"a\nb"')
    assert not echo.take(b"+CEREG: 5")
    assert echo.take(b'AT%CMNG=0,1,0,"a\r\nb"')
    assert not echo.take(b'AT%CMNG=0,1,0,"a\r\nb"')


@pytest.mark.parametrize(
    ("line", "verdict"),
    [
        (b"OK", "at"),
        (b"ERROR", "at"),
        (b"+CME ERROR: 50", "at"),
        (b"AT: command not found", "shell"),
        (b"uart:~$", "shell"),
        (b"AT", None),
        (b"uart:~$ AT", None),
        (b"", None),
    ],
)
def test_probe_verdicts(line: bytes, verdict: str | None) -> None:
    assert probe_verdict(line) == verdict


def test_cmd_type_from_argument_environment_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XSUDO_CMD_TYPE", raising=False)
    assert resolve_cmd_type(None) == "at"
    assert resolve_cmd_type("Shell") == "shell"
    monkeypatch.setenv("XSUDO_CMD_TYPE", "auto")
    assert resolve_cmd_type(None) == "auto"
    with pytest.raises(BadInputError):
        resolve_cmd_type("uart")
