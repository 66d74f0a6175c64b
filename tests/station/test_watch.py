"""Board sources: nRF91 kits on USB (through xsudo.ports), a port file, a glob."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from xsudo.errors import BadInputError
from xsudo.station import watch
from xsudo.station.watch import Board


def usb(device: str, vid: int | None, serial: str | None, location: str) -> SimpleNamespace:
    return SimpleNamespace(
        device=device,
        vid=vid,
        pid=0x0010,
        serial_number=serial,
        location=location,
        description="USB serial",
        hwid="USB",
    )


def test_usb_boards_are_the_at_ports_of_nrf91_kits() -> None:
    listed = [
        usb("/dev/ttyACM1", 0x1915, "THINGY91X_ABC", "1-1:1.2"),  # the kit's second port
        usb("/dev/ttyACM0", 0x1915, "THINGY91X_ABC", "1-1:1.0"),  # its AT port
        usb("/dev/ttyACM2", 0x1366, "001050912345", "1-2:1.0"),  # nRF9161 DK (J-Link)
        usb("/dev/ttyACM3", 0x1915, "001050012345", "1-3:1.0"),  # nRF5340 DK: no modem
        usb("/dev/ttyUSB0", 0x0403, "FT12345", "1-4:1.0"),  # not a Nordic kit
    ]
    boards = watch.usb_boards(lambda: listed)()
    assert boards == [
        Board("/dev/ttyACM0", "THINGY91X_ABC", "Thingy:91 X"),
        Board("/dev/ttyACM2", "001050912345", "nRF9161 DK"),
    ]
    assert boards[0].key == ("/dev/ttyACM0", "THINGY91X_ABC")


def test_usb_boards_follow_the_plugging() -> None:
    listed: list[SimpleNamespace] = []
    source = watch.usb_boards(lambda: listed)
    assert source() == []
    listed.append(usb("/dev/ttyACM0", 0x1915, "0010513999", "1-1:1.0"))
    assert [b.port for b in source()] == ["/dev/ttyACM0"]


def test_ports_from_file_is_read_at_every_poll(tmp_path: Path) -> None:
    listing = tmp_path / "ports.txt"
    source = watch.ports_from_file(listing)
    assert source() == []  # no file yet: no board
    listing.write_text("# station 3\n/dev/pts/7\n\n  /dev/pts/9  # left\n/dev/pts/7\n")
    assert source() == [Board("/dev/pts/7"), Board("/dev/pts/9")]
    listing.write_text("/dev/pts/9\n")
    assert source() == [Board("/dev/pts/9")]


def test_ports_from_file_refuses_a_huge_or_unreadable_file(tmp_path: Path) -> None:
    listing = tmp_path / "ports.txt"
    listing.write_bytes(b"x" * (watch.PORT_LIST_LIMIT + 1))
    with pytest.raises(BadInputError, match="larger than"):
        watch.ports_from_file(listing)()
    with pytest.raises(BadInputError, match="cannot read the port list"):
        watch.ports_from_file(tmp_path)()  # a directory


def test_port_glob_and_fixed_boards(tmp_path: Path) -> None:
    source = watch.port_glob(str(tmp_path / "board*"))
    assert source() == []
    (tmp_path / "board2").touch()
    (tmp_path / "board1").touch()
    (tmp_path / "other").touch()
    assert [b.port for b in source()] == [str(tmp_path / "board1"), str(tmp_path / "board2")]
    assert watch.fixed_boards(["a", "b", "a"])() == [Board("a"), Board("b")]
