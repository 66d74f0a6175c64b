"""The channel in shell mode against ``xsudo sim --pty --cmd-type shell`` (a real pty and a
real simulator process), auto-detection both ways, and the shell's failure messages.

Certificates, keys and signatures come from the openssl CLI (Nordic's documented recipe),
so the simulator's signature check is independent of xsudo's signer.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from xsudo.at import AtChannel, Modem, ShellCommandError, SignedCommandError, commands
from xsudo.cli.hints import cli_text
from xsudo.command import AtCommand, build_xsudo_line
from xsudo.errors import CmeError, CommandTextError, DeviceError, DeviceTimeout

from .fakedevice import FakeDevice
from .ptysim import PtySim

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0
CA_TAG = 16842753


def openssl(*args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


@pytest.fixture
def sim() -> Iterator[type[PtySim]]:
    started: list[PtySim] = []

    class Started(PtySim):
        def __init__(self, *flags: str) -> None:
            super().__init__(*flags)
            started.append(self)

    yield Started
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    work = tmp_path_factory.mktemp("cert")
    key, out = work / "key.pem", work / "cert.pem"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=xsudo shell test", "-days", "2", "-keyout", str(key), "-out", str(out),
    )  # fmt: skip
    return out.read_bytes()


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    priv = tmp_path_factory.mktemp("key") / "priv.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(priv))
    return priv, openssl("ec", "-in", str(priv), "-pubout")


def test_identity_and_list_through_the_shell(sim: type[PtySim]) -> None:
    board = sim("--cmd-type", "shell")
    with Modem.open(board.path, cmd_type="shell", timeout=TIMEOUT) as modem:
        assert modem.channel.cmd_type == "shell"
        identity = modem.identity()
        assert identity.imei == "352656100367872"
        assert identity.mfw == "mfw_nrf91x1_2.0.2"
        assert identity.model == "nRF9161 LACA A0A"
        listed = modem.cmng_list()
        assert [(e.tag, e.type) for e in listed] == [
            (4294967292, 11),
            (4294967293, 10),
            (4294967294, 6),
        ]
        assert all(e.sha and len(e.sha) == 64 for e in listed)
        assert modem.channel.strays() == []


@pytest.mark.parametrize("flags", [(), ("--unescape-lf",), ("--no-shell-echo",)])
def test_multiline_pem_reaches_the_modem_byte_exact(
    sim: type[PtySim], cert: bytes, flags: tuple[str, ...]
) -> None:
    """Written through ``at '...'``, the stored bytes hash to sha256 of the file, with or
    without CONFIG_AT_SHELL_UNESCAPE_LF and with the shell's echo on or off."""
    assert cert.count(b"\n") > 5
    board = sim("--cmd-type", "shell", *flags)
    with Modem.open(board.path, cmd_type="shell", timeout=TIMEOUT) as modem:
        modem.set_cfun(4)
        modem.command(commands.cmng_write(CA_TAG, 0, cert))
        [entry] = modem.cmng_list(CA_TAG, 0)
        assert entry.sha == hashlib.sha256(cert).hexdigest().upper()
        assert modem.cmng_read(CA_TAG, 0).content == cert


def test_signed_write_on_the_locked_profile(
    sim: type[PtySim], cert: bytes, signing_key: tuple[Path, bytes]
) -> None:
    """The simulator verifies the %XSUDO signature over the decoded bytes: the body
    (multi-line PEM and all) signed per Nordic's openssl recipe is accepted as sent
    through the shell, and a changed body is refused."""
    priv, pub = signing_key
    board = sim("--cmd-type", "shell", "--profile", "locked")
    with Modem.open(board.path, cmd_type="shell", timeout=TIMEOUT) as modem:
        modem.set_cfun(4)
        with pytest.raises(CmeError) as refused:
            modem.command(commands.cmng_write(CA_TAG, 0, cert))
        assert refused.value.code == 514
        modem.xpmng_write(pub, 1)
        body = AtCommand.set("%CMNG", 0, CA_TAG, 0, cert.decode("ascii")).body()
        signature = openssl(
            "pkeyutl", "-sign", "-inkey", str(priv), data=hashlib.sha256(body).digest()
        )
        line = build_xsudo_line(body, base64.b64encode(signature).decode(), 1).render()
        assert modem.send_line(line).ok
        [entry] = modem.cmng_list(CA_TAG, 0)
        assert entry.sha == hashlib.sha256(cert).hexdigest().upper()
        tampered = line.replace(b"%CMNG=0,16842753,", b"%CMNG=0,16842754,")
        with pytest.raises(SignedCommandError) as caught:
            modem.send_line(tampered)
        assert (caught.value.command, caught.value.code) == ("%XSUDO", 520)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--cmd-type", "shell"), "shell"),
        (("--cmd-type", "shell", "--no-shell-echo"), "shell"),
        ((), "at"),
        (("--echo",), "at"),
    ],
)
def test_auto_detection(sim: type[PtySim], flags: tuple[str, ...], expected: str) -> None:
    board = sim(*flags)
    with AtChannel.open(board.path, cmd_type="auto", timeout=TIMEOUT) as channel:
        assert channel.cmd_type is None
        assert channel.detect() == expected
        assert channel.cmd_type == expected
        assert channel.command(b"AT+CGSN").lines == [b"352656100367872"]
        assert channel.detect() == expected  # cached: no second probe


