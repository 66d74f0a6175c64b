"""The fault matrix, over real pyserial ports (socket:// and a pty) to a scripted device."""

from __future__ import annotations

import re
import threading

import pytest

from xsudo.at import AtChannel, FramingOverflow, SignedCommandError
from xsudo.at import channel as channel_module
from xsudo.command import AtCommand
from xsudo.errors import (
    CmeError,
    CommandTextError,
    DeviceDisconnected,
    DeviceReset,
    DeviceTimeout,
)

from .conftest import DeviceFactory
from .fakedevice import Step, connect

CFUN = Step(b"AT+CFUN?", [b"+CFUN: 4\r\nOK\r\n"])
PEM = (
    b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nOK\nERROR\n+CME ERROR: 513\n"
    b"-----END CERTIFICATE-----\n"
)
SHA = b"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1"


def test_plain_exchange_sends_exact_bytes(make_device: DeviceFactory) -> None:
    device = make_device([CFUN])
    with connect(device) as channel:
        response = channel.command(AtCommand.read("+CFUN"))
    assert response.lines == [b"+CFUN: 4"]
    assert response.final == "OK"
    assert response.command == b"AT+CFUN?"
    assert bytes(device.raw) == b"AT+CFUN?\r\n"


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"])
def test_terminator_is_configurable(make_device: DeviceFactory, terminator: bytes) -> None:
    device = make_device([CFUN])
    with connect(device, terminator=terminator) as channel:
        channel.command(b"AT+CFUN?")
    assert bytes(device.raw) == b"AT+CFUN?" + terminator


def test_echo_is_dropped(make_device: DeviceFactory) -> None:
    pem_cmd = b'AT%CMNG=0,12,0,"' + PEM + b'"'
    device = make_device([CFUN, Step(pem_cmd, [b"OK\r\n"])], echo=True)
    with connect(device) as channel:
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]
        response = channel.command(pem_cmd)
    assert response.lines == []
    assert response.ok
    assert device.received == [b"AT+CFUN?", pem_cmd]


@pytest.mark.parametrize(
    "reply",
    [
        b"+CFUN: 4\rOK\r",
        b"+CFUN: 4\nOK\n",
        b"\r\n+CFUN: 4\r\n\r\nOK\r\n",
        b"\n\r+CFUN: 4\n\r\n\rOK\n\r",
        b"\r\n\r\n+CFUN: 4\r\n\r\n\r\n\r\nOK\r\n",
    ],
)
def test_line_endings_and_blank_lines(make_device: DeviceFactory, reply: bytes) -> None:
    device = make_device([Step(b"AT+CFUN?", [reply]), Step(b"AT", [b"OK\r\n"])])
    with connect(device) as channel:
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]
        assert channel.command(b"AT").lines == []
        assert channel.strays() == []


def test_urcs_before_among_and_after_are_kept(make_device: DeviceFactory) -> None:
    device = make_device(
        [
            Step(
                b"AT%CMNG=1",
                [
                    b'+CEREG: 2,"1A2B"\r\n',
                    b'%CMNG: 1,0,"' + SHA + b'"\r\n',
                    b"+CGEV: ME BATTERY LOW\r\n%CMNG: 2,0\r\n",
                    b"OK\r\n+CSCON: 0\r\n",
                ],
            ),
            Step(b"AT+CEREG?", [b'+CEREG: 5,"1A2B"\r\nOK\r\n%MDMEV: PRIO\r\n']),
            Step(b"AT", [b"OK\r\n"]),
        ]
    )
    with connect(device) as channel:
        device.inject(b"%CESQ: 54,2,16,2\r\n")
        listed = channel.command(b"AT%CMNG=1")
        assert listed.lines == [b'%CMNG: 1,0,"' + SHA + b'"', b"%CMNG: 2,0"]
        assert b"+CGEV: ME BATTERY LOW" in listed.urcs
        # The command's own prefix is its response, not a URC.
        assert channel.command(b"AT+CEREG?").lines == [b'+CEREG: 5,"1A2B"']
        channel.command(b"AT")
        urcs = channel.urcs()
    assert urcs == [
        b"%CESQ: 54,2,16,2",
        b'+CEREG: 2,"1A2B"',
        b"+CGEV: ME BATTERY LOW",
        b"+CSCON: 0",
        b"%MDMEV: PRIO",
    ]


