"""Hostile replies through real pyserial ports: huge numbers, path-like identity, control
characters and markup. Each gives a typed DeviceError (exit 3), never a ValueError."""

from __future__ import annotations

import pytest

from xsudo.at import AtChannel, Modem
from xsudo.at.parse import IdentityError, ResponseFormatError
from xsudo.errors import DeviceError

from .conftest import DeviceFactory
from .fakedevice import FakeDevice, Step, connect

SHA = b"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"
CFUN = Step(b"AT+CFUN?", [b"+CFUN: 4\r\nOK\r\n"])
IMEI = b"352656100367872"
UUID = b"25c95751-efa4-40d4-8b4a-1dcaab81fac9"


def scripted(make_device: DeviceFactory, *steps: Step) -> FakeDevice:
    return make_device(list(steps), responder=None)


def assert_one_clean_line(error: DeviceError) -> str:
    """The message is one short line of printable ASCII (device bytes escaped, cut)."""
    text = str(error)
    assert error.exit_code == 3
    assert text.isascii() and text.isprintable(), text
    assert len(text) < 400, text
    return text


def identity_steps(
    *,
    mfw: bytes = b"mfw_nrf91x1_2.0.2",
    hwversion: bytes = b"%HWVERSION: nRF9161 LACA A0A",
    imei: bytes = IMEI,
    uuid: bytes = b"%XMODEMUUID: " + UUID,
) -> list[Step]:
    return [
        Step(b"AT+CGMR", [mfw + b"\r\nOK\r\n"]),
        Step(b"AT%HWVERSION", [hwversion + b"\r\nOK\r\n"]),
        Step(b"AT+CGSN", [imei + b"\r\nOK\r\n"]),
        Step(b"AT%XMODEMUUID", [uuid + b"\r\nOK\r\n"]),
    ]


# -- final result codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "final",
    [
        b"+CME ERROR: " + b"0" * 5000,
        b"+CMS ERROR: " + b"9" * 5000,
        b"+CME ERROR: 123456",
        b"+CME ERROR: -1",
        b"+CME ERROR:",
        b"+CME ERROR: invalid content",
        b'+CME ERROR: "\x1b]0;owned\x07"',
    ],
)
@pytest.mark.parametrize("check", [True, False])
def test_malformed_error_code_ends_the_exchange_as_a_format_error(
    make_device: DeviceFactory, final: bytes, check: bool
) -> None:
    device = scripted(make_device, Step(b"AT+CFUN?", [final + b"\r\n"]), CFUN)
    with connect(device) as channel:
        with pytest.raises(ResponseFormatError) as caught:
            channel.command(b"AT+CFUN?", check=check)
        # the malformed final ended the exchange: the next command gets its own answer
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]
    text = assert_one_clean_line(caught.value)
    assert "malformed error code" in text and "+CFUN" in text
    assert device.problems == []


def test_five_digit_codes_are_still_modem_errors(make_device: DeviceFactory) -> None:
    from xsudo.errors import CmeError

    device = scripted(make_device, Step(b"AT+CFUN?", [b"+CME ERROR: 00513\r\n"]))
    with connect(device) as channel, pytest.raises(CmeError) as caught:
        channel.command(b"AT+CFUN?")
    assert caught.value.code == 513


# -- numbers in information lines ---------------------------------------------------------


def test_cfun_with_a_5000_digit_number(make_device: DeviceFactory) -> None:
    device = scripted(make_device, Step(b"AT+CFUN?", [b"+CFUN: " + b"9" * 5000 + b"\r\nOK\r\n"]))
    with Modem(connect(device)) as modem, pytest.raises(ResponseFormatError) as caught:
        modem.cfun()
    text = assert_one_clean_line(caught.value)
    assert "unexpected number" in text and "5000 bytes" in text


def test_cmee_with_an_11_digit_number(make_device: DeviceFactory) -> None:
    device = scripted(make_device, Step(b"AT+CMEE?", [b"+CMEE: 99999999999\r\nOK\r\n"]))
    with Modem(connect(device)) as modem, pytest.raises(ResponseFormatError) as caught:
        modem.enable_numeric_errors()
    assert_one_clean_line(caught.value)
    assert not modem.numeric_errors


def test_open_fails_cleanly_on_a_huge_cmee() -> None:
    script = [Step(b"AT+CMEE?", [b"+CMEE: " + b"1" * 5000 + b"\r\nOK\r\n"])]
    with FakeDevice(script, transport="pty", responder=None) as device:
        with pytest.raises(ResponseFormatError) as caught:
            Modem.open(device.url, timeout=3, sync=False)
        assert_one_clean_line(caught.value)
        # Modem.open closed its port: it opens again (ports are opened exclusively)
        AtChannel.open(device.url, timeout=3, sync=False).close()


@pytest.mark.parametrize(
    "line",
    [
        b"%CMNG: " + b"1" * 5000 + b',0,"' + SHA + b'"',
        b"%CMNG: 12," + b"0" * 5000,
        b"%CMNG: 4294967296,0",
        b"%CMNG: +12,0",
        b"%CMNG: 1_000,0",
    ],
)
def test_cmng_list_with_bad_numbers(make_device: DeviceFactory, line: bytes) -> None:
    device = scripted(make_device, Step(b"AT%CMNG=1", [line + b"\r\nOK\r\n"]))
    with Modem(connect(device)) as modem, pytest.raises(ResponseFormatError) as caught:
        modem.cmng_list()
    assert_one_clean_line(caught.value)