def test_auto_detection_over_sim_url() -> None:
    with Modem.open("sim://?cmd_type=shell", cmd_type="auto", timeout=TIMEOUT) as modem:
        assert modem.channel.cmd_type == "shell"
        assert modem.cfun() == 0


def test_raw_at_lines_typed_at_a_shell_are_diagnosed(sim: type[PtySim]) -> None:
    board = sim("--cmd-type", "shell")
    with (
        AtChannel.open(board.path, cmd_type="at", timeout=TIMEOUT) as channel,
        pytest.raises(DeviceError) as caught,
    ):
        channel.command(b"AT+CGMR")
    assert "Zephyr shell" in str(caught.value)
    assert "--cmd-type shell" in cli_text(caught.value)  # the remedy, in CLI words


def test_line_longer_than_the_device_shell_buffer(sim: type[PtySim], cert: bytes) -> None:
    """The device's buffer is smaller than assumed: the shell drops the end of the line."""
    board = sim("--cmd-type", "shell", "--shell-buffer", "256")
    with Modem.open(board.path, cmd_type="shell", timeout=TIMEOUT) as modem:
        modem.set_cfun(4)
        with pytest.raises(ShellCommandError) as caught:
            modem.command(commands.cmng_write(CA_TAG, 0, cert))
        assert "not terminated" in str(caught.value)
        assert "--shell-buffer" in cli_text(caught.value)
        assert modem.cmng_list(CA_TAG) == []  # still in step, nothing stored


def test_too_long_for_the_assumed_buffer_is_refused_before_sending(cert: bytes) -> None:
    with AtChannel.open("sim://?cmd_type=shell", cmd_type="shell", shell_buffer=200) as channel:
        command = AtCommand.set("%CMNG", 0, CA_TAG, 0, cert.decode("ascii"))
        with pytest.raises(CommandTextError):
            channel.command(command)
        board = channel.serial_port.board  # type: ignore[attr-defined]
        assert board.commands_handled == 0


def test_response_longer_than_the_shell_response_buffer(sim: type[PtySim]) -> None:
    board = sim("--cmd-type", "shell", "--shell-response-max", "100")
    with AtChannel.open(board.path, cmd_type="shell", timeout=TIMEOUT) as channel:
        with pytest.raises(ShellCommandError) as caught:
            channel.command(b"AT%CMNG=1")
        assert "-7" in str(caught.value)
        assert channel.command(b"AT+CGSN").lines == [b"352656100367872"]


def test_no_answer_names_the_firmware_that_would_answer() -> None:
    with (
        FakeDevice(transport="pty", responder=lambda line: ()) as device,
        AtChannel.open(device.url, cmd_type="auto", timeout=0.5) as channel,
        pytest.raises(DeviceTimeout) as caught,
    ):
        channel.detect()
    message = cli_text(caught.value)
    for word in ("at_client", "serial_modem", "--cmd-type shell", "--baud"):
        assert word in message
    for word in ("at_client", "serial_modem", "cmd_type 'shell'", "baud rate"):
        assert word in str(caught.value)
    assert device.received[:1] == [b"AT"]


def test_unreadable_answer_points_at_the_baud_rate() -> None:
    def garbage(line: bytes) -> list[bytes]:
        return [b"\xf3\x9c\x11\xe1\xfe\x80\r\n"]

    with (
        FakeDevice(transport="pty", responder=garbage) as device,
        AtChannel.open(device.url, cmd_type="auto", timeout=0.5) as channel,
        pytest.raises(DeviceTimeout) as caught,
    ):
        channel.detect()
    assert "baud rate" in str(caught.value)


def test_shell_lines_sent_to_a_raw_at_interface_are_diagnosed() -> None:
    with (
        AtChannel.open("sim://", cmd_type="shell", timeout=0.5) as channel,
        pytest.raises(DeviceTimeout) as caught,
    ):
        channel.command(b"AT+CGMR")
    assert "raw AT interface" in str(caught.value)
    assert "--cmd-type at" in cli_text(caught.value)