def test_garbage_non_utf8_and_log_lines_are_kept_aside(make_device: DeviceFactory) -> None:
    reply = (
        b"\xff\xfe\x80noise\x01\r\n"
        b"[00:00:01.234,000] <inf> at_host: command received\r\n"
        b"\x00\x00+CFUN: 4\r\n"
        b"<wrn> modem: \xc3\xa9t\xc3\xa9\r\n"
        b"OK\r\n"
    )
    device = make_device([Step(b"AT+CFUN?", [reply])])
    with connect(device) as channel:
        response = channel.command(b"AT+CFUN?")
        assert response.lines == [b"+CFUN: 4"]
        assert channel.logs() == [
            b"[00:00:01.234,000] <inf> at_host: command received",
            b"<wrn> modem: \xc3\xa9t\xc3\xa9",
        ]
        assert channel.strays() == [b"noise\x01"]


def test_response_split_at_every_byte(make_device: DeviceFactory) -> None:
    reply = b'\r\n%CMNG: 12,0,"' + SHA + b'","' + PEM + b'"\r\n+CEREG: 1\r\nOK\r\n'
    device = make_device([Step(b"AT%CMNG=2,12,0", [bytes([b]) for b in reply])])
    with connect(device) as channel:
        response = channel.command(b"AT%CMNG=2,12,0")
        assert response.lines == [b'%CMNG: 12,0,"' + SHA + b'","' + PEM + b'"']
        assert channel.urcs() == [b"+CEREG: 1"]


def test_quoted_ok_line_inside_content_is_not_a_result(make_device: DeviceFactory) -> None:
    # The reply is cut right after the inner "OK" line: a channel that is not quote-aware
    # would return there with a truncated response.
    head = b'%CMNG: 12,0,"' + SHA + b'","-----BEGIN CERTIFICATE-----\nMIIB\nOK\n'
    tail = b'-----END CERTIFICATE-----\n"\r\nOK\r\n'
    device = make_device([Step(b"AT%CMNG=2,12,0", [head, tail])])
    with connect(device) as channel:
        line = channel.command(b"AT%CMNG=2,12,0").lines[0]
    assert line.endswith(b'-----END CERTIFICATE-----\n"')


def test_timeout_when_no_final_result(make_device: DeviceFactory) -> None:
    device = make_device([Step(b"AT+CFUN?", [b"+CFUN: 4\r\n"])])
    with connect(device, timeout=0.3) as channel, pytest.raises(DeviceTimeout):
        channel.command(b"AT+CFUN?")


def test_late_response_is_not_taken_for_the_next_command(make_device: DeviceFactory) -> None:
    # The device answers AT+CGMR only when the next line arrives (the sync probe).
    device = make_device([Step(b"AT+CGMR", [b"mfw_nrf9160_1.3.5\r\nOK\r\n"], defer=True), CFUN])
    with connect(device, timeout=0.3) as channel:
        with pytest.raises(DeviceTimeout):
            channel.command(b"AT+CGMR")
        response = channel.command(b"AT+CFUN?", timeout=3)
        assert response.lines == [b"+CFUN: 4"]
        assert b"mfw_nrf9160_1.3.5" in channel.strays()
    assert device.received == [b"AT+CGMR", b"AT+CMEE?", b"AT+CFUN?"]


def test_late_response_arriving_while_idle(make_device: DeviceFactory) -> None:
    release = threading.Event()
    device = make_device(
        [Step(b"AT%XMODEMUUID", [b"%XMODEMUUID: 1\r\nOK\r\n"], wait=release), CFUN]
    )
    with connect(device, timeout=0.3) as channel:
        with pytest.raises(DeviceTimeout):
            channel.command(b"AT%XMODEMUUID")
        release.set()
        assert channel.command(b"AT+CFUN?", timeout=3).lines == [b"+CFUN: 4"]


def test_lost_sync_probe_is_repeated(
    make_device: DeviceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_module, "PROBE_INTERVAL", 0.2)
    uuid = Step(b"AT%XMODEMUUID", [b"%XMODEMUUID: 1\r\nOK\r\n"])
    device = make_device(
        [
            Step(b"AT+CGMR", [b"mfw\r\nOK\r\n"], defer=True),
            Step(b"AT+CMEE?", []),  # dropped, as at_host drops input while busy
            Step(b"AT+CFUN?", [b"+CFUN: 4\r\nOK\r\n"]),
            uuid,
        ]
    )
    with connect(device, timeout=0.3) as channel:
        with pytest.raises(DeviceTimeout):
            channel.command(b"AT+CGMR")
        assert channel.command(b"AT%XMODEMUUID", timeout=3).lines == [b"%XMODEMUUID: 1"]
    # The second probe differs from the first, so a late answer to one is not the other's.
    assert device.received == [b"AT+CGMR", b"AT+CMEE?", b"AT+CFUN?", b"AT%XMODEMUUID"]