def test_cmng_read_with_a_huge_tag(make_device: DeviceFactory) -> None:
    reply = b"%CMNG: " + b"7" * 5000 + b',0,"' + SHA + b'","x"\r\nOK\r\n'
    device = scripted(make_device, Step(b"AT%CMNG=2,12,0", [reply]))
    with Modem(connect(device)) as modem, pytest.raises(ResponseFormatError) as caught:
        modem.cmng_read(12, 0)
    assert_one_clean_line(caught.value)


# -- identity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "steps", "shown"),
    [
        ("imei", identity_steps(imei=b"../../../secret/hostkey"), "'../../../secret/hostkey'"),
        ("imei", identity_steps(imei=b"3526561003678720"), "'3526561003678720'"),
        ("imei", identity_steps(imei=b"35265610036787x"), "'35265610036787x'"),
        ("imei", identity_steps(imei=b'+CGSN: "../../etc/passwd"'), "'../../etc/passwd'"),
        ("imei", identity_steps(imei=b"9" * 5000), "... (5000 bytes)"),
        ("imei", identity_steps(imei=b'"3526561\x07\x1b]2;x\x0700367872"'), "\\x07\\x1b]2;x"),
        ("uuid", identity_steps(uuid=b"%XMODEMUUID: not-a-uuid"), "'not-a-uuid'"),
        ("uuid", identity_steps(uuid=b"%XMODEMUUID: " + UUID + b"0"), UUID.decode()),
        ("uuid", identity_steps(uuid=b"%XMODEMUUID: {" + UUID + b"}"), "{"),
        ("firmware", identity_steps(mfw=b"[bold red]x[/]"), "'[bold red]x[/]'"),
        ("firmware", identity_steps(mfw=b'"mfw\x1b]0;pwn\x07"'), "\\x1b]0;pwn\\x07"),
        ("firmware", identity_steps(mfw=b"mfw/../../x"), "'mfw/../../x'"),
        ("firmware", identity_steps(mfw=b"m" * 65), "'" + "m" * 60 + "'..."),
        (
            "model",
            identity_steps(hwversion=b'%HWVERSION: "nRF9161\x1b]0;title\x07"'),
            "\\x1b]0;title\\x07",
        ),
        ("model", identity_steps(hwversion=b"%HWVERSION: [link=file:///x]y"), "[link"),
        ("model", identity_steps(hwversion=b"%HWVERSION: nRF9161 \\ A0A"), "\\\\"),
    ],
)
def test_identity_refuses_values_out_of_shape(
    make_device: DeviceFactory, field: str, steps: list[Step], shown: str
) -> None:
    device = scripted(make_device, *steps)
    with Modem(connect(device)) as modem, pytest.raises(IdentityError) as caught:
        modem.identity()
    text = assert_one_clean_line(caught.value)
    assert caught.value.field == field
    assert shown in text
    assert "nRF91 modem" in text  # what to do next
    assert device.problems == []


def test_garbage_firmware_line_is_not_a_version(make_device: DeviceFactory) -> None:
    """An unquoted control character makes the line garbage: it is kept aside, so the
    firmware version is missing (still a DeviceError, exit 3)."""
    device = scripted(make_device, Step(b"AT+CGMR", [b"mfw\x1b]0;pwn\x07_1.0\r\nOK\r\n"]))
    with Modem(connect(device)) as modem, pytest.raises(ResponseFormatError) as caught:
        modem.identity()
    assert "no firmware version" in assert_one_clean_line(caught.value)


def test_garbage_model_line_falls_back_to_cgmm(make_device: DeviceFactory) -> None:
    device = scripted(
        make_device,
        Step(b"AT+CGMR", [b"mfw_nrf9160_1.3.5\r\nOK\r\n"]),
        Step(b"AT%HWVERSION", [b"%HWVERSION: nRF9160\x1b]0;title\x07\r\nOK\r\n"]),
        Step(b"AT+CGMM", [b"nRF9160-SICA\r\nOK\r\n"]),
        Step(b"AT+CGSN", [IMEI + b"\r\nOK\r\n"]),
        Step(b"AT%XMODEMUUID", [b"ERROR\r\n"]),
    )
    with Modem(connect(device)) as modem:
        identity = modem.identity()
        assert any(b"\x1b" in stray for stray in modem.channel.strays())
    assert identity.model == "nRF9160-SICA"


def test_identity_accepts_the_prefixed_imei_form_and_upper_case_uuid(
    make_device: DeviceFactory,
) -> None:
    steps = identity_steps(imei=b'+CGSN: "352656100367872"', uuid=b"%XMODEMUUID: " + UUID.upper())
    device = scripted(make_device, *steps)
    with Modem(connect(device)) as modem:
        identity = modem.identity()
    assert identity.imei == IMEI.decode()
    assert identity.uuid == UUID.decode()  # stored lower-case


@pytest.mark.parametrize(
    "mfw",
    [
        b"mfw_nrf9160_1.3.5",
        b"mfw_nrf91x1_2.0.2",
        b"mfw_nrf9151-ntn_1.0.0-1.alpha",
        b"mfw-pti_nrf91x1_2.3.3",
    ],
)
def test_real_firmware_versions_pass(make_device: DeviceFactory, mfw: bytes) -> None:
    device = scripted(make_device, *identity_steps(mfw=mfw))
    with Modem(connect(device)) as modem:
        assert modem.identity().mfw == mfw.decode()


def test_pti_firmware_without_imei(make_device: DeviceFactory) -> None:
    steps = identity_steps()
    steps[2] = Step(b"AT+CGSN", [b"ERROR\r\n"])
    device = scripted(make_device, *steps)
    with Modem(connect(device)) as modem:
        assert modem.identity().imei is None
