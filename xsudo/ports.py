"""Serial ports on this computer, Nordic development kits among them, and the modem's AT port.

Recognition (the same facts Nordic's nrfcredstore uses):

* A kit's USB vendor is Nordic Semiconductor (VID ``0x1915``: Thingy:91, Thingy:91 X) or
  SEGGER (VID ``0x1366``: the J-Link OB interface chip on DKs).
* The kit is named by its USB serial number's prefix (:data:`KITS`): ``0009600...`` is an
  nRF9160 DK, ``0010509...`` an nRF9161 DK, ``0010512``/``0010520...`` an nRF9151 DK,
  ``0010510...`` an nRF9131 EK, ``0010513``/``0010550``/``0010551...`` or ``THINGY91X...``
  a Thingy:91 X, ``THINGY91...``/``PCA20035...`` a Thingy:91.

The AT port rule: the ports of one kit share its serial number; ordered by USB interface
number (the ``:<config>.<interface>`` end of the USB location; the device name where the
platform gives no interface), the **first** is the nRF91's application UART, where AT
host, Serial Modem and the shell run. On J-Link DKs that is the first of the VCOMs
(interface 0; the others carry the modem trace or the board controller), on Thingy:91 X
the nRF5340 bridge's interface 0.

Nothing here opens a port.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from xsudo.errors import BadInputError, PortError, Remedy

NORDIC_VID = 0x1915
SEGGER_VID = 0x1366
VENDORS = {NORDIC_VID: "Nordic Semiconductor", SEGGER_VID: "SEGGER"}

KITS: tuple[tuple[str, str, bool], ...] = (
    ("THINGY91X", "Thingy:91 X", True),
    ("THINGY91", "Thingy:91", True),
    ("PCA20035", "Thingy:91", True),
    ("0009600", "nRF9160 DK", True),
    ("0009601", "nRF5340 DK", False),
    ("0010500", "nRF5340 DK", False),
    ("0010507", "nRF7002 DK", False),
    ("0010509", "nRF9161 DK", True),
    ("0010510", "nRF9131 EK", True),
    ("0010511", "nRF54H20 DK", False),
    ("0010512", "nRF9151 DK", True),
    ("0010513", "Thingy:91 X", True),
    ("0010520", "nRF9151 DK", True),
    ("0010550", "Thingy:91 X", True),
    ("0010551", "Thingy:91 X", True),
    ("0010577", "nRF54L15 DK", False),
    ("00105", "Nordic kit (unknown model)", False),
    ("NRFBLEGW", "nRF Cloud Gateway", False),
)
"""(serial-number prefix, kit name, has an nRF91 modem); the first matching prefix wins."""

_INTERFACE = re.compile(r":[0-9x]+\.(\d+)$")
_SERIAL_IN_HWID = re.compile(r"\bSER=(\S+)")
_VIDPID_IN_HWID = re.compile(r"VID:PID=([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})")
_LOCATION_IN_HWID = re.compile(r"\bLOCATION=(\S+)")


@dataclass(frozen=True)
class SerialPort:
    """One serial port, with what is known about the kit behind it.

    ``board`` is the kit's name (``None`` when not a known Nordic kit); ``nrf91`` whether
    that kit has an nRF91 modem; ``at_port`` whether this is the kit's modem AT port.
    """

    device: str
    description: str
    hwid: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    interface: int | None = None
    board: str | None = None
    nrf91: bool = False
    at_port: bool = False

    @property
    def vendor(self) -> str | None:
        return VENDORS.get(self.vid) if self.vid is not None else None

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.device,
            "description": self.description,
            "vid": f"{self.vid:04x}" if self.vid is not None else None,
            "pid": f"{self.pid:04x}" if self.pid is not None else None,
            "vendor": self.vendor,
            "serial_number": self.serial_number,
            "interface": self.interface,
            "board": self.board,
            "nrf91": self.nrf91,
            "at_port": self.at_port,
        }

    def label(self) -> str:
        """``/dev/ttyACM0 (nRF9161 DK 001050912345)`` style text for messages."""
        what = " ".join(part for part in (self.board, self.serial_number) if part)
        return f"{self.device} ({what or self.description})"


def kit_for(serial_number: str | None) -> tuple[str, bool] | None:
    """The kit name and whether it has an nRF91 modem, from a USB serial number."""
    if not serial_number:
        return None
    upper = serial_number.upper()
    for prefix, name, nrf91 in KITS:
        if upper.startswith(prefix):
            return name, nrf91
    return None


def _interface_number(location: str | None) -> int | None:
    match = _INTERFACE.search(location or "")
    return int(match.group(1)) if match else None


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _usb_ids(info: Any) -> tuple[int | None, int | None, str | None]:
    """VID, PID and serial number, from the attributes or else from the hwid text."""
    hwid = str(getattr(info, "hwid", "") or "")
    vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
    if vid is None and (match := _VIDPID_IN_HWID.search(hwid)):
        vid, pid = int(match.group(1), 16), int(match.group(2), 16)
    serial_number = getattr(info, "serial_number", None)
    if not serial_number and (found := _SERIAL_IN_HWID.search(hwid)):
        serial_number = found.group(1)
    return vid, pid, serial_number or None


def _location(info: Any) -> str | None:
    location = getattr(info, "location", None)
    if not location and (found := _LOCATION_IN_HWID.search(str(getattr(info, "hwid", "")))):
        location = found.group(1)
    return str(location) if location else None


def describe_ports(infos: Iterable[Any]) -> list[SerialPort]:
    """Turn pyserial ``ListPortInfo`` objects into :class:`SerialPort` values, kits marked
    and each nRF91 kit's AT port chosen (module docstring). Sorted by device name."""
    plain: list[SerialPort] = []
    for info in infos:
        vid, pid, serial_number = _usb_ids(info)
        kit = kit_for(serial_number) if vid in VENDORS else None
        plain.append(
            SerialPort(
                device=str(info.device),
                description=str(getattr(info, "description", "") or ""),
                hwid=str(getattr(info, "hwid", "") or ""),
                vid=vid,
                pid=pid,
                serial_number=serial_number,
                interface=_interface_number(_location(info)),
                board=kit[0] if kit else None,
                nrf91=kit[1] if kit else False,
            )
        )
    at_ports = {_first_interface(plain, port.serial_number) for port in plain if port.nrf91}
    marked = [dataclasses.replace(port, at_port=port.device in at_ports) for port in plain]
    return sorted(marked, key=lambda port: _natural(port.device))


