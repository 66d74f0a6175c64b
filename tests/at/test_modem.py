"""Modem's typed operations: exact command bytes out, parsed values back (scripted device)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xsudo.at import CredentialEntry, Modem, ModemIdentity, commands, family_of
from xsudo.at.parse import ResponseFormatError
from xsudo.errors import BadInputError, CmeError, CommandTextError

from .fakedevice import FakeDevice, Step, connect

SHA = "2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\nOK\n-----END CERTIFICATE-----\n"


@pytest.fixture
def device() -> Iterator[FakeDevice]:
    with FakeDevice(transport="pty", responder=None) as fake:
        yield fake


def modem_for(device: FakeDevice, *steps: Step) -> Modem:
    device.script.extend(steps)
    return Modem(connect(device))


def test_identity_full(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(b"AT+CGMR", [b"mfw_nrf91x1_2.0.2\r\nOK\r\n"]),
        Step(b"AT%HWVERSION", [b"%HWVERSION: nRF9161 LACA A0A\r\nOK\r\n"]),
        Step(b"AT+CGSN", [b"352656100367872\r\nOK\r\n"]),
        Step(b"AT%XMODEMUUID", [b"%XMODEMUUID: 25c95751-efa4-40d4-8b4a-1dcaab81fac9\r\nOK\r\n"]),
    )
    assert modem.identity() == ModemIdentity(
        imei="352656100367872",
        model="nRF9161 LACA A0A",
        mfw="mfw_nrf91x1_2.0.2",
        family="nrf91x1",
        uuid="25c95751-efa4-40d4-8b4a-1dcaab81fac9",
    )
    assert device.problems == []


def test_identity_falls_back_and_tolerates_missing_items(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(b"AT+CGMR", [b"mfw_nrf9160_1.3.5\r\nOK\r\n"]),
        Step(b"AT%HWVERSION", [b"ERROR\r\n"]),
        Step(b"AT+CGMM", [b"nRF9160-SICA\r\nOK\r\n"]),
        Step(b"AT+CGSN", [b"ERROR\r\n"]),
        Step(b"AT%XMODEMUUID", [b"+CME ERROR: 50\r\n"]),
    )
    identity = modem.identity()
    assert identity == ModemIdentity(None, "nRF9160-SICA", "mfw_nrf9160_1.3.5", "nrf9160", None)


def test_imei_alone_is_one_command(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(b"AT+CGSN", [b'+CGSN: "352656100367872"\r\nOK\r\n']),
        Step(b"AT+CGSN", [b"ERROR\r\n"]),
        Step(b"AT+CGSN", [b"35265610036787X\r\nOK\r\n"]),
    )
    assert modem.imei() == "352656100367872"
    assert modem.imei() is None  # PTI firmware: no IMEI
    with pytest.raises(ResponseFormatError):
        modem.imei()
    assert device.received == [b"AT+CGSN"] * 3


@pytest.mark.parametrize(
    ("mfw", "model", "family"),
    [
        ("mfw_nrf9160_1.3.5", None, "nrf9160"),
        ("mfw_nrf91x1_2.0.2", None, "nrf91x1"),
        ("mfw_nrf9151-ntn_1.0.0-1.alpha", None, "nrf91x1"),
        ("mfw-pti_nrf91x1_2.3.3", None, "nrf91x1"),
        ("custom", "nRF9161 LACA A0A", "nrf91x1"),
        ("custom", None, "unknown"),
    ],
)
def test_family(mfw: str, model: str | None, family: str) -> None:
    assert family_of(mfw, model) == family


def test_cfun(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(b"AT+CFUN?", [b"+CFUN: 1\r\nOK\r\n"]),
        Step(b"AT+CFUN=4", [b"OK\r\n"]),
    )
    assert modem.cfun() == 1
    modem.set_cfun(4)
    assert device.received == [b"AT+CFUN?", b"AT+CFUN=4"]


def test_cmng_list_forms(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(
            b"AT%CMNG=1",
            [
                b'%CMNG: 12,0,"' + SHA.lower().encode() + b'"\r\n'
                b'%CMNG: 12, 2, "' + SHA.encode() + b'"\r\n'
                b"%CMNG: 4294967292,11\r\nOK\r\n"
            ],
        ),
        Step(b"AT%CMNG=1,12", [b"OK\r\n"]),
        Step(b"AT%CMNG=1,12,0", [b"OK\r\n"]),
    )
    entries = modem.cmng_list()
    assert entries == [
        CredentialEntry(12, 0, SHA),
        CredentialEntry(12, 2, SHA),
        CredentialEntry(4294967292, 11, None),
    ]
    assert [e.reserved for e in entries] == [False, False, True]
    assert modem.cmng_list(12) == []
    assert modem.cmng_list(12, 0) == []


def test_cmng_write_sends_the_content_exactly(device: FakeDevice) -> None:
    expected = b'AT%CMNG=0,16842753,2,"' + PEM + b'","pass,word"'
    modem = modem_for(device, Step(expected, [b"OK\r\n"]))
    modem.command(commands.cmng_write(16842753, 2, PEM, "pass,word"))
    assert bytes(device.raw) == expected + b"\r\n"


def test_cmng_read_and_delete(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(b"AT%CMNG=2,12,0", [b'%CMNG: 12,0,"' + SHA.encode() + b'","' + PEM + b'"\r\nOK\r\n']),
        Step(b"AT%CMNG=2,12,1", [b"+CME ERROR: 514\r\n"]),
        Step(b"AT%CMNG=3,12,0", [b"OK\r\n"]),
        Step(b"AT%CMNG=2,12,0", [b"OK\r\n"]),
    )
    read = modem.cmng_read(12, 0)
    assert (read.tag, read.type, read.sha, read.content) == (12, 0, SHA, PEM)
    with pytest.raises(CmeError) as caught:
        modem.cmng_read(12, 1)
    assert (caught.value.command, caught.value.code) == ("%CMNG", 514)
    modem.cmng_delete(12, 0)
    with pytest.raises(ResponseFormatError):
        modem.cmng_read(12, 0)


def test_xpmng(device: FakeDevice) -> None:
    pub = b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
    modem = modem_for(
        device,
        Step(b'AT%XPMNG=0,"' + pub + b'",3', [b"OK\r\n"]),
        Step(b'AT%XPMNG=0,"' + pub + b'"', [b"+CME ERROR: 520\r\n"]),
        Step(b"AT%XPMNG=2,,3", [b'%XPMNG: "' + pub + b'"\r\nOK\r\n']),
        Step(b"AT%XPMNG=2", [b"+CME ERROR: 513\r\n"]),
    )
    modem.xpmng_write(pub, 3)
    with pytest.raises(CmeError) as caught:
        modem.xpmng_write(pub)
    assert (caught.value.command, caught.value.code) == ("%XPMNG", 520)
    assert modem.xpmng_read(3) == pub
    assert modem.xpmng_read() is None


def test_numeric_errors_enabled_and_restored(device: FakeDevice) -> None:
    modem = modem_for(
        device,
        Step(b"AT+CMEE?", [b"+CMEE: 0\r\nOK\r\n"]),
        Step(b"AT+CMEE=1", [b"OK\r\n"]),
        Step(b"AT+CMEE?", [b"+CMEE: 1\r\nOK\r\n"]),  # the read-back
        Step(b"AT+CMEE?", [b"+CMEE: 1\r\nOK\r\n"]),
        Step(b"AT+CMEE=0", [b"OK\r\n"]),
    )
    assert modem.enable_numeric_errors() == 0
    assert modem.numeric_errors
    assert modem.enable_numeric_errors() == 1
    modem.close()
    assert device.received == [
        b"AT+CMEE?",
        b"AT+CMEE=1",
        b"AT+CMEE?",
        b"AT+CMEE?",
        b"AT+CMEE=0",
    ]
    assert modem.channel.closed
    assert device.problems == []


def test_send_line_is_exact(device: FakeDevice) -> None:
    line = b'AT%XSUDO=16,"MEUCIQ+/=",1;%CMNG=3,16842753,0'
    modem = modem_for(device, Step(line, [b"+CME ERROR: 513\r\n"]))
    with pytest.raises(CmeError) as caught:
        modem.send_line(line, name_for_errors="%CMNG")
    assert (caught.value.command, caught.value.code) == ("%CMNG", 513)
    assert bytes(device.raw) == line + b"\r\n"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.cmng_list(type=0), BadInputError),
        (lambda m: m.command(commands.cmng_write(-1, 0, PEM)), BadInputError),
        (lambda m: m.command(commands.cmng_write(1, 14, PEM)), BadInputError),
        (lambda m: m.command(commands.cmng_write(1, 0, b"")), BadInputError),
        (lambda m: m.command(commands.cmng_write(1, 0, b'has "quote"')), CommandTextError),
        (lambda m: m.command(commands.cmng_write(1, 0, "caf\u00e9".encode())), CommandTextError),
        (lambda m: m.command(commands.cmng_write(1, 0, b"A" * 4090)), CommandTextError),
        (lambda m: m.xpmng_write(PEM, 10), CommandTextError),
        (lambda m: m.set_cfun(True), BadInputError),
    ],
)
def test_bad_arguments_send_nothing(device: FakeDevice, call: object, error: type) -> None:
    modem = modem_for(device, Step(b"AT", [b"OK\r\n"]))
    with pytest.raises(error):
        call(modem)  # type: ignore[operator]
    modem.channel.command(b"AT")  # anything written before this would arrive first
    assert bytes(device.raw) == b"AT\r\n"
