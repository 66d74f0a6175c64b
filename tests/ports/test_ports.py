"""Board discovery from synthetic port lists: kits named, the AT port picked, ``xsudo ports``
and ``--port auto`` (one kit: used; none or several: a clear error naming what was seen)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from serial.tools.list_ports_common import ListPortInfo

from tests.support.boards import Result
from xsudo.at import Modem
from xsudo.errors import BadInputError, PortError
from xsudo.ports import choose_auto_port, describe_ports, kit_for
from xsudo.sim import PtyServer, SimOptions

from .conftest import nrf9161_dk, usb_port, windows_port
from .terminal import run_on_terminal

Comports = Callable[[list[ListPortInfo]], None]
Run = Callable[..., Result]


@pytest.fixture
def pty_board() -> Iterator[PtyServer]:
    with PtyServer(SimOptions(cmd_type="shell")) as server:
        yield server


@pytest.mark.parametrize(
    ("serial_number", "kit"),
    [
        ("000960012345", ("nRF9160 DK", True)),
        ("001050912345", ("nRF9161 DK", True)),
        ("001051216197", ("nRF9151 DK", True)),
        ("001052000001", ("nRF9151 DK", True)),
        ("001051012345", ("nRF9131 EK", True)),
        ("001055012345", ("Thingy:91 X", True)),
        ("THINGY91X_4A2B9C1D3E5F", ("Thingy:91 X", True)),
        ("THINGY91_123456", ("Thingy:91", True)),
        ("PCA20035_1234", ("Thingy:91", True)),
        ("001050012345", ("nRF5340 DK", False)),
        ("001057712345", ("nRF54L15 DK", False)),
        ("001059912345", ("Nordic kit (unknown model)", False)),
        ("000683123456", None),
        (None, None),
    ],
)
def test_kits_by_serial_number(serial_number: str | None, kit: tuple[str, bool] | None) -> None:
    assert kit_for(serial_number) == kit


def test_linux_kits_and_their_at_ports() -> None:
    ports = describe_ports(
        [
            # nRF9160 DK: three VCOMs listed out of order; the lowest interface is the app UART.
            usb_port("/dev/ttyACM5", 0x1366, 0x1015, "000960012345", "1-1:1.4"),
            usb_port("/dev/ttyACM4", 0x1366, 0x1015, "000960012345", "1-1:1.2"),
            usb_port("/dev/ttyACM6", 0x1366, 0x1015, "000960012345", "1-1:1.0"),
            # Thingy:91 X: the nRF5340 bridge's two CDC ACM interfaces.
            usb_port("/dev/ttyACM0", 0x1915, 0x910A, "THINGY91X_4A2B9C1D3E5F", "3-1:1.0", "T91X"),
            usb_port("/dev/ttyACM1", 0x1915, 0x910A, "THINGY91X_4A2B9C1D3E5F", "3-1:1.2", "T91X"),
            # An nRF5340 DK (no modem), a USB-serial cable, and a plain UART.
            usb_port("/dev/ttyACM2", 0x1366, 0x1051, "001050012345", "1-3:1.0"),
            usb_port("/dev/ttyUSB0", 0x0403, 0x6001, "A50285BI", "1-4:1.0", "FT232R"),
            ListPortInfo("/dev/ttyS0", skip_link_detection=True),
        ]
    )
    by_device = {p.device: p for p in ports}
    assert [p.device for p in ports] == [
        "/dev/ttyACM0",
        "/dev/ttyACM1",
        "/dev/ttyACM2",
        "/dev/ttyACM4",
        "/dev/ttyACM5",
        "/dev/ttyACM6",
        "/dev/ttyS0",
        "/dev/ttyUSB0",
    ]
    assert [p.device for p in ports if p.at_port] == ["/dev/ttyACM0", "/dev/ttyACM6"]
    assert by_device["/dev/ttyACM6"].board == "nRF9160 DK"
    assert by_device["/dev/ttyACM6"].interface == 0
    assert by_device["/dev/ttyACM4"].board == "nRF9160 DK" and not by_device["/dev/ttyACM4"].at_port
    assert by_device["/dev/ttyACM0"].board == "Thingy:91 X"
    assert by_device["/dev/ttyACM2"].board == "nRF5340 DK"
    assert not by_device["/dev/ttyACM2"].nrf91 and not by_device["/dev/ttyACM2"].at_port
    assert by_device["/dev/ttyUSB0"].board is None and by_device["/dev/ttyUSB0"].vid == 0x0403
    assert by_device["/dev/ttyS0"].vid is None


def test_windows_hwid_only() -> None:
    ports = describe_ports(
        [
            windows_port(
                "COM12",
                "USB VID:PID=1366:1059 SER=001051216197 LOCATION=1-21:x.2",
                "JLink CDC UART Port (COM12)",
            ),
            windows_port(
                "COM11",
                "USB VID:PID=1366:1059 SER=001051216197 LOCATION=1-21:x.0",
                "JLink CDC UART Port (COM11)",
            ),
        ]
    )
    assert [(p.device, p.board, p.interface, p.at_port) for p in ports] == [
        ("COM11", "nRF9151 DK", 0, True),
        ("COM12", "nRF9151 DK", 2, False),
    ]
    assert ports[0].to_json()["vid"] == "1366"


def test_macos_without_interface_numbers_takes_the_first_device() -> None:
    ports = describe_ports(
        [
            usb_port("/dev/cu.usbmodem0010509123453", 0x1366, 0x1051, "001050912345", "0-1.4"),
            usb_port("/dev/cu.usbmodem0010509123451", 0x1366, 0x1051, "001050912345", "0-1.4"),
        ]
    )
    assert [p.device for p in ports if p.at_port] == ["/dev/cu.usbmodem0010509123451"]


def test_vendor_must_be_nordic_or_segger() -> None:
    [port] = describe_ports([usb_port("/dev/ttyUSB1", 0x10C4, 0xEA60, "001050912345")])
    assert port.board is None and not port.at_port


def test_choose_auto_port() -> None:
    one = describe_ports(nrf9161_dk("/dev/ttyACM0", "/dev/ttyACM1"))
    assert choose_auto_port(one) == "/dev/ttyACM0"

    with pytest.raises(PortError) as none:
        choose_auto_port(describe_ports([ListPortInfo("/dev/ttyS0", skip_link_detection=True)]))
    assert "no nRF91" in str(none.value) and "/dev/ttyS0" in str(none.value)
    assert none.value.exit_code == 3

    two = describe_ports(
        nrf9161_dk("/dev/ttyACM0", "/dev/ttyACM1")
        + nrf9161_dk("/dev/ttyACM2", "/dev/ttyACM3", "001050954321")
    )
    with pytest.raises(BadInputError) as several:
        choose_auto_port(two)
    message = str(several.value)
    assert "2 nRF91 kits" in message
    assert "/dev/ttyACM0 (nRF9161 DK 001050912345)" in message
    assert "/dev/ttyACM2 (nRF9161 DK 001050954321)" in message
    assert several.value.exit_code == 2


def test_ports_command(xsudo: Run, comports: Comports) -> None:
    comports([*nrf9161_dk("/dev/ttyACM0", "/dev/ttyACM1"), ListPortInfo("/dev/ttyS0", True)])
    listed = xsudo("ports", "--json")
    assert listed.code == 0
    rows = json.loads(listed.out)
    assert [(r["port"], r["board"], r["at_port"], r["vid"]) for r in rows] == [
        ("/dev/ttyACM0", "nRF9161 DK", True, "1366"),
        ("/dev/ttyACM1", "nRF9161 DK", False, "1366"),
        ("/dev/ttyS0", None, False, None),
    ]
    table = xsudo("ports")
    assert table.code == 0
    assert "nRF9161 DK" in table.out and "yes" in table.out
    assert "--port auto uses /dev/ttyACM0 (nRF9161 DK 001050912345)" in table.err

    comports([])
    empty = xsudo("ports", "--json")
    assert (empty.code, json.loads(empty.out)) == (0, [])


def test_port_auto_opens_the_one_kit(xsudo: Run, comports: Comports, pty_board: PtyServer) -> None:
    """The kit's AT port is a simulated board's pty: --port auto opens it (and auto-detects
    the shell behind it)."""
    comports(nrf9161_dk(pty_board.path, "/dev/ttyXSUDO-trace"))
    result = xsudo("cred", "list", "--port", "auto", "--json")
    assert result.code == 0, result.err
    assert {row["tag"] for row in result.json()} == {4294967292, 4294967293, 4294967294}
    assert f"--port auto: {pty_board.path} (nRF9161 DK 001050912345)" in result.err
    with Modem.open("auto", cmd_type="auto") as modem:  # the library takes "auto" too
        assert modem.channel.port_name == pty_board.path
        assert modem.channel.cmd_type == "shell"


def test_port_auto_without_a_clear_choice(xsudo: Run, comports: Comports) -> None:
    comports([ListPortInfo("/dev/ttyS0", skip_link_detection=True)])
    none = xsudo("cred", "list", "--port", "auto")
    assert none.code == 3
    assert "no nRF91 development kit" in none.err and "/dev/ttyS0" in none.err

    comports(
        nrf9161_dk("/dev/ttyACM0", "/dev/ttyACM1")
        + nrf9161_dk("/dev/ttyACM2", "/dev/ttyACM3", "001050954321")
    )
    several = xsudo("device", "info", "--port", "auto")
    assert several.code == 2
    assert "/dev/ttyACM0" in several.err and "/dev/ttyACM2" in several.err
    assert "--port" in several.err


CHOOSER = """
import sys
from serial.tools.list_ports_common import ListPortInfo
from tests.ports.conftest import nrf9161_dk
from xsudo import ports
from xsudo.cli import main

first, second = sys.argv[1:3]
ports._comports = lambda: nrf9161_dk(first, "/dev/ttyXSUDO-a") + nrf9161_dk(
    second, "/dev/ttyXSUDO-b", "001050954321"
)
main(sys.argv[3:])
"""


def test_port_auto_asks_on_a_terminal_when_there_is_a_choice() -> None:
    with (
        PtyServer(SimOptions(imei="111111111111111")) as one,
        PtyServer(SimOptions(imei="222222222222222", cmd_type="shell")) as two,
    ):
        args = [one.path, two.path, "device", "info", "--port", "auto"]
        status, seen = run_on_terminal(args, b"which kit", b"2\n", python=CHOOSER)
    assert status == 0, seen
    assert f"1. {one.path} (nRF9161 DK 001050912345)".encode() in seen
    assert f"2. {two.path} (nRF9161 DK 001050954321)".encode() in seen
    assert b"222222222222222" in seen and b"111111111111111" not in seen