def _first_interface(ports: Sequence[SerialPort], serial_number: str | None) -> str:
    """The device of the lowest-interface port carrying ``serial_number``."""
    siblings = [port for port in ports if port.serial_number == serial_number]
    siblings.sort(
        key=lambda port: (
            port.interface if port.interface is not None else 1 << 16,
            _natural(port.device),
        )
    )
    return siblings[0].device


def _comports() -> list[Any]:
    from serial.tools import list_ports

    return list(list_ports.comports())


def list_serial_ports(source: Callable[[], Iterable[Any]] | None = None) -> list[SerialPort]:
    """Every serial port pyserial sees (``source`` replaces ``list_ports.comports``)."""
    return describe_ports((source or _comports)())


def at_port_candidates(ports: Iterable[SerialPort]) -> list[SerialPort]:
    """The modem AT ports of the nRF91 kits among ``ports``."""
    return [port for port in ports if port.at_port]


def choose_auto_port(ports: Sequence[SerialPort]) -> str:
    """The one nRF91 kit's AT port among ``ports``.

    Raises :class:`~xsudo.errors.PortError` when there is none (naming the ports seen) and
    :class:`~xsudo.errors.BadInputError` when there are several (naming them).
    """
    candidates = at_port_candidates(ports)
    if len(candidates) == 1:
        return candidates[0].device
    if not candidates:
        seen = ", ".join(port.label() for port in ports) or "none"
        raise PortError(
            f"port auto found no nRF91 development kit (serial ports: {seen})",
            "connect the kit by USB, or give its port (a device path)",
            remedy=Remedy("choose-port", {"found": 0}),
        )
    listed = ", ".join(port.label() for port in candidates)
    raise BadInputError(
        f"port auto found {len(candidates)} nRF91 kits: {listed}",
        "give the port of one of them",
        remedy=Remedy("choose-port", {"found": len(candidates)}),
    )


def auto_port(source: Callable[[], Iterable[Any]] | None = None) -> str:
    """:func:`choose_auto_port` over the ports on this computer."""
    return choose_auto_port(list_serial_ports(source))
