"""AT+CMEE handling: enable, confirm by reading back, tolerate devices that refuse, restore.

Each test opens a real pty to a fake modem that keeps a CMEE setting and counts the
commands it received.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from xsudo.at import Modem
from xsudo.errors import DeviceReset

from .fakedevice import FakeDevice, Step

READ, SET1, SET0 = b"AT+CMEE?", b"AT+CMEE=1", b"AT+CMEE=0"


@dataclass
class CmeeModem:
    """A device's CMEE behaviour: ``read`` is ``"ok"``, ``"error"`` or ``"no-line"``;
    ``refuse_set`` answers ERROR to ``AT+CMEE=<n>``; ``sticks`` false keeps the setting
    whatever was set (OK all the same)."""

    setting: int = 0
    read: str = "ok"
    refuse_set: bool = False
    sticks: bool = True
    seen: list[bytes] = field(default_factory=list)

    def __call__(self, line: bytes) -> Sequence[bytes]:
        self.seen.append(line)
        if line == READ:
            return {
                "ok": (b"+CMEE: %d\r\nOK\r\n" % self.setting,),
                "error": (b"ERROR\r\n",),
                "no-line": (b"OK\r\n",),
            }[self.read]
        if line in (SET0, SET1):
            if self.refuse_set:
                return (b"ERROR\r\n",)
            if self.sticks:
                self.setting = int(line[-1:])
            return (b"OK\r\n",)
        if line == b"AT+CFUN?":
            return (b"+CFUN: 4\r\nOK\r\n",)
        return (b"ERROR\r\n",)


@contextmanager
def opened(behaviour: CmeeModem, *steps: Step, sync: bool = False) -> Iterator[Modem]:
    """``Modem.open`` over a pty to ``behaviour``; closes the modem and the device."""
    with FakeDevice(steps, transport="pty", responder=behaviour) as device:
        modem = Modem.open(device.url, timeout=3, sync=sync)
        try:
            yield modem
        finally:
            modem.close()
        assert device.problems == []


def test_normal_device_enables_confirms_and_restores() -> None:
    device = CmeeModem(setting=0)
    with opened(device) as modem:
        assert modem.numeric_errors
        assert device.seen == [READ, SET1, READ]
        modem.restore_numeric_errors()
        assert not modem.numeric_errors
        modem.restore_numeric_errors()  # once only
    assert device.seen == [READ, SET1, READ, SET0]
    assert device.setting == 0


def test_already_on_needs_one_command_and_nothing_on_close() -> None:
    device = CmeeModem(setting=1)
    with opened(device) as modem:
        assert modem.numeric_errors
    assert device.seen == [READ]


def test_device_refusing_cmee_1_still_opens() -> None:
    device = CmeeModem(setting=0, refuse_set=True)
    with opened(device) as modem:
        assert not modem.numeric_errors
        assert modem.cfun() == 4  # and works
    assert device.seen == [READ, SET1, b"AT+CFUN?"]  # no read-back, nothing to restore


def test_ok_that_did_not_take_effect_is_not_numeric() -> None:
    device = CmeeModem(setting=0, sticks=False)
    with opened(device) as modem:
        assert not modem.numeric_errors
    assert device.seen == [READ, SET1, READ]  # unchanged, so nothing to put back


@pytest.mark.parametrize("read", ["error", "no-line"])
def test_unreadable_setting_is_left_alone(read: str) -> None:
    device = CmeeModem(setting=0, read=read)
    with opened(device) as modem:
        assert not modem.numeric_errors
        assert modem.enable_numeric_errors() is None
    assert device.seen == [READ, READ]  # never set what could not be put back
    assert device.setting == 0


def test_read_back_failing_after_ok_is_not_numeric_but_restored() -> None:
    device = CmeeModem(setting=0)
    steps = (
        Step(READ, [b"+CMEE: 0\r\nOK\r\n"]),
        Step(SET1, [b"OK\r\n"]),
        Step(READ, [b"ERROR\r\n"]),
    )
    with FakeDevice(steps, transport="pty", responder=device) as fake:
        modem = Modem.open(fake.url, timeout=3, sync=False)
        assert not modem.numeric_errors
        modem.close()
        assert fake.received == [READ, SET1, READ, SET0]  # the OK may have changed it


def test_open_with_sync_probe_and_refusing_device() -> None:
    device = CmeeModem(setting=0, refuse_set=True)
    with opened(device, sync=True) as modem:
        assert not modem.numeric_errors
    assert device.seen[-2:] == [READ, SET1]
    assert SET0 not in device.seen


def test_not_asked_sends_nothing() -> None:
    device = CmeeModem(setting=0)
    with FakeDevice((), transport="pty", responder=device) as fake:
        modem = Modem.open(fake.url, timeout=3, sync=False, numeric_errors=False)
        assert not modem.numeric_errors
        modem.close()
    assert device.seen == []


def test_a_reset_turns_numeric_errors_off() -> None:
    device = CmeeModem(setting=0)
    banner = Step(b"AT+CFUN?", [b"*** Booting nRF Connect SDK v2.6.0 ***\r\n"])
    with opened(device, banner) as modem:
        assert modem.numeric_errors
        with pytest.raises(DeviceReset):
            modem.cfun()
        assert not modem.numeric_errors
        device.setting = 0  # what the reboot did
        modem.enable_numeric_errors()
        assert modem.numeric_errors
