"""Opening ports: selection, URLs, and clear errors for missing, busy and denied ports."""

from __future__ import annotations

import errno
import os
import socket
import sys
import tty
from collections.abc import Iterator

import pytest
import serial

from xsudo.at import AtChannel, open_port, port_error, resolve_port
from xsudo.cli.hints import cli_text
from xsudo.errors import BadInputError, DeviceTimeout, PortError


@pytest.fixture
def pty_path() -> Iterator[str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_port_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_port("/dev/ttyACM0") == "/dev/ttyACM0"
    monkeypatch.setenv("XSUDO_PORT", "socket://127.0.0.1:1")
    assert resolve_port(None) == "socket://127.0.0.1:1"
    assert resolve_port("COM3") == "COM3"


def test_no_port_is_bad_usage() -> None:
    with pytest.raises(BadInputError) as caught:
        resolve_port(None)
    assert "XSUDO_PORT" in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_device_path() -> None:
    with pytest.raises(PortError) as caught:
        open_port("/dev/ttyXSUDO-does-not-exist")
    assert "not found" in str(caught.value)
    assert "xsudo ports" in cli_text(caught.value)
    assert caught.value.exit_code == 3


def test_nothing_listening_on_socket() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PortError) as caught:
        open_port(f"socket://127.0.0.1:{port}")
    assert "not found" in str(caught.value)


def test_unknown_url_scheme() -> None:
    with pytest.raises(PortError) as caught:
        open_port("nosuchscheme://x")
    assert "not a port or URL" in str(caught.value)


@pytest.mark.skipif(sys.platform == "win32", reason="pty")
def test_busy_port_is_reported_as_busy(pty_path: str) -> None:
    first = open_port(pty_path)
    try:
        with pytest.raises(PortError) as caught:
            open_port(pty_path)
        assert "busy" in str(caught.value)
    finally:
        first.close()
    open_port(pty_path).close()


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may open anything")
def test_permission_denied_real(tmp_path: os.PathLike[str]) -> None:
    node = os.path.join(tmp_path, "ttyLOCKED")
    with open(node, "w"):
        pass
    os.chmod(node, 0)
    with pytest.raises(PortError) as caught:
        open_port(node)
    assert "permission denied" in str(caught.value)


@pytest.mark.parametrize(
    ("exc", "platform", "words"),
    [
        (
            serial.SerialException(errno.EACCES, "could not open port /dev/ttyACM0: [Errno 13]"),
            "linux",
            ("permission denied", "dialout", "log out"),
        ),
        (
            serial.SerialException(errno.EBUSY, "could not open port /dev/ttyACM0: [Errno 16]"),
            "linux",
            ("busy",),
        ),
        (
            serial.SerialException(errno.EWOULDBLOCK, "Could not exclusively lock port x: y"),
            "linux",
            ("busy",),
        ),
        (
            serial.SerialException(errno.ENOENT, "could not open port /dev/ttyACM9"),
            "linux",
            ("not found", "xsudo ports"),
        ),
        (
            serial.SerialException(
                "could not open port 'COM3': PermissionError(13, 'Access is denied.', None, 5)"
            ),
            "win32",
            ("busy",),
        ),
        (
            serial.SerialException(
                "could not open port 'COM9': FileNotFoundError(2, 'The system cannot find the file "
                "specified.', None, 2)"
            ),
            "win32",
            ("not found",),
        ),
        (
            serial.SerialException(
                "Could not open port socket://h:1: [Errno 111] Connection refused"
            ),
            "linux",
            ("not found",),
        ),
        (ValueError("invalid URL, protocol 'xyz' not known"), "linux", ("not a port or URL",)),
    ],
)
def test_open_failures_are_mapped(
    monkeypatch: pytest.MonkeyPatch, exc: Exception, platform: str, words: tuple[str, ...]
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    message = cli_text(port_error("PORT", exc))
    for word in words:
        assert word in message


def test_loop_url_echo_alone_is_no_answer() -> None:
    # loop:// sends back what is written: the channel drops its own echo and keeps waiting.
    with AtChannel(open_port("loop://"), timeout=0.2) as channel:
        assert channel.port_name == "loop://"
        with pytest.raises(DeviceTimeout):
            channel.command(b"AT+CFUN?")
        assert channel.strays() == []


def test_channel_open_via_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSUDO_PORT", "loop://")
    with AtChannel.open(sync=False, timeout=1) as channel:
        assert channel.port_name == "loop://"
