"""Synthetic serial port descriptions, shaped like what pyserial reports on each system."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from serial.tools.list_ports_common import ListPortInfo

from tests.support.boards import xsudo  # noqa: F401  (the in-process CLI fixture)
from xsudo import ports as ports_module


def usb_port(
    device: str,
    vid: int,
    pid: int,
    serial_number: str | None,
    location: str | None = None,
    product: str = "J-Link",
) -> ListPortInfo:
    """A port as pyserial's Linux/macOS backends fill it in (attributes, then hwid)."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number, info.location = vid, pid, serial_number, location
    info.product = product
    info.apply_usb_info()
    return info


def windows_port(device: str, hwid: str, description: str) -> ListPortInfo:
    """A port as pyserial's Windows backend may leave it: only the hwid text is filled."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.hwid, info.description = hwid, description
    return info


def nrf9161_dk(first: str, second: str, serial: str = "001050912345") -> list[ListPortInfo]:
    """J-Link OB: two VCOMs; interface 0 is the nRF9161's application UART."""
    return [
        usb_port(second, 0x1366, 0x1051, serial, "1-2.3:1.2"),
        usb_port(first, 0x1366, 0x1051, serial, "1-2.3:1.0"),
    ]


@pytest.fixture
def comports(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[ListPortInfo]], None]]:
    """``comports(ports)`` makes xsudo see exactly these serial ports."""

    def install(ports: list[ListPortInfo]) -> None:
        monkeypatch.setattr(ports_module, "_comports", lambda: list(ports))

    yield install