def test_probe_avoids_the_stale_commands_own_prefix(make_device: DeviceFactory) -> None:
    device = make_device([Step(b"AT+CMEE?", [b"+CMEE: 0\r\nOK\r\n"], defer=True)])
    device.script.append(Step(b"AT+CFUN?", [b"+CFUN: 4\r\nOK\r\n"]))
    device.script.append(Step(b"AT+CMEE=1", [b"OK\r\n"]))
    with connect(device, timeout=0.3) as channel:
        with pytest.raises(DeviceTimeout):
            channel.command(b"AT+CMEE?")
        assert channel.command(b"AT+CMEE=1", timeout=3).ok
    assert device.received == [b"AT+CMEE?", b"AT+CFUN?", b"AT+CMEE=1"]


@pytest.mark.parametrize(
    "banner",
    [b"*** Booting nRF Connect SDK v2.6.0 ***\r\n", b"Ready\r\n", b"#XBOOT: 0\r\n"],
)
def test_reset_banner_mid_command(make_device: DeviceFactory, banner: bytes) -> None:
    device = make_device([Step(b"AT+CFUN=4", [banner, b"+CEREG: 0\r\n"]), CFUN])
    with connect(device) as channel:
        with pytest.raises(DeviceReset):
            channel.command(b"AT+CFUN=4")
        # Back in step after a sync probe; the same boot is not reported twice.
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]
        assert channel.logs()[0] == banner.strip()
    assert device.received == [b"AT+CFUN=4", b"AT+CMEE?", b"AT+CFUN?"]


def test_reset_between_commands_is_reported_once(make_device: DeviceFactory) -> None:
    boot = b"*** Booting nRF Connect SDK v2.6.0 ***\r\nReady\r\n"
    device = make_device([Step(b"AT+CFUN=4", [b"OK\r\n" + boot]), CFUN])
    with connect(device) as channel:
        channel.command(b"AT+CFUN=4")
        with pytest.raises(DeviceReset):
            channel.command(b"AT+CFUN?")
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]


def test_port_that_disappears_mid_response(make_device: DeviceFactory) -> None:
    device = make_device([Step(b"AT+CFUN?", [b"+CFUN:"], drop=True)])
    with connect(device) as channel:
        with pytest.raises(DeviceDisconnected):
            channel.command(b"AT+CFUN?")
        with pytest.raises(DeviceDisconnected):
            channel.command(b"AT+CFUN?")


def test_port_that_disappears_before_the_command(make_device: DeviceFactory) -> None:
    device = make_device()
    with connect(device) as channel:
        device.drop()
        with pytest.raises(DeviceDisconnected):
            channel.command(b"AT+CFUN?")


def test_unterminated_line_is_bounded(make_device: DeviceFactory) -> None:
    device = make_device([Step(b"AT+CGMR", [b"x" * 9000]), CFUN])
    with connect(device) as channel:
        with pytest.raises(FramingOverflow):
            channel.command(b"AT+CGMR")
        device.inject(b"\r\n")
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]


def test_endless_response_is_bounded(make_device: DeviceFactory) -> None:
    flood = [b"%CMNG: 1,0\r\n" * 1000] * 7  # 84 kB of lines, no final result
    device = make_device([Step(b"AT%CMNG=1", flood)])
    with connect(device) as channel, pytest.raises(FramingOverflow):
        channel.command(b"AT%CMNG=1")


@pytest.mark.parametrize(
    "bad",
    [
        "AT+CFUN?é",
        b"AT+CFUN?\x00",
        b"AT+CFUN?\r\n",
        b'AT%CMNG=0,1,0,"abc',
        b"+CFUN?",
        b'AT%CMNG=0,1,0,"' + b"A" * 4090 + b'"',
        "AT%CMNG=0,1,0,\u201cabc\u201d",
    ],
)
def test_invalid_commands_never_reach_the_device(make_device: DeviceFactory, bad: object) -> None:
    device = make_device([Step(b"AT", [b"OK\r\n"])])
    with connect(device) as channel:
        with pytest.raises(CommandTextError):
            channel.command(bad)  # type: ignore[arg-type]
        with pytest.raises(CommandTextError):
            channel.command(AtCommand.set("%CMNG", 0, 1, 0, 'has a " quote'))
        channel.command(b"AT")
    assert bytes(device.raw) == b"AT\r\n"


