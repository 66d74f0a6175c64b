"""The simulator's Zephyr shell front end (``cmd_type=shell``): line editing, echo, prompt,
``at`` dispatch, the shell's escaping and CONFIG_AT_SHELL_UNESCAPE_LF."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import pytest
import serial

from xsudo.sim import Board, FaultSpec, SimOptionError, SimOptions, register_url_handler
from xsudo.sim.shell import PROMPT, ShellLink, link_for

COLOURED_PROMPT = b"\x1b[1;32m" + PROMPT + b"\x1b[0m"


def shell(**options: object) -> ShellLink:
    link = link_for(Board(SimOptions(cmd_type="shell", **options)))  # type: ignore[arg-type]
    assert isinstance(link, ShellLink)
    return link


def typed(link: ShellLink, data: bytes) -> bytes:
    return b"".join(chunk for _, chunk in link.receive(data))


def stored(link: ShellLink) -> dict[tuple[int, int], bytes]:
    return dict(link.board.modem.nvm.credentials)


def test_echo_response_and_prompt() -> None:
    assert typed(shell(), b"at AT+CGSN\r\n") == (
        b"at AT+CGSN\r\n352656100367872\r\nOK\r\n\r\n" + COLOURED_PROMPT
    )


def test_echo_off() -> None:
    assert typed(shell(shell_echo=False), b"at AT+CGSN\r") == (
        b"\r\n352656100367872\r\nOK\r\n\r\n" + COLOURED_PROMPT
    )


def test_plain_at_command_is_not_a_shell_command() -> None:
    out = typed(shell(), b"AT+CGSN\r\n")
    assert b"\x1b[1;31mAT+CGSN: command not found\x1b[0m\r\n" in out
    assert out.endswith(COLOURED_PROMPT)


def test_cr_lf_is_one_enter_but_two_crs_are_two() -> None:
    link = shell()
    assert typed(link, b"at AT\r\n").count(PROMPT) == 1
    assert typed(link, b"at AT\n\r").count(PROMPT) == 1
    assert typed(link, b"at AT\r\r").count(PROMPT) == 2


def test_line_editing_keys() -> None:
    link = shell(shell_echo=False)
    out = typed(link, b"at AT+CGSX\x08N\x1b[A\x1bOx\x7fxx\x7f\x7f\xe9\r")
    assert b"352656100367872\r\nOK" in out
    assert typed(link, b"garbage\x03at AT+CGSN\r").count(b"352656100367872") == 1
    assert typed(link, b"garbage\x15at AT+CGSN\r").count(b"352656100367872") == 1


def test_long_echo_wraps_at_the_terminal_width() -> None:
    command = b"at AT%CMNG=1," + b"1" * 100
    echo = typed(shell(), command + b"\r").split(b"\r\n")
    assert echo[0] == command[: 80 - len(PROMPT)]
    assert echo[1].startswith(command[80 - len(PROMPT) :][:10])


def test_quoted_argument_with_hex_escapes_reaches_the_modem() -> None:
    link = shell()
    typed(link, b"at 'AT%CMNG=0,7,4,\\x22id\\x0A\\x27ent\\x5Cx\\x22'\r")
    assert stored(link)[(7, 4)] == b"id\n'ent\\x"


def test_line_longer_than_the_buffer_loses_its_end() -> None:
    link = shell(shell_buffer=32)
    out = typed(link, b"at 'AT%CMNG=0,7,4,\\x22" + b"a" * 40 + b"\\x22'\r")
    assert b"not terminated: '" in out
    assert stored(link).get((7, 4)) is None


@pytest.mark.parametrize(("unescape", "content"), [(True, b"a\r\nb"), (False, b"a\\nb")])
def test_unescape_lf_option(unescape: bool, content: bytes) -> None:
    link = shell(unescape_lf=unescape)
    assert b"OK" in typed(link, b"at 'AT%CMNG=0,7,4,\\x22a\\x5Cnb\\x22'\r")
    assert stored(link)[(7, 4)] == content


def test_unescape_lf_only_for_cmng_writes_and_never_inside_xsudo(tmp_path: Path) -> None:
    """An %XSUDO-wrapped write does not begin with AT%CMNG=0, so the shell leaves its
    literal backslash-n alone (and the signature over it verifies)."""
    key = tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)],
        check=True,
    )
    pub = subprocess.run(
        ["openssl", "ec", "-in", str(key), "-pubout"], capture_output=True, check=True
    ).stdout
    link = shell(unescape_lf=True)
    link.board.modem.handle(b'AT%XPMNG=0,"' + pub + b'",0')
    body = b'%CMNG=0,9,4,"x\\ny"'
    signature = subprocess.run(
        ["openssl", "pkeyutl", "-sign", "-inkey", str(key)],
        input=hashlib.sha256(body).digest(),
        capture_output=True,
        check=True,
    ).stdout
    line = b"AT%XSUDO=" + str(len(body)).encode() + b',"' + base64.b64encode(signature) + b'";'
    out = typed(
        link, b"at '" + line.replace(b'"', b"\\x22") + body.replace(b'"', b"\\x22") + b"'\r"
    )
    assert b"OK" in out
    assert stored(link)[(9, 4)] == b"x\\ny"


def test_response_longer_than_the_response_buffer() -> None:
    out = typed(shell(shell_response_max=50), b"at AT%CMNG=1\r")
    assert b"Sending AT command failed with error code -7\r\n" in out


def test_at_subcommands_and_usage() -> None:
    link = shell()
    assert b"Usage: at <subcommand>" in typed(link, b"at\r")
    assert b"AT command event handler enabled" in typed(link, b"at events_enable\r")
    assert b"AT command event handler disabled" in typed(link, b"at events_disable\r")
    assert typed(link, b"   \r") == b"   \r\n" + COLOURED_PROMPT  # echo, nothing run


def test_commands_count_once_each_for_faults() -> None:
    link = shell(fault=(FaultSpec.parse("drop:2"),))
    assert b"OK" in typed(link, b"at AT\r")
    assert b"OK" not in typed(link, b"at AT\r")
    assert link.board.commands_handled == 2


def test_options_from_url_query_and_flags() -> None:
    options = SimOptions.from_mapping({"cmd-type": "shell", "unescape_lf": "1"})
    assert (options.cmd_type, options.unescape_lf) == ("shell", True)
    with pytest.raises(SimOptionError):
        SimOptions.from_mapping({"cmd_type": "uart"})
    with pytest.raises(SimOptionError):
        SimOptions(shell_buffer=1)
    assert not isinstance(link_for(Board(SimOptions())), ShellLink)


def test_sim_url_serves_the_shell() -> None:
    register_url_handler()
    with serial.serial_for_url("sim://?cmd_type=shell", timeout=5) as port:
        port.write(b"at AT+CGMR\r\n")
        assert port.read_until(COLOURED_PROMPT).startswith(b"at AT+CGMR\r\nmfw_nrf91x1_2.0.2")