def test_cme_errors_are_decoded_for_the_command(make_device: DeviceFactory) -> None:
    device = make_device(
        [
            Step(b"AT%CMNG=2,1,0", [b"+CME ERROR: 513\r\n"]),
            Step(b"AT%CMNG=2,1,0", [b"+CME ERROR: 513\r\n"]),
            Step(b"AT+CGSN", [b"ERROR\r\n"]),
        ]
    )
    with connect(device) as channel:
        with pytest.raises(CmeError) as caught:
            channel.command(AtCommand.set("%CMNG", 2, 1, 0))
        assert (caught.value.command, caught.value.code, caught.value.kind) == ("%CMNG", 513, "CME")
        unchecked = channel.command(b"AT%CMNG=2,1,0", check=False)
        assert unchecked.final == "+CME ERROR: 513"
        assert not unchecked.ok
        with pytest.raises(CmeError) as plain:
            channel.command(b"AT+CGSN")
        assert (plain.value.command, plain.value.kind, plain.value.code) == ("+CGSN", "ERROR", 0)


def test_signed_line_is_sent_exactly_and_errors_decoded(make_device: DeviceFactory) -> None:
    line = b'AT%XSUDO=31,"MEUCIQD+/abc=",3;%CMNG=0,16842753,0,"' + PEM + b'"'
    device = make_device(
        [Step(line, [b"+CME ERROR: 520\r\n"]), Step(line, [b"+CME ERROR: 527\r\n"])]
    )
    with connect(device) as channel:
        with pytest.raises(SignedCommandError) as auth:
            channel.command(line)
        assert (auth.value.command, auth.value.inner_command, auth.value.code) == (
            "%XSUDO",
            "%CMNG",
            520,
        )
        with pytest.raises(SignedCommandError) as content:
            channel.command(line)
        assert (content.value.command, content.value.code) == ("%CMNG", 527)
    assert bytes(device.raw) == (line + b"\r\n") * 2


def test_one_command_in_flight(make_device: DeviceFactory) -> None:
    release = threading.Event()
    device = make_device(
        [
            Step(b"AT+CFUN?", [b"+CFUN: 4\r\nOK\r\n"], wait=release),
            Step(b"AT+CGMR", [b"mfw\r\nOK\r\n"]),
        ]
    )
    results: dict[str, list[bytes]] = {}
    with connect(device) as channel:
        first = threading.Thread(
            target=lambda: results.update(a=channel.command(b"AT+CFUN?").lines)
        )
        first.start()
        assert device.seen(b"AT+CFUN?").wait(5)
        second = threading.Thread(
            target=lambda: results.update(b=channel.command(b"AT+CGMR").lines)
        )
        second.start()
        # While the first command is unanswered the second must not be written.
        assert not device.seen(b"AT+CGMR").wait(0.3)
        release.set()
        first.join(5)
        second.join(5)
    assert results == {"a": [b"+CFUN: 4"], "b": [b"mfw"]}
    assert device.received == [b"AT+CFUN?", b"AT+CGMR"]


def test_open_syncs_first(make_device: DeviceFactory) -> None:
    device = make_device([Step(b"AT+CMEE?", [b"OK\r\n+CMEE: 0\r\nOK\r\n"]), CFUN])
    with AtChannel.open(device.url, timeout=3) as channel:
        assert channel.command(b"AT+CFUN?").lines == [b"+CFUN: 4"]
    assert device.received == [b"AT+CMEE?", b"AT+CFUN?"]


def test_closed_channel_refuses(make_device: DeviceFactory) -> None:
    device = make_device()
    channel = connect(device)
    channel.close()
    with pytest.raises(DeviceDisconnected):
        channel.command(b"AT")
    assert device.raw == b""


def test_no_unscripted_traffic(make_device: DeviceFactory) -> None:
    device = make_device([CFUN, Step(re.compile(rb"AT%CMNG=1(,\d+)?"), [b"OK\r\n"])])
    with connect(device) as channel:
        channel.command(b"AT+CFUN?")
        channel.command(b"AT%CMNG=1,7")
    assert device.unscripted == []
    assert device.problems == []
